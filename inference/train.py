"""Train mini-Xception on a folder-per-class data set, resumable, and export it for serving.

Layout of --data: `train/` for training; validation from `val/` if present, else the
PublicTest_ images of `test/` (FER2013), else a stratified 10% of `train/`. PrivateTest_
images are never read here.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .data import Dataset, load_dataset
from .labels import MOODS
from .metrics import classification_report

MODEL_VERSION_PREFIX = "mini-xception-4mood"


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 100
    input_size: int = 48
    seed: int = 1337
    batch_size: int = 64
    learning_rate: float = 1e-3
    # 0.01 (the paper's value) with Adam shrank every BN-followed kernel towards zero: the BN
    # moving variances fell to ~0 and inference-mode accuracy collapsed to the majority class
    # (0.48 on PublicTest vs 0.77 in training mode at epoch 8). 1e-4 keeps the statistics sane.
    l2: float = 1e-4
    width: float = 1.5
    label_smoothing: float = 0.1
    early_stopping_patience: int = 15
    plateau_patience: int = 2
    plateau_factor: float = 0.5
    min_learning_rate: float = 1e-5
    class_weight_power: float = 0.5  # 0 = none, 1 = fully balanced; 0.5 = inverse sqrt frequency
    augment_shift: float = 0.1
    augment_rotation_deg: float = 10.0
    augment_zoom: float = 0.1
    # This edition's Training images are heavily blurred and its test images sharp: validation
    # (selection, LR schedule, early stopping) sees PublicTest blurred to the training images'
    # sharpness, as the served model will (see model.with_input_blur; export picks the final sigma).
    validation_blur_sigma: float = 3.0
    # Warm restart: start from an earlier run's weights (its best.keras or an epoch snapshot) with
    # a fresh optimizer at learning_rate, instead of from random weights. None: from scratch.
    init_weights: str | None = None


def split_data(data_dir: Path, size: int, seed: int) -> tuple[Dataset, Dataset, str]:
    train = load_dataset(data_dir / "train", size=size)
    if (data_dir / "val").is_dir():
        return train, load_dataset(data_dir / "val", size=size), "val/"
    if (data_dir / "test").is_dir():
        return train, load_dataset(data_dir / "test", size=size, split="public"), "test/ PublicTest_"
    rng = np.random.default_rng(seed)
    val_mask = np.zeros(len(train), dtype=bool)
    for label in np.unique(train.labels):
        idx = np.flatnonzero(train.labels == label)
        val_mask[rng.choice(idx, max(1, len(idx) // 10), replace=False)] = True
    pick = lambda m: Dataset(train.images[m], train.labels[m], tuple(np.array(train.paths)[m]))  # noqa: E731
    return pick(~val_mask), pick(val_mask), "10% of train/"


def class_weights(labels: np.ndarray, power: float) -> dict[int, float]:
    counts = np.bincount(labels, minlength=len(MOODS)).astype(float)
    weights = np.where(counts > 0, (counts.sum() / np.maximum(counts, 1)) ** power, 0.0)
    weights /= (weights * counts).sum() / counts.sum()  # mean weight per sample = 1
    return {i: float(w) for i, w in enumerate(weights)}


def _augmenter(cfg: TrainConfig):
    import keras
    from keras import layers

    return keras.Sequential([
        layers.RandomFlip("horizontal", seed=cfg.seed),
        layers.RandomRotation(cfg.augment_rotation_deg / 360, fill_mode="reflect", seed=cfg.seed),
        layers.RandomTranslation(cfg.augment_shift, cfg.augment_shift, fill_mode="reflect", seed=cfg.seed),
        layers.RandomZoom(cfg.augment_zoom, fill_mode="reflect", seed=cfg.seed),
    ], name="augment")


def _train_pipeline(train: Dataset, cfg: TrainConfig, weights: dict[int, float]):
    import tensorflow as tf

    augment = _augmenter(cfg)
    onehot = np.eye(len(MOODS), dtype="float32")[train.labels]
    sample_w = np.array([weights[int(y)] for y in train.labels], dtype="float32")
    ds = tf.data.Dataset.from_tensor_slices((train.images.astype("float32"), onehot, sample_w))
    ds = ds.shuffle(len(train), seed=cfg.seed, reshuffle_each_iteration=True)
    # Full batches only: with oneDNN on, the short last batch of an epoch crashed TF 2.21
    # ("free(): invalid pointer"); reshuffling each epoch still uses every image.
    ds = ds.batch(cfg.batch_size, drop_remainder=True)
    ds = ds.map(lambda x, y, w: (augment(x, training=True), y, w), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def blurred(data: Dataset, sigma: float) -> Dataset:
    import cv2

    if sigma <= 0:
        return data
    images = np.stack([cv2.GaussianBlur(img, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
                       for img in data.images[..., 0]])[..., None]
    return Dataset(images=images, labels=data.labels, paths=data.paths)


def predict_probs(model, images: np.ndarray, *, batch_size: int = 512) -> np.ndarray:
    """Mood probabilities, averaged over the image and its mirror (test-time flip)."""
    x = images.astype("float32")
    probs = model.predict(x, batch_size=batch_size, verbose=0)
    probs += model.predict(x[:, :, ::-1], batch_size=batch_size, verbose=0)
    return probs / 2


def _val_callback(val: Dataset, history_path: Path):
    import keras

    onehot = np.eye(len(MOODS))[val.labels]

    class ValidationF1(keras.callbacks.Callback):
        """Logs validation loss, accuracy and weighted/macro F1 with flip averaging, as served,
        so that selection, LR schedule and early stopping all see the exported behaviour."""

        def on_epoch_end(self, epoch, logs=None):
            logs = logs if logs is not None else {}
            probs = predict_probs(self.model, val.images)
            report = classification_report(val.labels, probs.argmax(1))
            logs["val_loss"] = float(-(onehot * np.log(np.clip(probs, 1e-7, 1))).sum(1).mean())
            logs["val_accuracy"] = report["accuracy"]
            logs["val_weighted_f1"] = report["weighted_f1"]
            logs["val_macro_f1"] = report["macro_f1"]
            lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            row = {"epoch": epoch + 1, "lr": lr, "time": time.time(),
                   **{k: float(v) for k, v in logs.items()}}
            with history_path.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(f"epoch {epoch + 1}: " + " ".join(f"{k}={v:.4f}" for k, v in row.items()
                                                     if k not in ("epoch", "time")), flush=True)

    return ValidationF1()


def build_network(cfg: TrainConfig, *, weights: str | os.PathLike | None = None):
    """The uncompiled network that `cfg` describes; with `weights` (a .keras or .weights.h5 file)
    loaded when given."""
    from .model import build_mini_xception

    model = build_mini_xception(input_size=cfg.input_size, width=cfg.width, l2=cfg.l2)
    if weights:
        model.load_weights(weights)
    return model


def train(*, data_dir: str | os.PathLike, out_dir: str | os.PathLike, cfg: TrainConfig) -> dict:
    import keras

    from .export import export_tflite
    from .model import load_keras_model

    data_dir, out_dir = Path(data_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(cfg.seed)
    started = time.time()
    (out_dir / CONFIG_NAME).write_text(json.dumps(asdict(cfg), indent=2))  # for export's model card
    train_set, val_set, val_source = split_data(data_dir, cfg.input_size, cfg.seed)
    val_set = blurred(val_set, cfg.validation_blur_sigma)
    weights = class_weights(train_set.labels, cfg.class_weight_power)
    print(f"train {len(train_set)} {train_set.counts()}; validate on {val_source} {len(val_set)}", flush=True)

    model = build_network(cfg)
    model.compile(
        optimizer=keras.optimizers.Adam(cfg.learning_rate),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
        metrics=["accuracy"],
    )
    if cfg.init_weights:
        # weights only; a resumed checkpoint overrides them
        model.set_weights(build_network(cfg, weights=cfg.init_weights).get_weights())
        print(f"starting from the weights in {cfg.init_weights}", flush=True)
    best_path = out_dir / "best.keras"
    done = resume_history(out_dir)  # epochs the checkpoint already holds
    stopping = early_stopping_state(done)
    if done:
        print(f"resuming after epoch {len(done)} (best validation weighted F1 so far "
              f"{stopping['best']:.4f})", flush=True)
    callbacks = [
        _val_callback(val_set, out_dir / "history.jsonl"),
        keras.callbacks.ModelCheckpoint(best_path, monitor="val_weighted_f1", mode="max", save_best_only=True,
                                        initial_value_threshold=stopping.get("best")),
        # every epoch's weights, for averaging the best few at export (see calibrate.py)
        keras.callbacks.ModelCheckpoint(str(out_dir / SNAPSHOTS / "epoch_{epoch:03d}.weights.h5"),
                                        save_weights_only=True),
        _resumed(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=cfg.plateau_factor,
                                                   patience=cfg.plateau_patience, min_lr=cfg.min_learning_rate),
                 plateau_state(done, cfg)),
        _resumed(keras.callbacks.EarlyStopping(monitor="val_weighted_f1", mode="max",
                                               patience=cfg.early_stopping_patience),
                 stopping),
        keras.callbacks.BackupAndRestore(str(out_dir / "checkpoint")),  # resume after interruption
    ]
    history = model.fit(
        _train_pipeline(train_set, cfg, weights),
        epochs=cfg.epochs, callbacks=callbacks, verbose=2,
    )
    best = load_keras_model(best_path)
    report = classification_report(val_set.labels, predict_probs(best, val_set.images).argmax(1))
    rows = [json.loads(line) for line in (out_dir / "history.jsonl").read_text().splitlines()]
    card = {
        "version": f"{MODEL_VERSION_PREFIX}-{time.strftime('%Y%m%d')}-s{cfg.seed}",
        "architecture": "mini-Xception", "parameters": int(best.count_params()),
        "input": {"size": cfg.input_size, "channels": 1, "range": "0..255 grayscale face crop"},
        "classes": list(MOODS),
        "data": {"source": str(data_dir), "train": train_set.counts(), "validation": val_set.counts(),
                 "validation_source": val_source},
        "hyperparameters": asdict(cfg), "class_weights": weights,
        "epochs_run": len(rows), "best_epoch": int(np.argmax([r["val_weighted_f1"] for r in rows]) + 1),
        "training_seconds": round(time.time() - started + _earlier_seconds(rows, history), 1),
        "validation": report, "test_time_augmentation": "horizontal flip, probabilities averaged",
    }
    serving = build_network(cfg)
    serving.set_weights(best.get_weights())  # uncompiled copy: no optimizer state in the file
    serving.save(out_dir / "model.keras")
    export_tflite(serving, out_dir / "model.tflite")
    (out_dir / "model_card.json").write_text(json.dumps(card, indent=2))
    return card


# --- resuming -----------------------------------------------------------------------------------
# BackupAndRestore brings back the weights, the optimizer (learning rate included) and the epoch,
# but not the other callbacks' state: without the helpers below a resumed run would overwrite
# best.keras with its first, possibly worse, epoch and restart the plateau and early-stopping
# counts. They rebuild that state from history.jsonl.

SNAPSHOTS = "epochs"
CONFIG_NAME = "config.json"
PLATEAU_MIN_DELTA = 1e-4  # Keras' ReduceLROnPlateau default


def resume_history(out_dir: Path) -> list[dict]:
    """History rows of the epochs in the checkpoint; rows of any later epoch (ended after the last
    backup, so it will run again) are dropped from history.jsonl. No checkpoint: a fresh history."""
    history = out_dir / "history.jsonl"
    metadata = out_dir / "checkpoint" / "training_metadata.json"
    rows = [json.loads(line) for line in history.read_text().splitlines()] if history.is_file() else []
    done = json.loads(metadata.read_text())["epoch"] if metadata.is_file() else 0
    rows = [r for r in rows if r["epoch"] <= done]
    history.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def early_stopping_state(rows: list[dict]) -> dict:
    if not rows:
        return {}
    scores = [r["val_weighted_f1"] for r in rows]
    best_index = int(np.argmax(scores))  # first maximum: improvements are strict
    return {"best": scores[best_index], "best_epoch": best_index, "wait": len(rows) - 1 - best_index}


def plateau_state(rows: list[dict], cfg: TrainConfig) -> dict:
    """Replay ReduceLROnPlateau over the logged validation losses (the learning rate itself comes
    back with the optimizer)."""
    if not rows:
        return {}
    best, wait = None, 0
    for row in rows:
        if best is None or row["val_loss"] < best - PLATEAU_MIN_DELTA:
            best, wait = row["val_loss"], 0
            continue
        wait += 1
        if wait >= cfg.plateau_patience and row["lr"] > np.float32(cfg.min_learning_rate):
            wait = 0  # the learning rate was reduced at the end of this epoch
    return {"best": best, "wait": wait}


def _resumed(callback, state: dict):
    """The callback, given `state` (attribute values) right after its own on_train_begin reset."""
    if not state:
        return callback
    reset = callback.on_train_begin

    def on_train_begin(logs=None):
        reset(logs)
        for name, value in state.items():
            setattr(callback, name, value)

    callback.on_train_begin = on_train_begin
    return callback


def _earlier_seconds(rows: list[dict], history) -> float:
    """Time spent in runs before a resume (history.jsonl spans all of them)."""
    if len(rows) <= len(history.epoch) or len(rows) < 2:
        return 0.0
    resumed_at = rows[len(rows) - len(history.epoch) - 1]["time"]
    return max(0.0, resumed_at - rows[0]["time"])
