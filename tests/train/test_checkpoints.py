"""What a run tests is a checkpoint it chose on validation, and checkpoints are written whole or not at all."""

from __future__ import annotations

import os

import pytest
import torch

from framework.core.errors import NoCheckpoint
from framework.train.checkpoint_io import AtomicCheckpointIO
from framework.train.run import run


def test_a_run_that_never_validates_tests_nothing(make_config, tmp_path):
    cfg = make_config(  # training stops after its first step, before the first epoch ends and validates
        "trainer=default",
        "model.dim=16",
        "model.layers=1",
        "trainer.max_epochs=2",
        "+trainer.max_steps=1",
    )

    with pytest.raises(NoCheckpoint, match=r"^training ended after \d+ steps without a validation score"):
        run(cfg)

    assert not (tmp_path / "run" / "results.json").exists()


def test_a_checkpoint_is_written_through_a_temporary_file_beside_it_then_renamed(tmp_path, monkeypatch):
    path, renames = tmp_path / "checkpoints" / "best.ckpt", []
    replace = os.replace
    monkeypatch.setattr(
        os, "replace", lambda source, target: (renames.append((source, target)), replace(source, target))
    )

    AtomicCheckpointIO().save_checkpoint({"weights": torch.ones(3)}, path)

    [(source, target)] = renames
    assert target == path and source.parent == path.parent  # the same file system: the rename is atomic
    assert torch.equal(torch.load(path, weights_only=True)["weights"], torch.ones(3))
    assert sorted(p.name for p in path.parent.iterdir()) == ["best.ckpt"]


def test_a_save_that_fails_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    path = tmp_path / "best.ckpt"
    AtomicCheckpointIO().save_checkpoint({"epoch": 1}, path)
    monkeypatch.setattr(torch, "save", lambda *args, **kwargs: (_ for _ in ()).throw(OSError("disk full")))

    with pytest.raises(OSError, match="disk full"):
        AtomicCheckpointIO().save_checkpoint({"epoch": 2}, path)

    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["best.ckpt"]
