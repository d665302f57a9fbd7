"""Reading and editing trained networks in place: the classifier layers of a network or of an
ensemble's members, the temperature and class offsets folded into them, and a served .keras file
read back with its calibration taken out.

calibrate, ensemble and train all use these; keeping them here, below all three, is what lets
each of those import the others' work at the top of the module without a circle.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from inference.errors import InferenceError
from inference.estimator import CARD_NAME
from inference.labels import EMOTION_TO_MOOD, EMOTIONS, MOOD_INDEX, MOODS

from .model import load_keras_model

LOGITS = "gap"  # the layer whose output is the logits, in a single network and in an ensemble
CLASSIFIER = "classifier_conv"  # the last convolution: its outputs are the logits (before GAP)


def member_networks(network) -> list:
    """The mini-Xceptions inside `network`: itself for a single network, else its members."""
    nested = [layer for layer in network.layers if hasattr(layer, "get_layer")]
    return nested or [network]


def classifier_layers(network) -> list:
    """The last convolution of `network`, or of each member of an ensemble (nested at any depth)."""
    members = member_networks(network)
    if members == [network]:
        return [network.get_layer(CLASSIFIER)]
    return [layer for member in members for layer in classifier_layers(member)]


def scale_logits(network, *, temperature: float = 1.0, offsets=None) -> None:
    """Divide the network's logits by `temperature` and add per-mood `offsets`, in place, by
    changing the classifier convolution (global average pooling is linear, so this is exact). An
    ensemble's logits are its members' mean, so changing every member's classifier alike is exact
    too.

    For an emotion head, each emotion's logit gets the offset of its mood: the mood's probability
    mass is then multiplied by exp(offset), the same as adding the offset to the mood's logit."""
    for layer in classifier_layers(network):
        kernel, bias = layer.get_weights()
        shift = np.zeros(bias.shape, dtype=bias.dtype)
        if offsets is not None:
            shift = _per_class_offsets(offsets, len(bias)).astype(bias.dtype)
        layer.set_weights([kernel / temperature, bias / temperature + shift])


def _per_class_offsets(offsets, num_classes: int) -> np.ndarray:
    """Per-mood offsets as per-class offsets: an emotion head gives each emotion its mood's."""
    offsets = np.asarray(offsets, dtype="float32")
    if num_classes == len(EMOTIONS):
        return np.array([offsets[MOOD_INDEX[EMOTION_TO_MOOD[e]]] for e in EMOTIONS], dtype="float32")
    return offsets


def is_served_model(path: Path) -> bool:
    """A serving .keras file (export's output, with its model card beside it), not a run folder."""
    return path.suffix == ".keras" and path.is_file()


def served_card(path: Path) -> dict:
    """The model card beside a served .keras file ({} when there is none)."""
    card_path = path.with_name(CARD_NAME)
    if not card_path.is_file():
        return {}
    try:
        card = json.loads(card_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InferenceError(f"{card_path} is not a JSON model card: {exc}") from None
    if not isinstance(card, dict):
        raise InferenceError(f"{card_path} holds a JSON {type(card).__name__}, not a model card object")
    return card


def load_served_member(path: Path) -> tuple[object, dict]:
    """A served .keras network with the calibration its card records taken out again (temperature
    and class offsets), so that the ensemble is calibrated once, as a whole; and that card."""
    card = served_card(path)
    try:
        network = load_keras_model(path)
    except (ValueError, OSError) as exc:  # not a Keras archive, or unreadable
        raise InferenceError(f"{path} cannot be read as a Keras model: {exc}") from None
    offsets = card.get("class_logit_offsets") or {}
    scale_logits(network, offsets=[-float(offsets.get(m, 0.0)) for m in MOODS])
    scale_logits(network, temperature=1.0 / float(card.get("temperature", 1.0)))
    return network, card
