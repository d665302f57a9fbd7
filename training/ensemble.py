"""Several trained mini-Xceptions served as one network: their logits averaged, then one softmax.

Two networks trained apart (other seed, other augmentation) err on different faces, so their
average beats either; on FER2013 PublicTest the pair scores above both members (see the ablation
in inference/README.md). Averaging logits rather than probabilities keeps the ensemble a single
classifier: a temperature and class offsets folded into every member's last convolution act on
the averaged logits exactly (see calibrate.scale_logits), and the served file is one LiteRT graph,
one interpreter call per batch of crops.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InferenceError
from .estimator import CARD_NAME
from .labels import MOODS

LOGITS = "gap"  # the layer whose output is the logits, in a single network and in an ensemble


def build_ensemble(members: list):
    """One Keras model whose logits (its layer `LOGITS`) are the mean of the members' logits.

    The members share their layers with the ensemble: calibrating it changes them."""
    import keras

    shapes = {(m.input_shape[1:], m.output_shape[-1]) for m in members}
    if len(shapes) != 1:
        raise InferenceError(f"ensemble members differ in input or classes: {sorted(map(str, shapes))}")
    inputs = keras.Input(members[0].input_shape[1:], name="face")
    logits = [keras.Model(m.input, m.get_layer(LOGITS).output, name=f"member{i}")(inputs)
              for i, m in enumerate(members, start=1)]
    averaged = keras.layers.Average(name=LOGITS)(logits)
    outputs = keras.layers.Softmax(name="mood")(averaged)
    return keras.Model(inputs, outputs, name=f"mini_xception_x{len(members)}")


def member_networks(network) -> list:
    """The mini-Xceptions inside `network`: itself for a single network, else its members."""
    nested = [layer for layer in network.layers if hasattr(layer, "get_layer")]
    return nested or [network]


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
    from .calibrate import scale_logits
    from .model import load_keras_model

    card = served_card(path)
    try:
        network = load_keras_model(path)
    except (ValueError, OSError) as exc:  # not a Keras archive, or unreadable
        raise InferenceError(f"{path} cannot be read as a Keras model: {exc}") from None
    offsets = card.get("class_logit_offsets") or {}
    scale_logits(network, offsets=[-float(offsets.get(m, 0.0)) for m in MOODS])
    scale_logits(network, temperature=1.0 / float(card.get("temperature", 1.0)))
    return network, card

