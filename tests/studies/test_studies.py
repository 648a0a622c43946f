"""The lecture's studies: every preset composes, every arm runs a step, and each verdict reads its numbers right."""

from __future__ import annotations

import pytest
from conftest import CONF
from hydra import compose, initialize_config_dir

from framework.analysis.rows import Row, Run
from framework.analysis.stats import Outcome
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


def test_s5_is_supported_when_edges_match_both_gnns_and_full_attention_falls_far_behind():
    from studies.s5_graph import verdict

    found = verdict(
        rows(
            "s5_graph",
            {
                "attn_edges": [0.83, 0.82, 0.83, 0.84, 0.83],
                "attn_full": [0.60, 0.62, 0.58, 0.61, 0.59],
                "gcn": [0.815, 0.81, 0.82, 0.815, 0.81],
                "gat": [0.825, 0.83, 0.82, 0.83, 0.825],
                "mlp": [0.55, 0.57, 0.56, 0.55, 0.58],
            },
        )
    )
    assert found.outcome is Outcome.SUPPORTED
    assert [f.outcome for f in found.findings] == [Outcome.SUPPORTED] * 3
    assert "attn_edges 0.830 ± 0.007" in found.reason and "Bonferroni: 3 comparisons" in found.test


def test_s5_is_contradicted_when_full_attention_does_as_well_as_attention_over_edges():
    from studies.s5_graph import verdict

    same = [0.80, 0.81, 0.80, 0.79, 0.80]
    found = verdict(rows("s5_graph", {"attn_edges": same, "attn_full": same, "gcn": same, "gat": same, "mlp": same}))
    assert found.outcome is Outcome.CONTRADICTED
    assert found.findings[-1].outcome is Outcome.CONTRADICTED and found.findings[-1].difference.estimate == 0


def test_a_study_with_a_missing_arm_is_inconclusive():
    from studies.s5_graph import verdict

    found = verdict(rows("s5_graph", {"attn_edges": [0.8], "gcn": [0.8], "gat": [0.8], "mlp": [0.5]}))
    assert found.outcome is Outcome.INCONCLUSIVE
    assert found.reason == "no finished runs for attn_full; nothing to conclude"


def test_s1_is_supported_when_context_helps_whole_sentences_hold_and_only_wide_enough_windows_see_the_cue():
    from studies.s1_context import ARMS, TASKS, verdict

    def ambiguous(task: str, name: str) -> list[float]:
        if task == "ewt":
            level = {"mlp": 0.70, "window_1": 0.85}.get(name, 0.90)
        else:
            sees = name in ("attn", "rnn") or int(name.rsplit("_", 1)[-1]) >= int(task[-1]) if name != "mlp" else False
            level = 0.99 if sees else 0.50
        return [level + 0.0005 * k for k in range(5)]

    made = [
        row
        for task in TASKS
        for name in ARMS
        for row in rows("s1_context", {name: ambiguous(task, name)}, "acc_ambiguous", f"task=s1_context/{task}")
    ]
    found = verdict(made)
    assert found.outcome is Outcome.SUPPORTED, [(f.says, f.outcome) for f in found.findings]
    assert len(found.findings) == 7 and "cue_6: mlp 0.501 ± 0.001" in found.reason


def test_s4_is_supported_when_the_cnn_leads_on_little_data_and_the_gap_closes_seed_by_seed():
    from studies.s4_data_size import verdict

    curves = {"cnn": (0.90, 0.98), "attn_full": (0.70, 0.97), "attn_local": (0.80, 0.975)}
    cnn_noise, attention_noise = [0, 0.003, 0.006, 0.009, 0.012], [0.004, 0, 0.008, 0.002, 0.006]
    found = verdict(
        [
            row
            for name, (small, large) in curves.items()
            for fraction, level in (("0.1", small), ("1.0", large))
            for row in rows(
                "s4_data_size",
                {name: [level + e for e in (cnn_noise if name == "cnn" else attention_noise)]},
                extra=f"modality.train_fraction={fraction}",
            )
        ]
    )
    assert found.outcome is Outcome.SUPPORTED
    assert "cnn: 0.1 → 0.906, 1 → 0.986" in found.reason
    assert "full attention's mean stays below the CNN's at every fraction run" in found.reason


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


