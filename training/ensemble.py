"""Several trained mini-Xceptions served as one network: their logits averaged, then one softmax.

Two networks trained apart (other seed, other augmentation) err on different faces, so their
average beats either; on FER2013 PublicTest the pair scores above both members (see the ablation
in training/README.md). Averaging logits rather than probabilities keeps the ensemble a single
classifier: a temperature and class offsets folded into every member's last convolution act on
the averaged logits exactly (see networks.scale_logits), and the served file is one LiteRT graph,
one interpreter call per batch of crops.
"""

from __future__ import annotations

from inference.errors import InferenceError

from .networks import LOGITS


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
