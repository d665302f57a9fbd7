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

from inference.errors import InferenceError
from inference.labels import EMOTIONS, MOODS, emotion_to_mood_matrix

from .data import Dataset, load_dataset, read_ferplus_votes
from .export import export_tflite
from .metrics import classification_report
from .model import build_mini_xception, load_keras_model, mood_network
from .networks import is_served_model, load_served_member

MODEL_VERSION_PREFIX = "mini-xception-4mood"
# Mixup's Beta(alpha, alpha): below 0.1 its gamma draws underflow float32 (blends come out
# half and half instead of untouched); above 10 nearly every blend is half and half, two faces
# that no longer look like one.
MIN_MIXUP_ALPHA, MAX_MIXUP_ALPHA = 0.1, 10.0


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
    # "plateau": Adam halved after plateau_patience epochs without a lower validation loss (the
    # published recipe). "cosine": warm-up, then cosine decay to min_learning_rate over `epochs`,
    # which spends a fixed budget of epochs without a schedule that stalls early.
    schedule: str = "plateau"
    warmup_epochs: int = 2
    plateau_patience: int = 2
    plateau_factor: float = 0.5
    min_learning_rate: float = 1e-5
    class_weight_power: float = 0.5  # 0 = none, 1 = fully balanced; 0.5 = inverse sqrt frequency
    augment_shift: float = 0.1
    augment_rotation_deg: float = 10.0
    augment_zoom: float = 0.1
    # Random erasing (Zhong et al. 2017): the chance that a random rectangle of 2-20% of the face
    # is replaced by noise. 0 = off.
    random_erasing: float = 0.0
    # Mixup (Zhang et al. 2018): each training image is blended with another of its batch, and its
    # target and sample weight in the same proportion, the share drawn from Beta(mixup, mixup)
    # and kept at 0.5 or more for the image's own. The value is the Beta's alpha; 0 = off.
    mixup: float = 0.0
    # "moods": a 4-way softmax. "emotions": a 7-way softmax over FER2013's emotions, trained on the
    # emotion labels, whose probabilities are summed into the four moods (served as moods).
    head: str = "moods"
    # Weight of the FER+ crowd-vote distribution in each training target (the rest is the FER2013
    # label); 0 = FER2013 labels only. Needs ferplus_votes.csv beside train/.
    ferplus_weight: float = 0.0
    # Leave out training images that most FER+ annotators call "unknown" or "not a face".
    ferplus_drop_unusable: bool = False
    # Warm restart: start from an earlier run's weights (its best.keras or an epoch snapshot) with
    # a fresh optimizer at learning_rate, instead of from random weights. None: from scratch.
    init_weights: str | None = None
    # Distillation (Hinton et al. 2015): a served model (a .keras from export, an ensemble
    # included) whose probabilities, averaged over each training image and its mirror, make up
    # `teacher_weight` of every target. One small network then learns what several larger or
    # more numerous ones know, at one network's serving cost. None: no teacher.
    teacher: str | None = None
    teacher_weight: float = 0.0

    def __post_init__(self) -> None:
        for share in ("ferplus_weight", "teacher_weight", "random_erasing", "label_smoothing"):
            value = getattr(self, share)
            if not 0 <= value <= 1:  # also false for NaN
                raise InferenceError(f"{share} must be between 0 and 1, not {value}")
        if not (self.mixup == 0 or MIN_MIXUP_ALPHA <= self.mixup <= MAX_MIXUP_ALPHA):  # also false for NaN
            raise InferenceError(f"mixup must be 0 (off) or between {MIN_MIXUP_ALPHA:g} and "
                                 f"{MAX_MIXUP_ALPHA:g}, not {self.mixup}")
        if bool(self.teacher) != (self.teacher_weight > 0):
            raise InferenceError("a teacher needs a teacher_weight above 0, and a teacher_weight needs a teacher")

    @property
    def num_classes(self) -> int:
        return len(EMOTIONS) if self.head == "emotions" else len(MOODS)


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
    return subset(train, ~val_mask), subset(train, val_mask), "10% of train/"


def subset(data: Dataset, mask: np.ndarray) -> Dataset:
    emotions = None if data.emotions is None else data.emotions[mask]
    return Dataset(data.images[mask], data.labels[mask], tuple(np.array(data.paths)[mask]), emotions)


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


