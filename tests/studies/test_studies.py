"""The lecture's studies: every preset composes, every arm runs a step, and each verdict reads its numbers right."""

from __future__ import annotations

import pytest
from conftest import CONF
from hydra import compose, initialize_config_dir

from framework.analysis.rows import Row, Run
from framework.train.run import run

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

    found = verdict(
        rows(
            "s5_graph",
            {"attn_edges": [0.79, 0.80], "attn_full": [0.50, 0.52], "gcn": [0.80, 0.81], "gat": [0.79, 0.80]},
        )
    )
    assert found.supported is True
    assert (
        "attention over edges 0.795 ± 0.007 matches the better GNN (gcn) 0.805 ± 0.007 (tolerance 0.020" in found.reason
    )


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

    scores = {
        "window_1": [0.90, 0.91],
        "window_3": [0.95, 0.95],
        "window_5": [0.95, 0.96],
        "attn": [0.955, 0.955],
        "rnn": [0.96, 0.96],
    }
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


@pytest.mark.parametrize("modality", ["text", "image"])
def test_without_positions_shuffling_a_sets_inputs_shuffles_its_outputs(make_config, modality):
    cfg = make_config("experiment=claims/s2_positions", "study=quick", f"+arm=s2_positions/{modality}_none")
    checks = run(cfg)["checks"]
    assert checks["permutation_equivariant"] is True and checks["permutation_deviation"] < 1e-5


@pytest.mark.parametrize("kind", ["sinusoidal", "learned"])
def test_with_positions_shuffling_the_inputs_changes_the_outputs(make_config, kind):
    cfg = make_config("experiment=claims/s2_positions", "study=quick", f"+arm=s2_positions/text_{kind}")
    checks = run(cfg)["checks"]
    assert checks["permutation_equivariant"] is False and checks["permutation_deviation"] > 1e-2


def test_a_shuffle_moves_real_elements_only():
    import torch

    from framework.train.probes import shuffle_within_sets

    mask = torch.tensor([[True, True, True, False], [True, False, False, False]])
    index = shuffle_within_sets(mask, torch.Generator().manual_seed(0))
    assert sorted(index[0, :3].tolist()) == [0, 1, 2] and index[0, 3] == 3
    assert index[1].tolist() == [0, 1, 2, 3]


def test_s2_is_supported_when_only_runs_without_positions_are_equivariant_and_positions_help():
    from studies.s2_positions import verdict

    made = []
    for modality in ("text", "image"):
        for kind, score in (("none", 0.5), ("sinusoidal", 1.0), ("learned", 0.98)):
            metric = "acc_ambiguous" if modality == "text" else "acc"
            (row,) = rows("s2_positions", {f"{modality}_{kind}": [score]}, metric=metric)
            row.runs[0].results["checks"] = {"permutation_equivariant": kind == "none"}
            made.append(row)
    found = verdict(made)
    assert found.supported is True and "positions add +0.500 on text" in found.reason


def test_the_scaling_probe_times_each_length_and_measures_its_peak_memory(make_config):
    cfg = make_config(
        "experiment=claims/s3_truncated",
        "study=quick",
        "+arm=s3_truncated/window_16",
        "callbacks.scaling.lengths=[64,128]",
        "callbacks.scaling.repeats=1",
    )
    scaling = run(cfg)["checks"]["scaling"]
    assert [point["length"] for point in scaling] == [64, 128]
    assert all(point["step_s"] > 0 and point["peak_extra_mb"] is not None for point in scaling)


def test_the_scaling_probe_sees_full_attentions_memory_grow_with_the_length(make_config):
    cfg = make_config(
        "experiment=claims/s3_truncated",
        "study=quick",
        "+arm=s3_truncated/full",
        "callbacks.scaling.lengths=[256,1024]",
        "callbacks.scaling.repeats=1",
    )
    short, long = run(cfg)["checks"]["scaling"]
    assert long["peak_extra_mb"] > max(10.0, 4 * short["peak_extra_mb"])


def test_the_scaling_probe_stops_growing_after_a_step_slower_than_its_limit(make_config):
    cfg = make_config(
        "experiment=claims/s3_truncated",
        "study=quick",
        "+arm=s3_truncated/full",
        "callbacks.scaling.lengths=[64,128,256]",
        "callbacks.scaling.repeats=1",
        "callbacks.scaling.max_step_s=1e-9",
    )
    assert [point["length"] for point in run(cfg)["checks"]["scaling"]] == [64]


def timed(row: Row, curve: list[tuple[int, float, float]]) -> Row:
    """``row`` with step timings (length, seconds, peak MB) recorded on its first seed."""
    row.runs[0].results["checks"] = {
        "scaling": [{"length": n, "step_s": s, "elements_per_s": n / s, "peak_extra_mb": mb} for n, s, mb in curve]
    }
    return row


def test_s3_is_supported_when_a_window_keeps_accuracy_and_grows_more_slowly():
    from studies.s3_truncated import verdict

    made = rows("s3_truncated", {"full": [0.75], "window_16": [0.80], "window_64": [0.85], "window_256": [0.84]})
    quadratic, linear = [(500, 0.1, 100), (2000, 1.6, 1600)], [(500, 0.1, 100), (2000, 0.4, 400)]
    found = verdict([timed(row, quadratic if row.model == "full" else linear) for row in made])
    assert found.supported is True
    assert "full: time ∝ N^2.00, memory ∝ N^2.00" in found.reason and "window_64: time ∝ N^1.00" in found.reason


def test_s6_is_not_supported_when_the_rnn_keeps_up():
    from studies.s6_parallel import verdict

    made = rows("s6_parallel", {"text_rnn": [0.94], "text_attn": [0.94], "speech_rnn": [0.95], "speech_attn": [0.85]})
    found = verdict([timed(row, [(256, 0.1, 10)]) for row in made])
    assert found.supported is False and "training elements/s at 256: rnn 2,560, attn 2,560 (1.0×)" in found.reason
