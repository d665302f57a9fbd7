"""Serving export: Keras model -> LiteRT flatbuffer (float32, with the rescaling baked in)."""

from __future__ import annotations

from pathlib import Path


def export_tflite(model, path: str | Path) -> Path:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    Path(path).write_bytes(converter.convert())
    return Path(path)
