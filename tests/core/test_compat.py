"""The compatibility check, and every modality × model config pair end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import config_names

from framework.core.compat import check_compatible, missing_for
from framework.core.errors import IncompatibleError
from framework.core.spec import Layout, ModalitySpec, Target
from framework.train.run import run
from plugins.models.cnn import ConvEncoder

GRAPH = ModalitySpec(
    "graph", "cora", Layout.GRAPH, Target.ELEMENT, 7, scopes=("graph", "full"), max_positions=1, has_edges=True
)


def test_a_cnn_on_a_graph_fails_naming_the_modality_the_model_and_what_is_missing():
    with pytest.raises(IncompatibleError) as error:
        check_compatible(GRAPH, ConvEncoder.requirement(), "cnn")
    assert str(error.value) == (
        "model 'cnn' cannot run on modality 'graph': it needs a grid or sequence layout, and graph has a graph layout"
    )


def test_an_attention_scope_the_modality_does_not_offer_is_incompatible():
    from plugins.models.attn import AttentionEncoder

    assert "scope 'window' is not offered by graph" in missing_for(GRAPH, AttentionEncoder.requirement(scope="window"))


def test_a_model_that_reads_raw_features_needs_a_modality_that_offers_them():
    from plugins.models.mlp import MLPEncoder

    text = ModalitySpec("text", "ud_ewt", Layout.SEQUENCE, Target.ELEMENT, 17, scopes=("full",), max_positions=64)
    assert missing_for(text, MLPEncoder.requirement(inputs="raw")) == (
        "it reads raw features, and text offers none; set model.inputs=shared"
    )
    graph = ModalitySpec(**{**GRAPH.__dict__, "raw_features": 1433})
    assert missing_for(graph, MLPEncoder.requirement(inputs="raw")) is None


@pytest.mark.parametrize("model", config_names("model"))
@pytest.mark.parametrize("modality", config_names("modality"))
def test_every_config_pair_runs_one_step_or_fails_the_compatibility_check(make_config, modality, model):
    cfg = make_config(f"modality={modality}", f"model={model}")
    try:
        results = run(cfg)
    except IncompatibleError as error:
        assert str(error).startswith(f"model '{model}' cannot run on modality '{modality}': ")
        return
    assert 0.0 <= results["test"]["acc"] <= 1.0 and results["params"] > 0
    assert json.loads((Path(cfg.output_dir) / "results.json").read_text()) == results
