"""Early stopping by the papers' rules: GAT's patience on its best metrics, GCN's window mean of the loss."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from framework.core.errors import ConfigError
from framework.train.callbacks import EarlyStop


def validations(callback: EarlyStop, history: list[dict[str, float]]) -> int | None:
    """Feeds ``history`` to ``callback`` one validation at a time; the 1-based validation it stops after, or None."""
    trainer = SimpleNamespace(sanity_checking=False, should_stop=False, callback_metrics={})
    for number, metrics in enumerate(history, start=1):
        trainer.callback_metrics = {name: torch.tensor(value) for name, value in metrics.items()}
        callback.on_validation_end(trainer, None)
        if trainer.should_stop:
            return number
    return None


def test_best_rule_stops_after_patience_validations_with_no_metric_improving():
    losses = [1.0, 0.9, 0.95, 0.96, 0.97]
    accs = [0.5, 0.6, 0.55, 0.55, 0.55]
    history = [{"val/loss": loss, "val/acc": acc} for loss, acc in zip(losses, accs)]
    assert validations(EarlyStop(["val/loss", "val/acc"], patience=3), history) == 5


def test_best_rule_keeps_going_while_any_metric_improves():
    history = [{"val/loss": 1.0 + step, "val/acc": 0.1 * step} for step in range(6)]  # loss worse, accuracy better
    assert validations(EarlyStop(["val/loss", "val/acc"], patience=2), history) is None


def test_mean_rule_stops_when_the_loss_is_above_its_mean_over_the_window_before():
    losses = [1.0, 0.8, 0.7, 0.75, 0.74, 0.9]
    history = [{"val/loss": loss} for loss in losses]
    # window 3: at 0.75 the mean before is (1.0 + 0.8 + 0.7) / 3 = 0.83; at 0.74, 0.75; at 0.9, 0.73 → stop
    assert validations(EarlyStop("val/loss", patience=3, rule="mean"), history) == 6


def test_its_state_survives_a_resume():
    first = EarlyStop(["val/loss", "val/acc"], patience=3)
    validations(first, [{"val/loss": 1.0, "val/acc": 0.5}, {"val/loss": 1.1, "val/acc": 0.4}])
    resumed = EarlyStop(["val/loss", "val/acc"], patience=3)
    resumed.load_state_dict(first.state_dict())
    assert (resumed.best, resumed.waited) == ({"val/loss": 1.0, "val/acc": 0.5}, 1)


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"monitor": "val/loss", "patience": 0}, "patience"),
        ({"monitor": [], "patience": 5}, "monitor"),
        ({"monitor": "val/loss", "patience": 5, "rule": "median"}, "rule"),
        ({"monitor": ["val/loss", "val/acc"], "patience": 5, "rule": "mean"}, "monitor"),
    ],
    ids=["patience_zero", "no_monitor", "unknown_rule", "mean_of_two"],
)
def test_bad_settings_are_config_errors(options, key):
    with pytest.raises(ConfigError) as error:
        EarlyStop(**options)
    assert error.value.key == key
