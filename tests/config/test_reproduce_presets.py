"""The reproduction presets (conf/experiment/reproduce): each composes and builds its parts with no data loaded."""

from __future__ import annotations

import pytest
from conftest import CONF

from framework.train.build import build_parts

PRESETS = sorted(path.stem for path in (CONF / "experiment" / "reproduce").glob("*.yaml"))


@pytest.mark.parametrize("preset", PRESETS)
def test_a_preset_builds_and_cites_the_figure_it_reproduces(make_config, preset):
    parts = build_parts(make_config(f"experiment=reproduce/{preset}"))
    assert parts.modality.spec.name in ("graph", "text")
    header = (CONF / "experiment" / "reproduce" / f"{preset}.yaml").read_text().split("defaults:")[0]
    assert "reports" in header and "%" in header, "a preset cites the figure it reproduces"


def test_the_gcn_preset_decays_only_the_first_layer(make_config):
    parts = build_parts(make_config("experiment=reproduce/gcn_cora"))
    named = [(f"encoder.{name}", parameter) for name, parameter in parts.encoder.named_parameters()]
    decayed, rest = parts.optimizer.split(named)
    assert decayed["weight_decay"] == 5e-4 and "weight_decay" not in rest
    assert [p.shape for p in decayed["params"]] == [p.shape for p in parts.encoder.layers[0].parameters()]
