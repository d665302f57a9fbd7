"""Finish a training run for serving: choose the input blur on validation data and export.

`python -m inference export --run DIR --data DIR --out DIR` loads the run's candidates (its best
epoch, its latest checkpoint and weight averages of its best 3, 5 and 8 epochs), tries each with
each blur sigma on the validation split (PublicTest for FER2013; PrivateTest is never read), and
writes the winner as the serving model: `.keras`, `.tflite` and the model card with the choice
and its validation figures.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .export import export_tflite
from .metrics import classification_report
from .model import build_mini_xception, with_input_blur
from .train import SNAPSHOTS, TrainConfig, predict_probs, split_data

MODEL_FILENAME = "mood_mini_xception"
DEFAULT_SIGMAS = (0.0, 1.0, 1.5, 2.0, 2.5, 2.75, 3.0, 3.25, 3.5)


AVERAGE_TOP = (3, 5, 8)  # weight averages of the best k epochs tried as candidates


def _candidates(run: Path, cfg: TrainConfig) -> dict[str, object]:
    found = {}
    for name, path in (("best.keras", run / "best.keras"),
                       ("checkpoint/latest", run / "checkpoint" / "latest.weights.h5")):
        if path.exists():
            found[name] = _model_from(path, cfg)
    if not found:
        raise FileNotFoundError(f"{run} has neither best.keras nor checkpoint/latest.weights.h5")
    for k in AVERAGE_TOP:
        averaged = _average_of_best(run, cfg, k)
        if averaged is not None:
            found[f"average of the best {k} epochs"] = averaged
    return found


def _model_from(path: Path, cfg: TrainConfig):
    model = build_mini_xception(input_size=cfg.input_size, width=cfg.width, l2=cfg.l2)
    model.load_weights(path)
    return model


def _average_of_best(run: Path, cfg: TrainConfig, k: int):
    """Weights (batch-norm statistics included) averaged over the k epochs with the best validation
    weighted F1: a cheap ensemble that costs nothing at serving time. None without k snapshots."""
    history = run / "history.jsonl"
    if not history.is_file():
        return None
    rows = [json.loads(line) for line in history.read_text().splitlines()]
    paths = [run / SNAPSHOTS / f"epoch_{r['epoch']:03d}.weights.h5"
             for r in sorted(rows, key=lambda r: -r["val_weighted_f1"])]
    paths = [p for p in paths if p.is_file()][:k]
    if len(paths) < k:
        return None
    weights = [_model_from(p, cfg).get_weights() for p in paths]
    model = build_mini_xception(input_size=cfg.input_size, width=cfg.width, l2=cfg.l2)
    model.set_weights([np.mean(layer, axis=0) for layer in zip(*weights)])
    return model


def calibrate_and_export(*, run_dir: str | Path, data_dir: str | Path, out_dir: str | Path,
                         sigmas=DEFAULT_SIGMAS) -> dict:
    run, out = Path(run_dir), Path(out_dir)
    cfg = TrainConfig()
    _, val, val_source = split_data(Path(data_dir), cfg.input_size, cfg.seed)
    trials = []
    for name, model in _candidates(run, cfg).items():
        for sigma in sigmas:
            report = classification_report(val.labels, predict_probs(with_input_blur(model, sigma), val.images).argmax(1))
            trials.append({"weights": name, "sigma": sigma, "weighted_f1": report["weighted_f1"],
                           "macro_f1": report["macro_f1"], "accuracy": report["accuracy"], "_model": model})
            print(f"{name} sigma={sigma}: weighted F1 {report['weighted_f1']:.4f}", flush=True)
    best = max(trials, key=lambda t: t["weighted_f1"])
    serving = build_mini_xception(input_size=cfg.input_size, width=cfg.width, l2=cfg.l2)
    serving.set_weights(best["_model"].get_weights())  # uncompiled: no optimizer state
    serving = with_input_blur(serving, best["sigma"])
    out.mkdir(parents=True, exist_ok=True)
    serving.save(out / f"{MODEL_FILENAME}.keras")
    export_tflite(serving, out / f"{MODEL_FILENAME}.tflite")
    card = _card(run, cfg, best, trials, val, val_source, serving)
    (out / "model_card.json").write_text(json.dumps(card, indent=2))
    return card


def _card(run: Path, cfg: TrainConfig, best: dict, trials: list[dict], val, val_source: str, serving) -> dict:
    rows = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    report = classification_report(val.labels, predict_probs(serving, val.images).argmax(1))
    return {
        "version": f"mini-xception-4mood-{time.strftime('%Y%m%d')}-e{len(rows)}-blur{best['sigma']:g}",
        "architecture": "mini-Xception (width 1.5) behind a fixed Gaussian input blur",
        "parameters": int(serving.count_params()),
        "input": {"size": cfg.input_size, "channels": 1, "range": "0..255 grayscale face crop",
                  "blur_sigma": best["sigma"]},
        "classes": ["positive", "negative", "neutral", "other"],
        "data": {"train": "FER2013 train/ (28,709 images)", "validation": val.counts(),
                 "validation_source": val_source},
        "hyperparameters": {k: v for k, v in vars(cfg).items()},
        "epochs_run": len(rows), "weights": best["weights"],
        "training_seconds": round(rows[-1]["time"] - rows[0]["time"], 1) if len(rows) > 1 else None,
        "selection": [{k: v for k, v in t.items() if k != "_model"} for t in trials],
        "validation": report, "test_time_augmentation": "horizontal flip, probabilities averaged",
    }
