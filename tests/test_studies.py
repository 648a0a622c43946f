"""The lecture's studies: every preset composes, every arm runs a step, and each verdict reads its numbers right."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from conftest import CONF
from framework.report import Row, Run
from framework.runner import run

STUDIES = sorted(path.stem for path in (CONF / "experiment" / "claims").glob("*.yaml"))


def sweep_params(study: str, size: str) -> dict[str, list[str]]:
    """The study preset's sweep: each swept key and its values."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[f"experiment=claims/{study}", f"study={size}"], return_hydra_config=True)
    return {key: str(values).split(",") for key, values in cfg.hydra.sweeper.params.items()}


@pytest.mark.parametrize("size", ["quick", "full"])
@pytest.mark.parametrize("study", STUDIES)
def test_each_study_sweeps_its_arms_over_at_least_three_seeds(study, size):
    params = sweep_params(study, size)
    assert len(params["seed"]) >= 3
    assert all(arm.startswith(f"{study}/") for arm in params["+arm"])
    assert all((CONF / "arm" / f"{arm}.yaml").is_file() for arm in params["+arm"])


@pytest.mark.parametrize(("study", "arm"), [(s, a) for s in STUDIES for a in sweep_params(s, "quick")["+arm"]])
def test_each_arm_of_each_quick_study_runs_one_step(make_config, study, arm):
    cfg = make_config(f"experiment=claims/{study}", "study=quick", f"+arm={arm}")

    results = run(cfg, overrides=[f"experiment=claims/{study}", "study=quick", f"+arm={arm}"])

    assert results["status"] == "ok"
    assert results["study"] == study and results["study_info"]["size"] == "quick"
    assert results["variant"] == f"arm={arm}"


def rows(study: str, arms: dict[str, list[float]], metric: str = "acc", extra: str = "") -> list[Row]:
    """Report rows for ``study`` whose arms scored ``arms[name]`` over seeds."""
    made = []
    for name, scores in arms.items():
        variant = f"arm={study}/{name}" + (f" {extra}" if extra else "")
        runs = [Run(CONF, {"status": "ok", "seed": seed, "test": {metric: score}}) for seed, score in enumerate(scores)]
        made.append(Row(study, "m", "d", name, variant, runs))
    return made


def test_s5_is_supported_when_edges_match_a_gnn_and_full_attention_falls_behind():
    from studies.s5_graph import verdict

    found = verdict(rows("s5_graph", {"attn_edges": [0.79, 0.80], "attn_full": [0.50, 0.52],
                                      "gcn": [0.80, 0.81], "gat": [0.79, 0.80]}))
    assert found.supported is True
    assert "attention over edges 0.795 ± 0.007 matches the better GNN (gcn) 0.805 ± 0.007 (tolerance 0.020" in found.reason


def test_s5_is_not_supported_when_full_attention_does_as_well():
    from studies.s5_graph import verdict

    found = verdict(rows("s5_graph", {"attn_edges": [0.80], "attn_full": [0.78], "gcn": [0.80], "gat": [0.79]}))
    assert found.supported is False and "not far behind" in found.reason


def test_a_study_with_a_missing_arm_is_inconclusive():
    from studies.s5_graph import verdict

    found = verdict(rows("s5_graph", {"attn_edges": [0.8], "gcn": [0.8], "gat": [0.8]}))
    assert found.supported is None and found.reason == "no finished runs for attn_full; nothing to conclude"


def test_s1_is_supported_when_a_wider_window_helps_on_ambiguous_words_and_whole_sentences_hold():
    from studies.s1_context import verdict

    scores = {"window_1": [0.90, 0.91], "window_3": [0.95, 0.95], "window_5": [0.95, 0.96], "attn": [0.955, 0.955],
              "rnn": [0.96, 0.96]}
    assert verdict(rows("s1_context", scores, metric="acc_ambiguous")).supported is True


def test_s4_is_supported_when_the_cnn_leads_on_little_data_and_the_gap_closes():
    from studies.s4_data_size import verdict

    found = verdict(
        rows("s4_data_size", {"cnn": [0.90]}, extra="modality.train_fraction=0.1")
        + rows("s4_data_size", {"cnn": [0.98]}, extra="modality.train_fraction=1.0")
        + rows("s4_data_size", {"attn_full": [0.70]}, extra="modality.train_fraction=0.1")
        + rows("s4_data_size", {"attn_full": [0.95]}, extra="modality.train_fraction=1.0")
        + rows("s4_data_size", {"attn_local": [0.80]}, extra="modality.train_fraction=0.1")
        + rows("s4_data_size", {"attn_local": [0.97]}, extra="modality.train_fraction=1.0")
    )
    assert found.supported is True
    assert "CNN minus full attention: +0.200 at 0.1, +0.030 at 1" in found.reason