def training_targets(train: Dataset, cfg: TrainConfig, data_dir: Path) -> tuple[Dataset, np.ndarray, str]:
    """The training set (FER+'s unusable images dropped when asked) and one target distribution
    per image over the head's classes: the FER2013 label, mixed with the FER+ votes when asked."""
    note = "FER2013 labels"
    wanted = cfg.ferplus_weight > 0 or cfg.ferplus_drop_unusable
    votes = read_ferplus_votes(data_dir, train.paths) if wanted else None
    if votes is not None and cfg.ferplus_drop_unusable and votes.unusable.any():
        note += f"; {int(votes.unusable.sum())} images most FER+ annotators call unusable left out"
        keep = ~votes.unusable
        train, votes = subset(train, keep), type(votes)(votes.distributions[keep], votes.unusable[keep])
    if cfg.head == "emotions":
        if train.emotions is None or (train.emotions < 0).any():
            raise ValueError("an emotion head needs class folders named by the seven FER2013 emotions")
        targets = np.eye(len(EMOTIONS), dtype="float32")[train.emotions]
    else:
        targets = np.eye(len(MOODS), dtype="float32")[train.labels]
    if votes is not None and cfg.ferplus_weight > 0:
        shares = votes.distributions
        if cfg.head != "emotions":
            shares = shares @ emotion_to_mood_matrix()
        has = ~np.isnan(shares).any(1)
        targets[has] = (1 - cfg.ferplus_weight) * targets[has] + cfg.ferplus_weight * shares[has]
        note += f"; {cfg.ferplus_weight:g} of the target from FER+ votes ({int(has.sum())} images)"
    if cfg.teacher:  # the config holds a teacher_weight above 0 with it
        taught = teacher_probs(Path(cfg.teacher), train.images, cfg.num_classes)
        targets = (1 - cfg.teacher_weight) * targets + cfg.teacher_weight * taught
        note += f"; {cfg.teacher_weight:g} of the target from the teacher {Path(cfg.teacher).name}"
    return train, targets, note


def teacher_probs(path: Path, images: np.ndarray, num_classes: int) -> np.ndarray:
    """The served model at `path`, its calibration taken out, as soft targets: its probabilities
    over the student's classes, averaged over each image and its mirror (as served)."""
    if not is_served_model(path):
        raise InferenceError(f"teacher {path} is not a serving .keras file")
    network, _ = load_served_member(path)
    probs = flip_averaged(network, images)
    if probs.shape[1] != num_classes:
        raise InferenceError(f"the teacher has {probs.shape[1]} classes, the student {num_classes}")
    return probs.astype("float32")


def random_erasing(images, probability: float):
    """Each image of the batch, with `probability`, gets one rectangle (2-20% of its area, aspect
    0.3-3.3) replaced by uniform noise."""
    import tensorflow as tf

    n = tf.shape(images)[0]
    h, w = images.shape[1], images.shape[2]
    area = tf.random.uniform([n], 0.02, 0.2) * h * w
    aspect = tf.exp(tf.random.uniform([n], np.log(0.3), np.log(1 / 0.3)))
    eh = tf.minimum(tf.sqrt(area * aspect), float(h))
    ew = tf.minimum(tf.sqrt(area / aspect), float(w))
    top = tf.random.uniform([n]) * (h - eh)
    left = tf.random.uniform([n]) * (w - ew)
    rows = tf.range(h, dtype=tf.float32)[None, :, None]
    cols = tf.range(w, dtype=tf.float32)[None, None, :]
    inside = ((rows >= top[:, None, None]) & (rows < (top + eh)[:, None, None])
              & (cols >= left[:, None, None]) & (cols < (left + ew)[:, None, None]))
    chosen = tf.random.uniform([n]) < probability
    mask = (inside & chosen[:, None, None])[..., None]
    noise = tf.random.uniform(tf.shape(images), 0.0, 255.0)
    return tf.where(mask, noise, images)


def mixup(images, targets, weights, alpha: float):
    """Blend each image of the batch with another image of the batch (a random permutation), and
    its target and sample weight in the same proportion; the own image's share is max(l, 1 - l) for
    l ~ Beta(alpha, alpha), so each blend keeps a dominant face."""
    import tensorflow as tf

    n = tf.shape(images)[0]
    a, b = tf.random.gamma([n], alpha), tf.random.gamma([n], alpha)
    share = tf.math.divide_no_nan(a, a + b)  # Beta(alpha, alpha); both gammas can underflow to 0
    share = tf.maximum(share, 1 - share)
    other = tf.random.shuffle(tf.range(n))

    def blend(t, own):
        return own * t + (1 - own) * tf.gather(t, other)

    return blend(images, share[:, None, None, None]), blend(targets, share[:, None]), blend(weights, share)


