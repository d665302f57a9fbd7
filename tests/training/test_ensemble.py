"""Ensembles: members' logits averaged in one network, calibrated as a whole, exported as one file."""

import json

import numpy as np
import pytest

from inference import MoodEstimator
from inference.labels import EMOTIONS
from training.calibrate import _logits_fn
from training.data import load_dataset
from training.ensemble import build_ensemble
from training.model import build_mini_xception, load_keras_model
from training.networks import load_served_member, scale_logits
from training.train import predict_probs

from .conftest import run_cli

FACES = np.random.default_rng(3).integers(0, 256, (6, 48, 48, 1)).astype("float32")


def _two_networks():
    import keras

    keras.utils.set_random_seed(11)
    return [build_mini_xception(num_classes=len(EMOTIONS), width=0.5) for _ in range(2)]


def test_the_ensembles_logits_are_the_mean_of_its_members_logits():
    a, b = _two_networks()
    expected = (_logits_fn(a)(FACES) + _logits_fn(b)(FACES)) / 2
    assert not np.allclose(_logits_fn(a)(FACES), _logits_fn(b)(FACES), atol=1e-3)  # members differ
    np.testing.assert_allclose(_logits_fn(build_ensemble([a, b]))(FACES), expected, rtol=1e-4, atol=1e-5)


def test_scaling_an_ensembles_logits_scales_the_mean_exactly():
    ensemble = build_ensemble(_two_networks())
    before = _logits_fn(ensemble)(FACES)
    scale_logits(ensemble, temperature=2.0, offsets=[0.0, 0.5, -0.25, 1.0])
    shift = np.array([0.5, 0.5, 0.5, 0.0, -0.25, 0.5, 1.0])  # each emotion gets its mood's offset
    np.testing.assert_allclose(_logits_fn(ensemble)(FACES), before / 2.0 + shift, rtol=1e-4, atol=1e-4)


def test_members_that_take_different_inputs_or_classes_are_refused():
    with pytest.raises(ValueError, match="differ"):
        build_ensemble([build_mini_xception(width=0.5), build_mini_xception(num_classes=len(EMOTIONS), width=0.5)])


@pytest.fixture(scope="module")
def served_single(exported):
    return exported[0]


def test_a_served_member_has_its_cards_calibration_taken_out(served_single, tiny_emotion_run):
    """Export folded a temperature (and maybe offsets) into the file; the member is the trained
    network again, so that the ensemble is calibrated once, as a whole."""
    from training.calibrate import run_config
    from training.train import build_network

    card = json.loads((served_single / "model_card.json").read_text())
    assert card["temperature"] != 1.0, "the test needs a calibration to take out"
    network, member_card = load_served_member(served_single / "mood_mini_xception.keras")
    trained = build_network(run_config(tiny_emotion_run["out"]), weights=tiny_emotion_run["out"] / "best.keras")
    written = load_keras_model(served_single / "mood_mini_xception.keras")
    assert not np.allclose(_logits_fn(written)(FACES), _logits_fn(trained)(FACES), atol=1e-3)
    np.testing.assert_allclose(_logits_fn(network)(FACES), _logits_fn(trained)(FACES), rtol=1e-3, atol=1e-3)
    assert member_card == card


