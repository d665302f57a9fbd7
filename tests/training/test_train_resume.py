"""Resuming an interrupted training run: the callbacks' state is rebuilt from history.jsonl."""

import json

import numpy as np

from training.train import (
    TrainConfig,
    early_stopping_state,
    plateau_state,
    resume_history,
)


def _row(epoch, f1, loss, lr=1e-3):
    return {"epoch": epoch, "val_weighted_f1": f1, "val_loss": loss, "lr": lr}


def _write_run(out, rows, checkpoint_epoch):
    (out / "checkpoint").mkdir(parents=True)
    (out / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if checkpoint_epoch is not None:
        (out / "checkpoint" / "training_metadata.json").write_text(json.dumps({"epoch": checkpoint_epoch, "batch": 0}))


def test_resuming_drops_history_rows_of_an_epoch_that_ended_after_the_last_backup(tmp_path):
    _write_run(tmp_path, [_row(1, 0.4, 1.2), _row(2, 0.5, 1.1), _row(3, 0.55, 1.0)], checkpoint_epoch=2)
    rows = resume_history(tmp_path)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 2


def test_a_run_without_a_checkpoint_starts_a_fresh_history(tmp_path):
    _write_run(tmp_path, [_row(1, 0.4, 1.2)], checkpoint_epoch=None)
    assert resume_history(tmp_path) == []
    assert (tmp_path / "history.jsonl").read_text() == ""


def test_early_stopping_resumes_counting_from_the_best_epoch_so_far():
    rows = [_row(1, 0.40, 1.2), _row(2, 0.52, 1.1), _row(3, 0.52, 1.0), _row(4, 0.50, 1.0)]
    assert early_stopping_state(rows) == {"best": 0.52, "best_epoch": 1, "wait": 2}
    assert early_stopping_state([]) == {}


def test_the_plateau_count_restarts_after_each_learning_rate_reduction():
    cfg = TrainConfig(plateau_patience=2)
    losses = [1.0, 0.9, 0.95, 0.93, 0.92, 0.91]  # no improvement after epoch 2: reduced after 4 and 6
    rows = [_row(i + 1, 0.5, loss) for i, loss in enumerate(losses)]
    assert plateau_state(rows, cfg) == {"best": 0.9, "wait": 0}
    rows = [_row(i + 1, 0.5, loss) for i, loss in enumerate(losses[:5])]
    assert plateau_state(rows, cfg) == {"best": 0.9, "wait": 1}


def test_at_the_minimum_learning_rate_the_plateau_count_keeps_growing():
    cfg = TrainConfig(plateau_patience=2, min_learning_rate=1e-5)
    rows = [_row(1, 0.5, 1.0, 1e-5)] + [_row(i, 0.5, 1.0, 1e-5) for i in range(2, 6)]
    assert plateau_state(rows, cfg)["wait"] == 4


def test_the_export_averages_the_weights_of_the_best_epochs(tmp_path):
    from training.calibrate import _averaged, best_epoch_weights
    from training.model import build_mini_xception

    cfg = TrainConfig()
    (tmp_path / "epochs").mkdir()
    scores = {1: 0.3, 2: 0.6, 3: 0.5, 4: 0.7}
    models = {}
    for epoch in scores:
        models[epoch] = build_mini_xception(width=cfg.width, l2=cfg.l2)
        models[epoch].save_weights(tmp_path / "epochs" / f"epoch_{epoch:03d}.weights.h5")
    (tmp_path / "history.jsonl").write_text("".join(json.dumps({"epoch": e, "val_weighted_f1": f}) + "\n"
                                                    for e, f in scores.items()))
    ranked = best_epoch_weights(tmp_path, cfg, 5)
    averaged = _averaged(ranked[:3], cfg)
    best_three = [models[e].get_weights() for e in (4, 2, 3)]
    for got, *parts in zip(averaged.get_weights(), *best_three):
        np.testing.assert_allclose(got, np.mean(parts, axis=0), rtol=1e-6, atol=1e-7)
    assert len(ranked) == 4  # only four snapshots: no average of the best five
    np.testing.assert_array_equal(ranked[0][0], models[4].get_weights()[0])  # best epoch first


def test_a_resumed_callback_keeps_the_rebuilt_state_through_its_own_reset():
    import keras

    from training.train import _resumed

    callback = _resumed(keras.callbacks.EarlyStopping(monitor="val_weighted_f1", mode="max", patience=15),
                        {"best": 0.61, "best_epoch": 7, "wait": 3})
    callback.on_train_begin()
    assert (callback.best, callback.best_epoch, callback.wait) == (0.61, 7, 3)
