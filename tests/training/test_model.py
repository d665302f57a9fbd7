"""The mini-Xception architecture (training/model.py)."""

import numpy as np
import pytest

from inference.labels import EMOTIONS, emotion_to_mood_matrix
from training.model import build_mini_xception, mood_network
from training.train import TrainConfig

FLOAT32_BYTES = 4
ONE_MB = 1024 * 1024


def layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("size", [48, 64])
def test_the_model_maps_a_grayscale_crop_to_four_mood_probabilities(size):
    model = build_mini_xception(input_size=size, width=TrainConfig().width)
    assert model.input_shape == (None, size, size, 1)
    assert model.output_shape == (None, 4)
    assert layer_types(model)[-1] == "Softmax"


def test_at_width_one_with_seven_classes_it_has_the_published_mini_xception_parameter_count():
    # oarriaga/face_classification's mini_XCEPTION (the published model): 58,423 parameters
    assert build_mini_xception(num_classes=7, width=1.0).count_params() == 58_423


def test_the_shipped_width_fits_in_one_megabyte_of_float32_weights():
    params = build_mini_xception(width=TrainConfig().width).count_params()
    assert params == 115_516
    assert params * FLOAT32_BYTES < ONE_MB


def test_it_has_a_two_convolution_stem_and_four_residual_blocks_with_separable_convolutions():
    model = build_mini_xception(width=1.5)
    types = layer_types(model)
    assert types.count("SeparableConv2D") == 8
    assert types.count("Add") == 4
    assert types.count("MaxPooling2D") == 4
    assert types.count("GlobalAveragePooling2D") == 1
    skips = [layer for layer in model.layers if layer.name.endswith("_skip_conv")]
    assert len(skips) == 4 and all(layer.strides == (2, 2) and layer.kernel_size == (1, 1) for layer in skips)
    stem = [layer for layer in model.layers if layer.name.startswith("stem") and layer.name.endswith("_conv")]
    assert len(stem) == 2


def test_every_convolution_before_the_classifier_is_followed_by_batch_normalisation():
    model = build_mini_xception(width=1.5)
    for _, layer in enumerate(model.layers):
        if type(layer).__name__ in ("Conv2D", "SeparableConv2D") and layer.name != "classifier_conv":
            following = [n for n in model.layers if layer.name in _inbound(n)]
            assert [type(n).__name__ for n in following] == ["BatchNormalization"], layer.name


def _inbound(layer):
    names = set()
    for node in layer._inbound_nodes:
        for tensor in node.input_tensors:
            names.add(tensor._keras_history.operation.name)
    return names


def test_weights_carry_l2_regularisation():
    model = build_mini_xception(width=1.5, l2=0.01)
    assert model.losses, "no regularisation losses"


def test_an_emotion_head_is_served_as_mood_probabilities_summed_from_its_seven_emotions():
    network = build_mini_xception(num_classes=len(EMOTIONS), width=1.0)
    served = mood_network(network)
    faces = np.random.default_rng(3).integers(0, 256, (5, 48, 48, 1)).astype("float32")
    emotions = np.asarray(network(faces))
    moods = np.asarray(served(faces))
    assert served.output_shape == (None, 4)
    np.testing.assert_allclose(moods, emotions @ emotion_to_mood_matrix(), atol=1e-6)
    np.testing.assert_allclose(moods.sum(1), 1, atol=1e-5)
    assert served.count_params() - network.count_params() == 28  # the fixed 7x4 matrix
    assert not served.get_layer("emotions_to_moods").trainable


def test_a_mood_head_is_served_unchanged():
    network = build_mini_xception(width=1.0)
    assert mood_network(network) is network
