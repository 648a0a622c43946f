"""Sweep reports: aggregation over seeds, failed and unreadable runs, mixed folders, files written, W&B tables."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from framework.analysis.report import write_report
from framework.analysis.rows import ReportError, aggregate, collect_runs, mean_sd


def write_run(
    folder: Path, model: str = "attn", seed: int = 0, acc: float = 0.9, overrides: tuple[str, ...] = (), **fields
) -> Path:
    """A results.json as a finished run writes it, with the figures a test needs to know."""
    results = {
        "status": "ok",
        "modality": "image",
        "dataset": "digits",
        "model": model,
        "seed": seed,
        "study": None,
        "code_version": "0.1.0+abc",
        "config_hash": f"{model}{seed}",
        "overrides": [f"model={model}", f"seed={seed}", *overrides],
        "test": {"acc": acc, "f1": acc - 0.1, "loss": 0.5},
        "best_val": {"acc": acc},
        "params": 1000,
        "throughput": {"element": "pixel", "elements_per_s": 100.0, "samples_per_s": 2.0, "train_seconds": 1.0},
        "wall_time_s": 3.0,
        **fields,
    }
    path = folder / f"{len(list(folder.iterdir()))}_{model}_seed{seed}" / "results.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(results))
    return path


def test_mean_and_sample_sd_over_seeds():
    assert mean_sd([0.8, 0.9, 1.0]) == pytest.approx((0.9, 0.1))
    assert mean_sd([0.7]) == (0.7, None)
    assert mean_sd([]) == (None, None)


def test_each_model_variant_is_one_row_over_its_seeds(tmp_path):
    for seed, acc in enumerate([0.8, 0.9, 1.0]):
        write_run(tmp_path, "attn", seed, acc)
        write_run(tmp_path, "attn", seed, acc - 0.5, overrides=("model.layers=1",))
    write_run(tmp_path, "cnn", 0, 0.7)

    rows = aggregate(collect_runs(tmp_path).runs)

    assert [(row.model, row.variant, row.seeds) for row in rows] == [
        ("attn", "default", [0, 1, 2]),
        ("attn", "model.layers=1", [0, 1, 2]),
        ("cnn", "default", [0]),
    ]
    assert mean_sd(rows[0].values("test", "acc")) == pytest.approx((0.9, 0.1))


def test_bookkeeping_overrides_do_not_make_a_variant(tmp_path):
    write_run(
        tmp_path, seed=0, overrides=("logger=wandb", "hydra.sweep.dir=x", "callbacks.progress=null", "data_dir=/d")
    )
    write_run(tmp_path, seed=1)

    (row,) = aggregate(collect_runs(tmp_path).runs)

    assert row.variant == "default" and row.seeds == [0, 1]


def test_the_copies_wandb_keeps_of_each_runs_results_are_not_counted_again(tmp_path):
    path = write_run(tmp_path, seed=0)
    copy = path.parent / "wandb" / "offline-run-20261130_120000-abc" / "files" / "results.json"
    copy.parent.mkdir(parents=True)
    copy.write_text(path.read_text())

    (row,) = aggregate(collect_runs(tmp_path).runs)

    assert row.seeds == [0]


def test_failed_jobs_are_listed_with_their_error_and_left_out_of_the_means(tmp_path):
    write_run(tmp_path, seed=0, acc=0.9)
    write_run(
        tmp_path, seed=1, status="failed", error="TrainingDiverged: the training loss became nan at step 7", test=None
    )

    runs = collect_runs(tmp_path)
    markdown = write_report(runs, tmp_path).read_text()

    (row,) = aggregate(runs.runs)
    assert row.seeds == [0]
    assert "## Failed jobs" in markdown and "the training loss became nan at step 7" in markdown


def test_corrupt_results_are_listed_and_the_good_runs_still_reported(tmp_path):
    write_run(tmp_path, seed=0)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "results.json").write_text('{"status": "ok", "test": {"acc": 0.')
    (tmp_path / "alien").mkdir()
    (tmp_path / "alien" / "results.json").write_text('{"accuracy": 1.0}')

    runs = collect_runs(tmp_path)
    markdown = write_report(runs, tmp_path).read_text()

    assert [run.results["seed"] for run in runs.runs] == [0]
    assert "`broken/results.json`: not valid JSON" in markdown
    assert "`alien/results.json`: missing modality, model, seed, test" in markdown


def test_runs_from_different_code_versions_are_flagged(tmp_path):
    write_run(tmp_path, seed=0, code_version="0.1.0+abc")
    write_run(tmp_path, seed=1, code_version="0.1.0+def-dirty")

    markdown = write_report(collect_runs(tmp_path), tmp_path).read_text()

    assert "come from 2 code versions (0.1.0+abc, 0.1.0+def-dirty)" in markdown


def test_the_report_writes_markdown_csv_and_plots(tmp_path):
    import matplotlib.image

    scaling = [{"length": n, "step_s": n / 1000, "elements_per_s": 1000.0, "peak_extra_mb": n / 10} for n in (250, 500)]
    for fraction, acc in [("0.1", 0.6), ("0.5", 0.8), ("1.0", 0.9)]:
        write_run(
            tmp_path, "cnn", 0, acc, overrides=(f"modality.train_fraction={fraction}",), checks={"scaling": scaling}
        )

    write_report(collect_runs(tmp_path), tmp_path / "out")

    with (tmp_path / "out" / "report.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert [float(row["test_acc_mean"]) for row in rows] == [0.6, 0.8, 0.9]
    for plot in ("accuracy_by_model", "accuracy_vs_params", "accuracy_vs_train_fraction", "step_cost_vs_length"):
        assert matplotlib.image.imread(tmp_path / "out" / f"{plot}.png").shape[0] > 100
        assert f"({plot}.png)" in (tmp_path / "out" / "report.md").read_text()


def test_a_folder_without_finished_runs_is_a_clear_error(tmp_path):
    write_run(tmp_path, status="failed", error="boom", test=None)
    with pytest.raises(ReportError, match=r"no finished run under .* \(1 failed, 0 unreadable\)"):
        write_report(collect_runs(tmp_path), tmp_path)


def report_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    return subprocess.run(
        [sys.executable, "-m", "framework.analysis.report", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_report_command_on_an_empty_folder_says_so_in_one_line(tmp_path):
    result = report_cli(str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: no results.json under {tmp_path}; give the folder of a multirun"


def test_the_report_command_uploads_its_table_and_plots_to_an_offline_wandb_run(tmp_path):
    write_run(tmp_path, seed=0, acc=0.8)
    write_run(tmp_path, seed=1, acc=1.0)

    result = report_cli(str(tmp_path), "--wandb", "arena-test")

    assert result.returncode == 0, result.stderr
    (table,) = tmp_path.rglob("offline-run-*/files/media/table/report_*.table.json")
    logged = json.loads(table.read_text())
    assert logged["columns"][:5] == ["study", "modality", "dataset", "model", "variant"]
    assert logged["data"][0][logged["columns"].index("test_acc_mean")] == pytest.approx(0.9)
    assert len(list(tmp_path.rglob("offline-run-*/files/media/images/*.png"))) == 2


def test_a_study_section_shows_the_tested_verdict_and_the_model_selection_apart_from_the_results(tmp_path):
    study = {"study": "s5_graph", "study_info": {"size": "full", "claim": "c", "verdict": "studies.s5_graph.verdict"}}
    seeds = {"attn_edges": 0.83, "attn_full": 0.60, "gcn": 0.815, "gat": 0.825, "mlp": 0.56}
    for arm, level in seeds.items():
        for seed in range(5):
            acc = level + 0.002 * seed
            write_run(tmp_path, arm, seed, acc, overrides=(f"+arm=s5_graph/{arm}", "optimizer.lr=0.01"), **study)
        for lr, val in (("0.005", level - 0.01), ("0.01", level)):
            overrides = (f"+arm=s5_graph/{arm}", f"optimizer.lr={lr}", "study.stage=select")
            write_run(tmp_path, arm, 0, 0.0, overrides=overrides, test={}, best_val={"acc": val}, **study)

    report = write_report(collect_runs(tmp_path), tmp_path).read_text()

    assert "**Verdict: supported.**" in report and "Bonferroni: 3 comparisons" in report
    assert "| attention over edges is at most 0.01 below GCN | +0.015 | [" in report
    assert "### Model selection" in report and report.count("| ✓ |") == 5
    assert "`arm=s5_graph/gcn optimizer.lr=0.005` | 0.805 |  |" in report  # tried, scored on validation only
    assert "25 finished runs" not in report and "35 finished runs" in report
    assert "min of compute in all" in report