def test_s2_is_supported_when_only_runs_without_positions_are_equivariant_and_both_schemes_help():
    from studies.s2_positions import verdict

    made = []
    for modality in ("text", "image"):
        for kind, score in (("none", 0.5), ("sinusoidal", 1.0), ("learned", 0.98)):
            metric = "acc_ambiguous" if modality == "text" else "acc"
            (row,) = rows("s2_positions", {f"{modality}_{kind}": [score, score - 0.01, score + 0.01]}, metric=metric)
            for seeded in row.runs:
                seeded.results["checks"] = {"permutation_equivariant": kind == "none"}
            made.append(row)
    found = verdict(made)
    assert found.outcome is Outcome.SUPPORTED and "text_none 0.500 ± 0.010" in found.reason
    assert [f.says for f in found.findings[:2]] == [
        "every run without positions was permutation-equivariant",
        "no run with positions was",
    ]


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


def test_s3_is_supported_when_the_claimed_window_keeps_accuracy_and_grows_more_slowly():
    from studies.s3_truncated import verdict

    levels = {"full": 0.80, "window_16": 0.78, "window_64": 0.805, "window_256": 0.80}
    made = rows("s3_truncated", {name: [level + 0.002 * k for k in range(5)] for name, level in levels.items()})
    quadratic, linear = [(500, 0.1, 100), (2000, 1.6, 1600)], [(500, 0.1, 100), (2000, 0.4, 400)]
    found = verdict([timed(row, quadratic if row.model == "full" else linear) for row in made])
    assert found.outcome is Outcome.SUPPORTED
    assert "full: time ∝ N^2.00, memory ∝ N^2.00" in found.reason and "window_64: time ∝ N^1.00" in found.reason


def threaded(row: Row, speedups: list[float], length: int = 256) -> Row:
    """``row`` whose seeds timed one step at ``length`` with 1 and 2 threads, speeding up by ``speedups``."""
    for seeded, speedup in zip(row.runs, speedups):
        point = {"length": length, "step_s": 0.1, "step_s_by_threads": {"1": 0.1, "2": 0.1 / speedup}}
        seeded.results["checks"] = {"scaling": [point]}
    return row


def test_s6_is_supported_when_attention_gains_more_from_a_second_thread_than_the_rnn():
    from studies.s6_parallel import verdict

    accuracy = [0.9, 0.91, 0.9]
    made = rows("s6_parallel", {name: accuracy for name in ("text_rnn", "text_attn", "speech_rnn", "speech_attn")})
    found = verdict([threaded(row, [1.05, 1.1, 1.0] if "rnn" in row.model else [1.8, 1.7, 1.9]) for row in made])
    assert found.outcome is Outcome.SUPPORTED
    assert "speed-up from 1 to 2 threads at 256: rnn 1.05×, attn 1.80×" in found.reason


def test_s6_is_contradicted_when_the_rnn_gains_as_much():
    from studies.s6_parallel import verdict

    made = rows("s6_parallel", {name: [0.9] * 3 for name in ("text_rnn", "text_attn", "speech_rnn", "speech_attn")})
    found = verdict([threaded(row, [1.8, 1.7, 1.9] if "rnn" in row.model else [1.05, 1.1, 1.0]) for row in made])
    assert found.outcome is Outcome.CONTRADICTED


def test_s6_on_a_gpu_compares_training_throughput_at_the_longest_length():
    from studies.s6_parallel import verdict

    made = rows("s6_parallel", {name: [0.9] * 3 for name in ("text_rnn", "text_attn", "speech_rnn", "speech_attn")})
    for row in made:
        for seeded, jitter in zip(row.runs, (0.9, 1.0, 1.1)):
            speed = (1000 if "rnn" in row.model else 5000) * jitter
            seeded.results["checks"] = {"scaling": [{"length": 4096, "step_s": 0.1, "elements_per_s": speed}]}
    found = verdict(made)
    assert found.outcome is Outcome.SUPPORTED
    assert "training elements/s at 4096: rnn 1,000, attn 5,000" in found.reason
