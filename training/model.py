"""mini-Xception (Arriaga, Ploeger, Valdenegro 2017) for 4-class mood estimation.

Layout as published: a stem of two 3x3 convolutions, four residual blocks (strided 1x1
convolution on the skip side; two depthwise-separable convolutions and a max pool on the other),
a final convolution with one channel per class, global average pooling and a softmax.
The input is a grayscale face crop with pixel values 0..255. The model standardises each image
itself (zero mean, unit contrast), so that training and serving cannot disagree on
normalisation, and so that it does not depend on a camera's exposure or contrast: FER2013's
PublicTest images have a pixel standard deviation of ~65 against ~53 in Training, and a model
fed raw 0..255 values collapsed to the majority class on them.
"""

from __future__ import annotations

from inference.labels import EMOTIONS, MOODS, emotion_to_mood_matrix

DEFAULT_INPUT_SIZE = 48
BASE_FILTERS = (16, 32, 64, 128)
STEM_FILTERS = 8


def _standardization_layer():
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="moodwatch")
    class PerImageStandardization(keras.layers.Layer):
        """(x - mean) / std per image; the floor keeps a flat image from dividing by ~0."""

        def call(self, x):
            mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
            std = ops.std(x, axis=(1, 2, 3), keepdims=True)
            return (x - mean) / ops.maximum(std, 1.0)

    return PerImageStandardization


def load_keras_model(path):
    """keras.models.load_model for our .keras files: registers the custom layers first (they are
    defined lazily, so that importing this module does not import Keras)."""
    import keras

    _standardization_layer()
    return keras.models.load_model(path)


def mood_network(model):
    """`model` with mood outputs: an emotion head's 7 probabilities summed into the 4 moods by a
    fixed (non-trainable) product with the emotion-to-mood matrix; a mood head is returned as is."""
    import keras

    if model.output_shape[-1] != len(EMOTIONS):
        return model
    inputs = keras.Input(model.input_shape[1:], name="face")
    to_moods = keras.layers.Dense(len(MOODS), use_bias=False, trainable=False, name="emotions_to_moods")
    outputs = to_moods(model(inputs))
    to_moods.set_weights([emotion_to_mood_matrix()])
    return keras.Model(inputs, outputs, name=f"{model.name}_moods")


def build_mini_xception(
    *,
    input_size: int = DEFAULT_INPUT_SIZE,
    num_classes: int = len(MOODS),
    width: float = 1.0,
    l2: float = 1e-4,
):
    import keras
    from keras import layers, regularizers

    reg = regularizers.l2(l2)

    def conv_bn_relu(x, filters, kernel, name):
        x = layers.Conv2D(filters, kernel, padding="same", use_bias=False,
                          kernel_regularizer=reg, name=f"{name}_conv")(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x)

    def sep_bn(x, filters, name):
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False,
                                   depthwise_regularizer=reg, pointwise_regularizer=reg,
                                   name=f"{name}_sep")(x)
        return layers.BatchNormalization(name=f"{name}_bn")(x)

    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = _standardization_layer()(name="standardize")(inputs)
    stem = max(4, round(STEM_FILTERS * width))
    x = conv_bn_relu(x, stem, 3, "stem1")
    x = conv_bn_relu(x, stem, 3, "stem2")
    for i, base in enumerate(BASE_FILTERS, start=1):
        filters = max(4, round(base * width))
        skip = layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False,
                             name=f"block{i}_skip_conv")(x)
        skip = layers.BatchNormalization(name=f"block{i}_skip_bn")(skip)
        x = sep_bn(x, filters, f"block{i}_a")
        x = layers.ReLU(name=f"block{i}_a_relu")(x)
        x = sep_bn(x, filters, f"block{i}_b")
        x = layers.ReLU(name=f"block{i}_b_relu")(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"block{i}_pool")(x)
        x = layers.Add(name=f"block{i}_add")([x, skip])
    x = layers.Conv2D(num_classes, 3, padding="same", kernel_regularizer=reg,
                      name="classifier_conv")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Softmax(name="mood")(x)
    return keras.Model(inputs, outputs, name="mini_xception")
