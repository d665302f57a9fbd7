"""Finish a training run for serving: choose the weights, calibrate, and export.

`python -m training export --run DIR --data DIR --out DIR` scores the run's candidates on the
validation split (PublicTest for FER2013; PrivateTest is never read): its best epoch, its latest
checkpoint and weight averages of its best 3, 5 and 8 epochs. The winner is then calibrated on the
same split, both steps folded into the classifier convolution so that they cost nothing at serving:

1. a temperature T (logits divided by T), fitted by minimising the negative log-likelihood of the
   mood probabilities (Guo et al. 2017), so that the probabilities the dashboard and the exports
   show mean what they say;
2. class logit offsets that maximise weighted F1 (training weights the classes by 1/sqrt of their
   frequency, which moves decisions towards the rare ones).

It is written as the serving model: `.keras`, `.tflite` (float32, or int8 weights and activations
with `--int8`, calibrated on training images), the browser's fixed-batch copy of that `.tflite`
(`*_b1.tflite`, for LiteRT.js in the patient app) and the model card with every choice and its
validation figures.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from inference.errors import InferenceError
from inference.estimator import CARD_NAME, MoodEstimator, browser_model_path
from inference.labels import EMOTIONS, MOODS, emotion_to_mood_matrix

from .data import load_dataset
from .ensemble import build_ensemble
from .export import export_tflite, write_fixed_batch_copy
from .metrics import classification_report, expected_calibration_error, mood_nll
from .model import mood_network
from .networks import (
    LOGITS,
    classifier_layers,
    is_served_model,
    load_served_member,
    member_networks,
    scale_logits,
    served_card,
)
from .train import (
    CONFIG_NAME,
    SNAPSHOTS,
    TrainConfig,
    build_network,
    predict_probs,
    split_data,
    training_targets,
)

MODEL_FILENAME = "mood_mini_xception"
AVERAGE_TOP = (3, 5, 8)  # weight averages of the best k epochs tried as candidates
TEMPERATURE_GRID = np.round(np.arange(0.25, 4.001, 0.01), 3)
INT8_CALIBRATION_IMAGES = 500


def _candidates(run: Path, cfg: TrainConfig) -> dict[str, object]:
    found = {}
    for name, path in (("best.keras", run / "best.keras"),
                       ("checkpoint/latest", run / "checkpoint" / "latest.weights.h5")):
        if path.exists():
            model = build_network(cfg, weights=path)
            if not any(_same_weights(model, other) for other in found.values()):
                found[name] = model
    if not found:
        raise FileNotFoundError(f"{run} has neither best.keras nor checkpoint/latest.weights.h5")
    ranked = best_epoch_weights(run, cfg, max(AVERAGE_TOP))  # each snapshot read once
    for k in AVERAGE_TOP:
        if len(ranked) >= k:
            found[f"average of the best {k} epochs"] = _averaged(ranked[:k], cfg)
    return found


def _same_weights(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


def best_epoch_weights(run: Path, cfg: TrainConfig, limit: int) -> list[list[np.ndarray]]:
    """Weights of up to `limit` epoch snapshots, best validation weighted F1 first."""
    history = run / "history.jsonl"
    if not history.is_file():
        return []
    rows = [json.loads(line) for line in history.read_text().splitlines()]
    paths = [run / SNAPSHOTS / f"epoch_{r['epoch']:03d}.weights.h5"
             for r in sorted(rows, key=lambda r: -r["val_weighted_f1"])]
    return [build_network(cfg, weights=p).get_weights() for p in [p for p in paths if p.is_file()][:limit]]


def _averaged(weights: list[list[np.ndarray]], cfg: TrainConfig):
    """One network whose weights (batch-norm statistics included) are the mean of `weights`: a
    cheap ensemble of the best epochs that costs nothing at serving time."""
    model = build_network(cfg)
    model.set_weights([np.mean(layer, axis=0) for layer in zip(*weights)])
    return model


def run_config(run: Path) -> TrainConfig:
    """The configuration the run was trained with (train writes it), else the defaults."""
    path = run / CONFIG_NAME
    return _config_from(json.loads(path.read_text()) if path.is_file() else {})


def _config_from(saved: dict) -> TrainConfig:
    """A TrainConfig from saved settings; keys this version does not know are ignored."""
    known = TrainConfig.__dataclass_fields__
    try:
        return TrainConfig(**{k: v for k, v in saved.items() if k in known})
    except TypeError as exc:  # a saved value of the wrong kind, e.g. a share written as text
        raise InferenceError(f"saved training settings are invalid: {exc}") from None


def _trial(name: str, model, val) -> dict:
    report = classification_report(val.labels, predict_probs(model, val.images).argmax(1))
    print(f"{name}: weighted F1 {report['weighted_f1']:.4f}", flush=True)
    return {"weights": name, "weighted_f1": report["weighted_f1"], "macro_f1": report["macro_f1"],
            "accuracy": report["accuracy"], "_model": model}


# --- calibration ------------------------------------------------------------------------------------

def fit_temperature(network, val, *, grid=TEMPERATURE_GRID) -> tuple[float, list[dict]]:
    """The temperature (on `grid`) with the lowest validation NLL of the served probabilities
    (flip averaging included). The network is left unchanged."""
    layers = classifier_layers(network)
    original = [layer.get_weights() for layer in layers]
    logits = _logits_fn(network)
    x = val.images.astype("float32")
    z, z_flip = logits(x), logits(x[:, :, ::-1])
    trials = []
    for t in grid:
        probs = (_softmax_moods(z / t) + _softmax_moods(z_flip / t)) / 2
        trials.append({"temperature": float(t), "nll": mood_nll(probs, val.labels)})
    for layer, weights in zip(layers, original):
        layer.set_weights(weights)
    best = min(trials, key=lambda r: r["nll"])
    return best["temperature"], trials


def _logits_fn(network):
    """x -> the classifier's logits (the input of the softmax), in batches."""
    import keras

    logits_model = keras.Model(network.input, network.get_layer(LOGITS).output)
    return lambda x: logits_model.predict(x, batch_size=512, verbose=0)


