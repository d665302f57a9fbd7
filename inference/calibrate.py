"""Finish a training run for serving: choose the input blur on validation data and export.

`python -m inference export --run DIR --data DIR --out DIR` loads the run's candidates (its best
epoch, its latest checkpoint and weight averages of its best 3, 5 and 8 epochs) and scores them on
the validation split (PublicTest for FER2013; PrivateTest is never read): every blur sigma on the
best epoch, then the other candidates at the sigmas next to the one found. The winner gets class
logit offsets chosen on the same split, folded into its last bias, and is written as the serving
model: `.keras`, `.tflite` and the model card with every choice and its validation figures.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .export import export_tflite
from .labels import MOODS
from .metrics import classification_report
from .model import with_input_blur
from .train import CONFIG_NAME, SNAPSHOTS, TrainConfig, build_network, predict_probs, split_data

MODEL_FILENAME = "mood_mini_xception"
DEFAULT_SIGMAS = (0.0, 1.0, 2.0, 2.5, 2.75, 3.0, 3.25, 3.5, 3.75, 4.0)
SIGMA_NEIGHBOURHOOD = 0.25
AVERAGE_TOP = (3, 5, 8)  # weight averages of the best k epochs tried as candidates


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
    return TrainConfig(**json.loads(path.read_text())) if path.is_file() else TrainConfig()


def _trial(name: str, model, sigma: float, val) -> dict:
    report = classification_report(val.labels, predict_probs(with_input_blur(model, sigma), val.images).argmax(1))
    print(f"{name} sigma={sigma}: weighted F1 {report['weighted_f1']:.4f}", flush=True)
    return {"weights": name, "sigma": sigma, "weighted_f1": report["weighted_f1"],
            "macro_f1": report["macro_f1"], "accuracy": report["accuracy"], "_model": model}


def calibrate_and_export(*, run_dir: str | Path, data_dir: str | Path, out_dir: str | Path,
                         sigmas=DEFAULT_SIGMAS) -> dict:
    run, out = Path(run_dir), Path(out_dir)
    cfg = run_config(run)
    _, val, val_source = split_data(Path(data_dir), cfg.input_size, cfg.seed)
    candidates = _candidates(run, cfg)
    # Stage 1: every sigma on the first candidate (the best epoch). Stage 2: the other candidates
    # around the sigma found; they share the training run, so its blur level.
    first, *others = candidates
    trials = [_trial(first, candidates[first], sigma, val) for sigma in sigmas]
    found = max(trials, key=lambda t: t["weighted_f1"])["sigma"]
    near = sorted({s for s in sigmas if abs(s - found) <= SIGMA_NEIGHBOURHOOD})
    trials += [_trial(name, candidates[name], sigma, val) for name in others for sigma in near]
    best = max(trials, key=lambda t: t["weighted_f1"])
    network = best["_model"]  # every candidate is an uncompiled build: no optimizer state to drop
    serving = with_input_blur(network, best["sigma"])
    best["class_offsets"] = _fold_class_offsets(network, serving, val)
    out.mkdir(parents=True, exist_ok=True)
    serving.save(out / f"{MODEL_FILENAME}.keras")
    export_tflite(serving, out / f"{MODEL_FILENAME}.tflite")
    card = _card(run, cfg, best, trials, val, val_source, serving)
    (out / "model_card.json").write_text(json.dumps(card, indent=2))
    return card


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


def _fold_class_offsets(network, serving, val) -> list[float]:
    """Search offsets on validation data and add them to the classifier convolution's bias (which
    shifts every logit by the offset: exact, and free at serving time). Kept only if the folded
    model, flip averaging included, really scores higher. Returns the offsets kept."""
    before = predict_probs(serving, val.images)
    offsets = class_offset_search(before, val.labels)
    if not offsets.any():
        return [0.0] * len(offsets)
    layer = network.get_layer("classifier_conv")
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel, bias + offsets.astype(bias.dtype)])
    after = predict_probs(serving, val.images)
    gain = (classification_report(val.labels, after.argmax(1))["weighted_f1"]
            - classification_report(val.labels, before.argmax(1))["weighted_f1"])
    if gain <= 0:
        layer.set_weights([kernel, bias])
        return [0.0] * len(offsets)
    print(f"class logit offsets {offsets.round(3).tolist()}: validation weighted F1 +{gain:.4f}", flush=True)
    return [float(v) for v in offsets]


def _card(run: Path, cfg: TrainConfig, best: dict, trials: list[dict], val, val_source: str, serving) -> dict:
    rows = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    report = classification_report(val.labels, predict_probs(serving, val.images).argmax(1))
    return {
        "version": f"mini-xception-4mood-{time.strftime('%Y%m%d')}-e{len(rows)}-blur{best['sigma']:g}",
        "architecture": "mini-Xception (width 1.5) behind a fixed Gaussian input blur",
        "parameters": int(serving.count_params()),
        "input": {"size": cfg.input_size, "channels": 1, "range": "0..255 grayscale face crop",
                  "blur_sigma": best["sigma"]},
        # added to the classifier's logits (folded into its last bias), chosen on validation data
        "class_logit_offsets": dict(zip(MOODS, best["class_offsets"])),
        "classes": list(MOODS),
        "data": {"train": "FER2013 train/ (28,709 images)", "validation": val.counts(),
                 "validation_source": val_source},
        "hyperparameters": asdict(cfg),
        "epochs_run": len(rows), "weights": best["weights"],
        "training_seconds": round(rows[-1]["time"] - rows[0]["time"], 1) if len(rows) > 1 else None,
        "selection": [{k: v for k, v in t.items() if k not in ("_model", "class_offsets")} for t in trials],
        "validation": report, "test_time_augmentation": "horizontal flip, probabilities averaged",
    }
