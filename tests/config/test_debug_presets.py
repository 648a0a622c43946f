"""The debugging presets (conf/debug) and the early-stopping callbacks preset do what their comments say."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from pytorch_lightning.callbacks import ModelCheckpoint

from framework.train.build import build_callbacks, build_parts
from framework.train.callbacks import EarlyStop
from framework.train.run import run

SMALL = ("trainer=default", "model.dim=16", "model.layers=1", "logger=csv")


def logged(folder: Path, metric: str) -> list[dict[str, str]]:
    """The rows of the run's CSV log that hold ``metric``."""
    with (folder / "csv" / "metrics.csv").open(newline="") as file:
        return [row for row in csv.DictReader(file) if row[metric]]


def test_fdr_runs_one_batch_of_each_split(make_config):
    results = run(make_config(*SMALL, "debug=fdr"))
    assert results["status"] == "ok" and results["epochs"] == 1


def test_limit_runs_three_epochs_of_three_batches(make_config, tmp_path):
    run(make_config(*SMALL, "debug=limit"))
    train = logged(tmp_path / "run", "train/loss")
    assert len(logged(tmp_path / "run", "val/acc")) == 3
    assert [int(row["step"]) for row in train] == [2, 5, 8]  # 3 optimizer steps per epoch


def test_overfit_trains_on_one_batch_until_it_fits(make_config, tmp_path):
    run(make_config("trainer=default", "logger=csv", "debug=overfit", "model=cnn", "trainer.max_epochs=80"))
    train = logged(tmp_path / "run", "train/acc")
    assert [int(row["step"]) for row in train][:3] == [0, 1, 2]  # one batch per epoch
    assert float(train[-1]["train/acc"]) > 0.9


def test_profiler_reports_the_time_of_each_hook(make_config, caplog):
    with caplog.at_level(logging.INFO):
        run(make_config(*SMALL, "debug=profiler"))
    assert "FIT Profiler Report" in caplog.text and "run_training_epoch" in caplog.text


def test_the_early_stopping_preset_adds_early_stopping_to_the_defaults(make_config):
    cfg = make_config("callbacks=early_stopping")
    callbacks = build_callbacks(cfg.callbacks, build_parts(cfg).modality.spec)
    (stop,) = [callback for callback in callbacks if isinstance(callback, EarlyStop)]
    assert stop.monitors == ("val/loss", "val/acc") and stop.patience == 10
    assert any(isinstance(callback, ModelCheckpoint) for callback in callbacks)  # the default callbacks stay