def _train_pipeline(train: Dataset, targets: np.ndarray, cfg: TrainConfig, weights: dict[int, float]):
    import tensorflow as tf

    augment = _augmenter(cfg)
    sample_w = np.array([weights[int(y)] for y in train.labels], dtype="float32")
    ds = tf.data.Dataset.from_tensor_slices((train.images.astype("float32"), targets, sample_w))
    ds = ds.shuffle(len(train), seed=cfg.seed, reshuffle_each_iteration=True)
    # Full batches only: with oneDNN on, the short last batch of an epoch crashed TF 2.21
    # ("free(): invalid pointer"); reshuffling each epoch still uses every image.
    ds = ds.batch(cfg.batch_size, drop_remainder=True)

    def transform(x, y, w):
        x = augment(x, training=True)
        if cfg.random_erasing > 0:
            x = random_erasing(x, cfg.random_erasing)
        if cfg.mixup > 0:
            x, y, w = mixup(x, y, w, cfg.mixup)
        return x, y, w

    ds = ds.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def flip_averaged(model, images: np.ndarray, *, batch_size: int = 512) -> np.ndarray:
    """The model's probabilities over its own classes, averaged over the image and its mirror."""
    x = images.astype("float32")
    probs = model.predict(x, batch_size=batch_size, verbose=0)
    probs += model.predict(x[:, :, ::-1], batch_size=batch_size, verbose=0)
    return probs / 2


def predict_probs(model, images: np.ndarray, *, batch_size: int = 512) -> np.ndarray:
    """Mood probabilities, averaged over the image and its mirror (test-time flip). A network
    with an emotion head has its emotion probabilities summed into moods."""
    probs = flip_averaged(model, images, batch_size=batch_size)
    if probs.shape[1] == len(EMOTIONS):
        probs = probs @ emotion_to_mood_matrix()
    return probs


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


def learning_rate_schedule(cfg: TrainConfig, steps_per_epoch: int):
    """Adam's learning rate: a constant (that ReduceLROnPlateau lowers) for "plateau"; linear
    warm-up then cosine decay to min_learning_rate, by optimizer step, for "cosine" (a resumed run
    carries on from the optimizer's step count)."""
    import keras

    if cfg.schedule == "plateau":
        return cfg.learning_rate
    if cfg.schedule != "cosine":
        raise ValueError(f"unknown schedule {cfg.schedule!r}")
    warmup = cfg.warmup_epochs * steps_per_epoch
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=cfg.min_learning_rate, warmup_target=cfg.learning_rate, warmup_steps=warmup,
        decay_steps=max(1, cfg.epochs * steps_per_epoch - warmup), alpha=cfg.min_learning_rate / cfg.learning_rate)


def build_network(cfg: TrainConfig, *, weights: str | os.PathLike | None = None):
    """The uncompiled network that `cfg` describes; with `weights` (a .keras or .weights.h5 file)
    loaded when given."""
    model = build_mini_xception(input_size=cfg.input_size, width=cfg.width, l2=cfg.l2,
                                num_classes=cfg.num_classes)
    if weights:
        model.load_weights(weights)
    return model


def train(*, data_dir: str | os.PathLike, out_dir: str | os.PathLike, cfg: TrainConfig) -> dict:
    import keras

    data_dir, out_dir = Path(data_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(cfg.seed)
    started = time.time()
    (out_dir / CONFIG_NAME).write_text(json.dumps(asdict(cfg), indent=2))  # for export's model card
    train_set, val_set, val_source = split_data(data_dir, cfg.input_size, cfg.seed)
    train_set, targets, target_note = training_targets(train_set, cfg, data_dir)
    weights = class_weights(train_set.labels, cfg.class_weight_power)  # by mood, whatever the head
    print(f"train {len(train_set)} {train_set.counts()} ({target_note}); "
          f"validate on {val_source} {len(val_set)}", flush=True)

    model = build_network(cfg)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate_schedule(cfg, len(train_set) // cfg.batch_size)),
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
        *([_resumed(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=cfg.plateau_factor,
                                                      patience=cfg.plateau_patience,
                                                      min_lr=cfg.min_learning_rate),
                    plateau_state(done, cfg))] if cfg.schedule == "plateau" else []),
        _resumed(keras.callbacks.EarlyStopping(monitor="val_weighted_f1", mode="max",
                                               patience=cfg.early_stopping_patience),
                 stopping),
        keras.callbacks.BackupAndRestore(str(out_dir / "checkpoint")),  # resume after interruption
    ]
    history = model.fit(
        _train_pipeline(train_set, targets, cfg, weights),
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
        "data": {"source": str(data_dir), "train": train_set.counts(), "targets": target_note,
                 "validation": val_set.counts(),
                 "validation_source": val_source},
        "hyperparameters": asdict(cfg), "class_weights": weights,
        "epochs_run": len(rows), "best_epoch": int(np.argmax([r["val_weighted_f1"] for r in rows]) + 1),
        "training_seconds": round(time.time() - started + _earlier_seconds(rows, history), 1),
        "validation": report, "test_time_augmentation": "horizontal flip, probabilities averaged",
    }
    network = build_network(cfg)
    network.set_weights(best.get_weights())  # uncompiled copy: no optimizer state in the file
    network.save(out_dir / "model.keras")  # the network itself: loadable by --init-weights
    export_tflite(mood_network(network), out_dir / "model.tflite")  # served as moods
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
