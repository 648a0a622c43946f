"""The epoch clock: a training loop is timed to its last batch, a whole epoch to the next epoch's start."""

from __future__ import annotations

import json

from conftest import load_benchmark

clock = load_benchmark("clock")


def test_a_whole_epoch_runs_to_the_next_start_and_the_last_epoch_is_left_out(tmp_path, monkeypatch):
    now = iter([0.0, 1.0, 2.0, 5.0, 6.0, 9.0])  # epoch 0: batch at 1, 2; epoch 1 at 5: batch at 6; epoch 2 at 9
    monkeypatch.setattr(clock.time, "perf_counter", lambda: next(now))
    epochs = clock.EpochClock(str(tmp_path / "epochs.json"))

    epochs.on_train_epoch_start(None, None)
    epochs.on_train_batch_end(None, None, None, None, 0)
    epochs.on_train_batch_end(None, None, None, None, 1)
    epochs.on_train_epoch_start(None, None)
    epochs.on_train_batch_end(None, None, None, None, 0)
    epochs.on_train_epoch_start(None, None)  # the last epoch: no next start ends it
    epochs.on_fit_end(None, None)

    written = json.loads((tmp_path / "epochs.json").read_text())["epochs"]
    assert written == [{"train_s": 2.0, "epoch_s": 5.0}, {"train_s": 1.0, "epoch_s": 4.0}]
