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
