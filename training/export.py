"""Serving export: Keras model -> LiteRT flatbuffer, float32 or int8-quantised."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def export_tflite(model, path: str | Path, *, representative: np.ndarray | None = None) -> Path:
    """Write `model` as a .tflite file. With `representative` (face crops, (n, h, w, 1) uint8 or
    float), weights and activations are quantised to int8 (post-training, full integer), calibrated
    on those images; input and output stay float32, so callers do not change."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if representative is not None:
        images = np.asarray(representative, dtype="float32")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image[None]] for image in images)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    Path(path).write_bytes(converter.convert())
    return Path(path)


def write_fixed_batch_copy(source: str | Path, path: str | Path) -> Path:
    """Write a copy of the .tflite file `source` whose batch dimension is fixed at 1.

    The browser runs the classifier with LiteRT.js, which refuses a dynamic batch dimension (the
    converter writes the batch as -1 in every tensor's `shape_signature`). Clearing the signatures
    leaves each tensor's static shape, batch 1, and touches no weight or operator: the copy is the
    same network from the same weights, so its outputs equal the served model's
    (tests/training/test_browser_model.py holds them to 1e-5 on real face crops).
    """
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(Path(source).read_bytes()))
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            tensor.shapeSignature = None
    Path(path).write_bytes(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))
    return Path(path)
