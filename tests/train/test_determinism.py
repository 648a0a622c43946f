"""Results that repeat exactly: the same config and seed twice give identical metrics on the CPU, for every modality."""

from __future__ import annotations

import pytest

from framework.train.run import run

# Two short epochs (a few batches each) with dropout on: enough to involve shuffling, dropout and the schedule.
SHORT = [
    "trainer=default",
    "trainer.max_epochs=2",
    "+trainer.limit_train_batches=4",
    "+trainer.limit_val_batches=2",
    "+trainer.limit_test_batches=2",
    "callbacks.attention_maps=null",
]
CASES = {
    "image": ["modality=image", "model=attn", "model.dim=16", "model.layers=1"],
    "text": ["modality=text", "model=attn", "model.dim=16", "model.layers=1", "modality.train_fraction=0.05"],
    "speech": ["modality=speech", "model=attn", "model.dim=16", "model.layers=1", "modality.task=utterance"],
    "graph": ["modality=graph", "model=attn", "model.dim=16", "model.layers=1", "model.scope=graph"],
}


def metrics(results: dict) -> dict:
    """What must repeat: every validation and test metric, and how long training ran."""
    return {key: results[key] for key in ("test", "best_val", "epochs", "params")}


@pytest.mark.parametrize("modality", sorted(CASES))
def test_the_same_config_and_seed_give_identical_metrics(make_config, tmp_path, modality):
    first = metrics(run(make_config(*CASES[modality], *SHORT, f"output_dir={tmp_path / 'first'}")))
    second = metrics(run(make_config(*CASES[modality], *SHORT, f"output_dir={tmp_path / 'second'}")))

    assert first == second
    assert first["test"]["acc"] is not None


def test_another_seed_gives_other_metrics(make_config, tmp_path):
    first = metrics(run(make_config(*CASES["image"], *SHORT, f"output_dir={tmp_path / 'first'}")))
    other = metrics(run(make_config(*CASES["image"], *SHORT, "seed=1", f"output_dir={tmp_path / 'other'}")))

    assert first["test"] != other["test"]
