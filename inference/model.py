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

from .labels import MOODS

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


def gaussian_taps(sigma: float):
    import numpy as np

    radius = max(1, int(round(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return (taps / taps.sum()).astype("float32")


def blur_matrix(size: int, sigma: float):
    """K (size x size) such that K @ row is the row blurred, reflect-101 border folded in.

    The same result as OpenCV's GaussianBlur(..., borderType=BORDER_REFLECT_101) with these taps.
    """
    import numpy as np

    taps = gaussian_taps(sigma)
    radius = len(taps) // 2
    matrix = np.zeros((size, size), dtype="float64")
    for i in range(size):
        for offset, weight in zip(range(-radius, radius + 1), taps):
            j = i + offset
            while not 0 <= j < size:  # reflect-101, repeated for kernels wider than the image
                j = -j if j < 0 else 2 * (size - 1) - j
            matrix[i, j] += weight
    return matrix.astype("float32")


def _blur_layer():
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="moodwatch")
    class InputBlur(keras.layers.Layer):
        """Fixed Gaussian blur of the input face (a constant, not a weight).

        This edition of FER2013 ships its Training images heavily blurred (mean |Laplacian| /
        std 0.05) and its test images sharp (0.55); a phone's face crops are sharp too. Blurring
        every served face to the training images' sharpness puts them back in the training
        distribution. sigma is in pixels of the model input and is chosen on PublicTest.
        """

        def __init__(self, sigma: float, **kwargs):
            super().__init__(**kwargs)
            self.sigma = float(sigma)

        def call(self, x):
            # Two dense products, K_rows @ X @ K_cols^T: LiteRT runs them as fully connected
            # layers in ~0.05 ms for a crop and its mirror, where the equivalent pair of
            # 1-channel 19-tap depthwise convolutions (plus a mirror pad) cost ~1.2 ms.
            rows = ops.convert_to_tensor(blur_matrix(x.shape[1], self.sigma))
            cols = ops.convert_to_tensor(blur_matrix(x.shape[2], self.sigma))
            y = ops.matmul(ops.squeeze(x, -1), ops.transpose(cols))  # blur along each row
            y = ops.matmul(ops.transpose(y, (0, 2, 1)), ops.transpose(rows))  # then each column
            return ops.expand_dims(ops.transpose(y, (0, 2, 1)), -1)

        def get_config(self):
            return {**super().get_config(), "sigma": self.sigma}

    return InputBlur


def load_keras_model(path):
    """keras.models.load_model for our .keras files: registers the custom layers first (they are
    defined lazily, so that importing this module does not import Keras)."""
    import keras

    _standardization_layer()
    _blur_layer()
    return keras.models.load_model(path)


def with_input_blur(model, sigma: float):
    """The same network (shared weights) behind a fixed Gaussian blur of its input."""
    import keras

    if sigma <= 0:
        return model
    inputs = keras.Input(model.input_shape[1:], name="face")
    blurred = _blur_layer()(sigma, name="input_blur")(inputs)
    return keras.Model(inputs, model(blurred), name=f"{model.name}_blur")


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
