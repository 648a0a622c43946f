"""The lecture's tagging claim on the generated ambiguity task.

A window of ±k cannot see a cue k+1 words away; attention and a bi-RNN can.
"""

from __future__ import annotations

import pytest

from framework.train.run import run

DISTANCE = 3
TASK = [
    "modality=text",
    "modality.dataset=ambiguity",
    f"modality.distance={DISTANCE}",
    "modality.sentences=1000",
    "trainer.fast_dev_run=false",
    "trainer.max_epochs=10",
    "trainer.enable_model_summary=false",
]


def ambiguous_accuracy(make_config, *model: str) -> float:
    return run(make_config(*TASK, *model))["test"]["acc_ambiguous"]


def test_window_fc_with_a_window_shorter_than_the_distance_guesses_ambiguous_tags_at_chance(make_config):
    assert 0.35 <= ambiguous_accuracy(make_config, "model=window_fc", f"model.window={DISTANCE - 1}") <= 0.65


def test_window_fc_with_a_window_reaching_the_cue_tags_ambiguous_words(make_config):
    assert ambiguous_accuracy(make_config, "model=window_fc", f"model.window={DISTANCE}") >= 0.95


@pytest.mark.parametrize(
    "model", [["model=attn", "model.positional.kind=sinusoidal"], ["model=rnn", "model.bidirectional=true"]]
)
def test_attention_with_positions_and_a_bidirectional_rnn_tag_ambiguous_words(make_config, model):
    assert ambiguous_accuracy(make_config, *model) >= 0.95