def _softmax_moods(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    return p @ emotion_to_mood_matrix() if z.shape[1] == len(EMOTIONS) else p


OFFSET_GRID = np.round(np.linspace(-1.0, 1.0, 41), 3)


def class_offset_search(probs: np.ndarray, labels: np.ndarray, *, rounds: int = 3) -> np.ndarray:
    """Per-class logit offsets (the first class's fixed at 0) that maximise weighted F1 on
    validation data, by coordinate search over OFFSET_GRID.

    Training weights the classes by 1/sqrt(frequency), which moves decisions towards the rare
    classes; weighted F1, the figure we are judged on, weights classes by their frequency. Three
    numbers chosen on 3,589 PublicTest images; PrivateTest shows whether they generalise.
    """
    from sklearn.metrics import f1_score

    logits = np.log(np.clip(probs, 1e-7, 1.0))

    def score(offsets):
        return f1_score(labels, (logits + offsets).argmax(1), average="weighted")

    offsets = np.zeros(probs.shape[1])
    best = score(offsets)
    for _ in range(rounds):
        for c in range(1, len(offsets)):
            for value in OFFSET_GRID:
                trial = offsets.copy()
                trial[c] = value
                trial_score = score(trial)
                if trial_score > best + 1e-9:
                    best, offsets = trial_score, trial
    return offsets


def calibrate(network, val) -> dict:
    """Fit the temperature, then the class offsets, on `val`; fold both into `network` (in place)
    only where they help on `val`. Returns what was chosen and the validation figures."""
    before = predict_probs(network, val.images)
    temperature, trials = fit_temperature(network, val)
    scale_logits(network, temperature=temperature)
    scaled = predict_probs(network, val.images)
    offsets = class_offset_search(scaled, val.labels)
    scale_logits(network, offsets=offsets)
    after = predict_probs(network, val.images)
    f1 = lambda p: classification_report(val.labels, p.argmax(1))["weighted_f1"]  # noqa: E731
    if f1(after) <= f1(scaled):  # offsets that do not raise validation F1 are not kept
        scale_logits(network, offsets=-offsets)
        offsets, after = np.zeros(len(MOODS)), scaled
    result = {
        "temperature": temperature, "class_logit_offsets": dict(zip(MOODS, map(float, offsets))),
        "validation_ece_before": expected_calibration_error(before, val.labels),
        "validation_ece_after": expected_calibration_error(after, val.labels),
        "validation_nll_before": mood_nll(before, val.labels), "validation_nll_after": mood_nll(after, val.labels),
        "temperature_trials": len(trials),
    }
    print(f"temperature {temperature:g}, offsets {offsets.round(3).tolist()}: validation ECE "
          f"{result['validation_ece_before']:.4f} -> {result['validation_ece_after']:.4f}, weighted F1 "
          f"{f1(before):.4f} -> {f1(after):.4f}", flush=True)
    return result


def uncalibrated(network, val) -> dict:
    probs = predict_probs(network, val.images)
    ece, nll = expected_calibration_error(probs, val.labels), mood_nll(probs, val.labels)
    return {"temperature": 1.0, "class_logit_offsets": dict.fromkeys(MOODS, 0.0),
            "validation_ece_before": ece, "validation_ece_after": ece,
            "validation_nll_before": nll, "validation_nll_after": nll, "temperature_trials": 0}


# --- export -----------------------------------------------------------------------------------------

def calibrate_and_export(*, run_dirs: list[str | Path], data_dir: str | Path, out_dir: str | Path,
                         int8: bool = False, calibrated: bool = True) -> dict:
    """Export one network, or with several `run_dirs` an ensemble of them (each member's best
    candidate), calibrated as a whole. A member is a train --out folder, or a serving .keras file
    with its model card beside it (its own calibration is taken out first)."""
    sources, out = [Path(r) for r in run_dirs], Path(out_dir)
    configs = [_member_config(source) for source in sources]
    _, val, val_source = split_data(Path(data_dir), configs[0].input_size, configs[0].seed)
    members = [member for source, cfg in zip(sources, configs) for member in _choose_members(source, cfg, val)]
    network = members[0]["network"] if len(members) == 1 else build_ensemble([m["network"] for m in members])
    if len(members) > 1:
        _trial(f"ensemble of {len(members)}", network, val)  # logged: the pair before calibration
    calibration = calibrate(network, val) if calibrated else uncalibrated(network, val)
    serving = mood_network(network)
    out.mkdir(parents=True, exist_ok=True)
    network.save(out / f"{MODEL_FILENAME}.keras")  # calibrated; emotion heads sum into moods when served
    representative = _training_sample(Path(data_dir), configs[0]) if int8 else None
    tflite = export_tflite(serving, out / f"{MODEL_FILENAME}.tflite", representative=representative)
    write_fixed_batch_copy(tflite, browser_model_path(tflite))  # the browser's copy (LiteRT.js)
    served = {"calibration": calibration, "val": val, "val_source": val_source, "serving": serving,
              "tflite": tflite, "int8": int8}
    card = _card(members[0], Path(data_dir), served) if len(members) == 1 else _ensemble_card(members, served)
    (out / CARD_NAME).write_text(json.dumps(card, indent=2))
    return card


def _member_config(source: Path) -> TrainConfig:
    if is_served_model(source):
        return _config_from(_card_members(served_card(source), source)[0].get("hyperparameters", {}))
    if not source.is_dir():
        raise InferenceError(f"{source} is neither a train --out folder nor a serving .keras file")
    return run_config(source)


def _choose_members(source: Path, cfg: TrainConfig, val) -> list[dict]:
    """A run's best candidate on validation, or a served network without its calibration. A served
    ensemble gives each of its members, so that adding a network to it averages all of them alike."""
    if is_served_model(source):
        return _served_members(source, cfg, val)
    trials = [_trial(name, model, val) for name, model in _candidates(source, cfg).items()]
    best = max(trials, key=lambda t: t["weighted_f1"])
    # every candidate is an uncompiled build: no optimizer state to drop
    return [{"source": source, "cfg": cfg, "best": best, "trials": trials, "network": best["_model"], "card": None}]


def _card_members(card: dict, source: Path) -> list[dict]:
    """What a served card says of each network in its file: its `members` (an ensemble), or the
    card itself (one network), each an object whose `hyperparameters`, if given, are an object."""
    described = card.get("members") or [card]
    if not isinstance(described, list) or not all(isinstance(m, dict) for m in described):
        raise InferenceError(f"the model card of {source} lists its members as {type(described).__name__}, "
                             "not as a list of objects")
    for member in described:
        if not isinstance(member.get("hyperparameters", {}), dict):
            raise InferenceError(f"the model card of {source} gives hyperparameters that are not an object")
    return described


def _served_members(source: Path, cfg: TrainConfig, val) -> list[dict]:
    network, card = load_served_member(source)
    nested = member_networks(network)
    name = card.get("version") or source.name
    if len(nested) == 1:
        return [_served_member(source, cfg, val, name, network, card)]
    member_cards = _card_members(card, source)
    if len(member_cards) != len(nested):
        raise InferenceError(f"{source} holds {len(nested)} networks but its card describes {len(member_cards)}")
    members = []
    for number, (inner, member_card) in enumerate(zip(nested, member_cards), start=1):
        member_cfg = _config_from(member_card.get("hyperparameters", {}))
        standalone = _standalone(inner, member_cfg, what=f"member {number} of {source}")
        members.append(_served_member(source, member_cfg, val, f"{name} member {number}", standalone, member_card))
    return members


def _served_member(source: Path, cfg: TrainConfig, val, name: str, network, card: dict) -> dict:
    trials = [_trial(name, network, val)]
    return {"source": source, "cfg": cfg, "best": trials[0], "trials": trials, "network": network, "card": card}


def _standalone(inner, cfg: TrainConfig, *, what: str):
    """A member of a served ensemble as a network of its own (softmax included), built as its card
    describes it: a card that does not describe the network it sits beside is refused."""
    from tensorflow.errors import OpError  # e.g. a width too large to allocate

    try:
        network = build_network(cfg)
        network.set_weights(inner.get_weights())
    except (ValueError, TypeError, OpError) as exc:
        raise InferenceError(f"{what} does not match its card: {exc}") from None
    return network


def _training_sample(data_dir: Path, cfg: TrainConfig) -> np.ndarray:
    """Training images for int8 calibration (never validation or test images)."""
    train = load_dataset(data_dir / "train", size=cfg.input_size)
    pick = np.random.default_rng(cfg.seed).choice(len(train), min(INT8_CALIBRATION_IMAGES, len(train)),
                                                  replace=False)
    return train.images[pick]


def _training_data(data_dir: Path, cfg: TrainConfig) -> dict:
    train, _, note = training_targets(load_dataset(data_dir / "train", size=cfg.input_size), cfg, data_dir)
    return {"train": train.counts(), "targets": note}


def _served_report(tflite: Path, val) -> dict:
    """Validation figures of the written .tflite file through the serving path (MoodEstimator)."""
    probs = MoodEstimator(tflite.read_bytes(), {}, model_path=tflite).classify(val.images[..., 0])
    report = classification_report(val.labels, probs.argmax(1))
    report["ece"] = expected_calibration_error(probs, val.labels)
    return report


def _card(member: dict, data_dir: Path, served: dict) -> dict:
    cfg, val = member["cfg"], served["val"]
    trained = _run_record(member)
    data = trained["data"] or _training_data(data_dir, cfg)  # a run stopped before train() wrote its card
    head = "7 FER2013 emotions summed into 4 moods" if cfg.head == "emotions" else "4 moods"
    return {
        "version": f"mini-xception-4mood-{time.strftime('%Y%m%d')}-e{trained['epochs_run']}"
                   f"{'-emo7' if cfg.head == 'emotions' else ''}{'-int8' if served['int8'] else ''}",
        "architecture": f"mini-Xception (width {cfg.width:g}), softmax over {head}",
        **_served_fields(served),
        "data": {"train": data.get("train"), "targets": data.get("targets"),
                 "validation": val.counts(), "validation_source": served["val_source"]},
        **{k: trained[k] for k in ("hyperparameters", "epochs_run", "weights", "best_epoch", "training_seconds",
                                   "selection")},
        "validation": _served_report(served["tflite"], val),
        "test_time_augmentation": "horizontal flip, probabilities averaged",
    }


def _run_record(member: dict) -> dict:
    """How a member was trained and chosen: from its run folder (history and train's card)."""
    source = member["source"]
    rows = [json.loads(line) for line in (source / "history.jsonl").read_text().splitlines()]
    trained = json.loads((source / CARD_NAME).read_text()) if (source / CARD_NAME).is_file() else {}
    return {"data": trained.get("data"), "hyperparameters": asdict(member["cfg"]), "epochs_run": len(rows),
            "weights": member["best"]["weights"],
            "best_epoch": int(np.argmax([r["val_weighted_f1"] for r in rows]) + 1),
            "training_seconds": trained.get("training_seconds")
            or (round(rows[-1]["time"] - rows[0]["time"], 1) if len(rows) > 1 else None),
            "selection": _selection(member["trials"])}


def _served_fields(served: dict) -> dict:
    """The card's description of the written file and its calibration (any model)."""
    calibration, tflite, int8 = served["calibration"], served["tflite"], served["int8"]
    return {
        "parameters": int(served["serving"].count_params()),
        "file": {"name": tflite.name, "bytes": tflite.stat().st_size,
                 "format": "LiteRT, int8 weights and activations (float input and output)" if int8
                 else "LiteRT, float32"},
        "input": {"size": served["val"].images.shape[1], "channels": 1, "range": "0..255 grayscale face crop"},
        "classes": list(MOODS),
        "temperature": calibration["temperature"],
        # added to the classifier's logits after the temperature (folded into its last bias)
        "class_logit_offsets": calibration["class_logit_offsets"],
        "calibration": {k: v for k, v in calibration.items() if k not in ("temperature", "class_logit_offsets")},
    }


def _selection(trials: list[dict]) -> list[dict]:
    return [{k: v for k, v in t.items() if k != "_model"} for t in trials]


def _ensemble_card(members: list[dict], served: dict) -> dict:
    """The card of an ensemble: the served file, and each member as it was trained and chosen."""
    val, int8 = served["val"], served["int8"]
    cfgs, member_cards = [m["cfg"] for m in members], [_member_card(m) for m in members]
    heads = {cfg.head for cfg in cfgs}
    head = "7 FER2013 emotions summed into 4 moods" if heads == {"emotions"} else "/".join(sorted(heads))
    return {
        "version": f"mini-xception-4mood-{time.strftime('%Y%m%d')}-x{len(members)}"
                   f"{'-emo7' if heads == {'emotions'} else ''}{'-int8' if int8 else ''}",
        "architecture": f"{len(members)} mini-Xceptions (width {', '.join(f'{c.width:g}' for c in cfgs)}), "
                        f"logits averaged, softmax over {head}",
        **_served_fields(served),
        "data": {"validation": val.counts(), "validation_source": served["val_source"]},
        "members": member_cards,
        "training_seconds": sum(m.get("training_seconds") or 0 for m in member_cards),
        "validation": _served_report(served["tflite"], val),
        "test_time_augmentation": "horizontal flip, probabilities averaged",
    }


def _member_card(member: dict) -> dict:
    card = member["card"]
    if card is None:
        return {"source": member["source"].name, **_run_record(member)}
    # a served model: what its own card says of its training. One trained in several cycles lists
    # them under "training", whose total is its training time (its training_seconds is the last cycle's).
    keep = ("version", "data", "hyperparameters", "epochs_run", "best_epoch", "training_seconds", "training")
    described = {k: card[k] for k in keep if k in card}
    if "total_minutes" in card.get("training", {}):
        described["training_seconds"] = 60.0 * card["training"]["total_minutes"]
    # a member of a served ensemble keeps the source its card names (its run, or its served file)
    return {"source": card.get("source", member["source"].name), **described,
            "weights": "its served weights, calibration taken out", "selection": _selection(member["trials"])}