def test_export_with_two_members_writes_one_calibrated_file_and_a_card_naming_both(
        served_single, tiny_emotion_run, tmp_path, photo):
    served_keras = served_single / "mood_mini_xception.keras"
    result = run_cli("export", "--run", str(tiny_emotion_run["out"]), "--run", str(served_keras),
                     "--data", str(tiny_emotion_run["data"]), "--out", str(tmp_path), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    card = json.loads((tmp_path / "model_card.json").read_text())
    assert "-x2-emo7" in card["version"] and "2 mini-Xceptions" in card["architecture"]
    assert [m["source"] for m in card["members"]] == [tiny_emotion_run["out"].name, served_keras.name]
    assert card["members"][0]["weights"] == "best.keras" and card["members"][0]["epochs_run"] == 1
    assert card["members"][1]["version"] == json.loads((served_single / "model_card.json").read_text())["version"]
    single = json.loads((served_single / "model_card.json").read_text())["parameters"]
    to_moods = len(EMOTIONS) * 4  # the fixed emotion-to-mood sum, once per served file
    assert card["parameters"] == 2 * (single - to_moods) + to_moods

    tflite = tmp_path / "mood_mini_xception.tflite"
    assert card["file"]["bytes"] == tflite.stat().st_size < 1024 * 1024
    val = load_dataset(tiny_emotion_run["data"] / "test", size=48, split="public")
    served = MoodEstimator.load(tflite).classify(val.images[..., 0])
    keras_probs = predict_probs(load_keras_model(tmp_path / "mood_mini_xception.keras"), val.images)
    np.testing.assert_allclose(served, keras_probs, atol=1e-4)  # the file computes the calibrated ensemble
    assert card["validation"]["n"] == len(val) and 0 <= card["validation"]["ece"] <= 1
    faces = MoodEstimator.load(tflite).estimate(photo("obama-480p.jpg"))
    assert len(faces) == 1 and sum(faces[0].probabilities.values()) == pytest.approx(1, abs=1e-4)


def test_export_refuses_a_member_that_is_neither_a_run_folder_nor_a_serving_model(tiny_emotion_run, tmp_path):
    not_a_model = tmp_path / "notes.txt"
    not_a_model.write_bytes(b"not a model\0")
    for member in (not_a_model, tmp_path / "missing.keras"):
        result = run_cli("export", "--run", str(tiny_emotion_run["out"]), "--run", str(member),
                         "--data", str(tiny_emotion_run["data"]), "--out", str(tmp_path / "out"), timeout=300)
        assert result.returncode == 2, result.stderr[-2000:]
        assert "neither a train --out folder nor a serving .keras file" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # nothing written


def test_a_served_ensemble_given_as_a_member_adds_each_of_its_networks_at_an_equal_share(
        tiny_emotion_run, tmp_path):
    """`export --run pair.keras --run RUN` averages three networks alike, not the pair's mean with RUN."""
    from training.calibrate import run_config
    from training.train import build_network

    cfg = run_config(tiny_emotion_run["out"])
    a, b = (build_network(cfg) for _ in range(2))
    b.set_weights([w + np.random.default_rng(5).normal(0, 0.05, w.shape).astype(w.dtype) for w in a.get_weights()])
    pair_dir = tmp_path / "pair"
    pair_dir.mkdir()
    build_ensemble([a, b]).save(pair_dir / "mood_mini_xception.keras")
    hyper = {"width": cfg.width, "head": cfg.head, "input_size": cfg.input_size}
    (pair_dir / "model_card.json").write_text(json.dumps({
        "version": "pair-under-test", "temperature": 1.0, "class_logit_offsets": {},
        "members": [{"source": "run-a", "hyperparameters": hyper}, {"source": "run-b", "hyperparameters": hyper}],
    }))
    out = tmp_path / "out"
    result = run_cli("export", "--run", str(pair_dir / "mood_mini_xception.keras"),
                     "--run", str(tiny_emotion_run["out"]),
                     "--data", str(tiny_emotion_run["data"]), "--out", str(out), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    card = json.loads((out / "model_card.json").read_text())
    assert "-x3-emo7" in card["version"] and "3 mini-Xceptions" in card["architecture"]
    assert [m["source"] for m in card["members"]] == ["run-a", "run-b", tiny_emotion_run["out"].name]

    three, _ = load_served_member(out / "mood_mini_xception.keras")  # the new card's calibration taken out
    members = [layer for layer in three.layers if hasattr(layer, "get_layer")]
    assert len(members) == 3
    np.testing.assert_allclose(_logits_fn(members[0])(FACES), _logits_fn(a)(FACES), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(_logits_fn(members[1])(FACES), _logits_fn(b)(FACES), rtol=1e-3, atol=1e-4)
    expected = sum(_logits_fn(m)(FACES) for m in members) / 3
    np.testing.assert_allclose(_logits_fn(three)(FACES), expected, rtol=1e-4, atol=1e-4)


def test_a_served_ensemble_whose_card_does_not_list_its_networks_is_refused(tiny_emotion_run, tmp_path):
    a, b = _two_networks()
    build_ensemble([a, b]).save(tmp_path / "mood_mini_xception.keras")
    (tmp_path / "model_card.json").write_text(json.dumps({"temperature": 1.0, "members": [{}]}))
    result = run_cli("export", "--run", str(tmp_path / "mood_mini_xception.keras"),
                     "--run", str(tiny_emotion_run["out"]),
                     "--data", str(tiny_emotion_run["data"]), "--out", str(tmp_path / "out"), timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "holds 2 networks but its card describes 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_served_ensemble_whose_card_names_other_networks_than_it_holds_is_refused(tiny_emotion_run, tmp_path):
    a, b = _two_networks()  # width 0.5
    build_ensemble([a, b]).save(tmp_path / "mood_mini_xception.keras")
    wider = {"width": 1.5, "head": "emotions", "input_size": 48}
    (tmp_path / "model_card.json").write_text(json.dumps({"temperature": 1.0, "members": [
        {"source": "a", "hyperparameters": wider}, {"source": "b", "hyperparameters": wider}]}))
    result = run_cli("export", "--run", str(tmp_path / "mood_mini_xception.keras"),
                     "--run", str(tiny_emotion_run["out"]),
                     "--data", str(tiny_emotion_run["data"]), "--out", str(tmp_path / "out"), timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "member 1 of" in result.stderr and "does not match its card" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


HOSTILE_CARDS = {
    "not JSON": b"\x00\xff{not json",
    "a JSON list": b"[1, 2]",
    "members as text": json.dumps({"members": "abc"}).encode(),
    "members that are numbers": json.dumps({"members": [1, 2]}).encode(),
    "hyperparameters as text": json.dumps({"members": [{"hyperparameters": "wide"}] * 2}).encode(),
    "a width as text": json.dumps({"members": [{"hyperparameters": {"width": "x"}}] * 2}).encode(),
    "a width too large to build": json.dumps({"members": [{"hyperparameters": {"width": 1e9}}] * 2}).encode(),
    "a width of NaN": b'{"members": [{"hyperparameters": {"width": NaN}}, {"hyperparameters": {"width": NaN}}]}',
    "a negative width": json.dumps({"members": [{"hyperparameters": {"width": -1}}] * 2}).encode(),
    "a share as text": json.dumps({"members": [{"hyperparameters": {"ferplus_weight": "x"}}] * 2}).encode(),
}


@pytest.fixture(scope="module")
def served_pair_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-pair")
    build_ensemble(list(_two_networks())).save(folder / "mood_mini_xception.keras")
    return folder / "mood_mini_xception.keras"


@pytest.mark.parametrize("card", HOSTILE_CARDS.values(), ids=HOSTILE_CARDS.keys())
def test_a_served_ensemble_with_a_hostile_card_is_refused_with_a_clear_error(
        served_pair_file, card, tiny_emotion_run, tmp_path):
    member = tmp_path / "mood_mini_xception.keras"
    member.symlink_to(served_pair_file)
    (tmp_path / "model_card.json").write_bytes(card)
    result = run_cli("export", "--run", str(member), "--run", str(tiny_emotion_run["out"]),
                     "--data", str(tiny_emotion_run["data"]), "--out", str(tmp_path / "out"), timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
