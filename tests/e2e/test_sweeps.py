"""Sweeps that survive: finished configs are reused, failed jobs are recorded, W&B runs are grouped for comparison."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import QUIET, ROOT

from framework.runs.identity import config_hash

FAST = ["trainer=debug", *QUIET]


def results_in(folder: Path) -> dict[str, dict]:
    """Each job folder's name → its results.json."""
    return {path.parent.name: json.loads(path.read_text()) for path in sorted(folder.glob("*/results.json"))}


def test_the_config_hash_ignores_where_files_go_but_not_what_is_trained(make_config):
    ignore = make_config().sweep.hash_ignores
    base = config_hash(make_config(), ignore)

    assert (
        config_hash(make_config("output_dir=/elsewhere", "data_dir=/d", "logger=wandb", "sweep.report=false"), ignore)
        == base
    )
    assert config_hash(make_config("keep_freed_memory=true", "resume_every_s=0"), ignore) == base
    assert config_hash(make_config("model.dim=32"), ignore) != base
    assert config_hash(make_config("seed=1"), ignore) != base


def kill_at_the_first_result(args: list[str], sweep_dir: Path, cache_dir: Path) -> None:
    """Starts ``python run.py <args>`` and kills it (SIGKILL) when a job's results.json lands in ``sweep_dir``."""
    first = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), *args],
        cwd=sweep_dir.parent,
        env={**os.environ, "ARENA_CACHE_DIR": str(cache_dir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while not results_in(sweep_dir) and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.02)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()


def test_an_interrupted_sweep_rerun_trains_only_the_jobs_that_had_not_finished(cli, tmp_path, shared_cache):
    sweep = ["-m", "model=cnn", "seed=0,1,2", *FAST, f"sweep.index_dir={tmp_path / 'index'}"]
    kill_at_the_first_result([*sweep, f"hydra.sweep.dir={tmp_path / 'first'}"], tmp_path / "first", shared_cache)
    finished = results_in(tmp_path / "first")
    assert 1 <= len(finished) < 3, "the sweep was not interrupted part-way"

    rerun = cli(*sweep, f"hydra.sweep.dir={tmp_path / 'second'}")

    assert rerun.returncode == 0, rerun.stderr
    second = results_in(tmp_path / "second")
    assert sorted(r["seed"] for r in second.values()) == [0, 1, 2]
    reused = {r["seed"] for r in second.values() if "reused_from" in r}
    assert reused == {r["seed"] for r in finished.values()}
    assert f"{len(reused)} reused, 0 failed" in rerun.stdout + rerun.stderr


def test_a_sweep_killed_during_a_job_counts_the_job_that_had_finished_as_reused_when_rerun(cli, tmp_path, shared_cache):
    sweep = ["-m", "model=cnn", "seed=0,1", *FAST, f"sweep.index_dir={tmp_path / 'index'}", "sweep.report=false"]
    sweep.append(f"hydra.sweep.dir={tmp_path / 'sweep'}")
    kill_at_the_first_result(sweep, tmp_path / "sweep", shared_cache)
    assert list(results_in(tmp_path / "sweep")) == ["0_image_cnn_seed0"], "the sweep was not stopped during job 1"

    rerun = cli(*sweep)

    assert rerun.returncode == 0, rerun.stderr
    assert "sweep finished: 2 jobs: 1 trained, 0 resumed, 1 reused, 0 failed" in rerun.stdout + rerun.stderr


def test_a_failing_job_is_recorded_and_the_other_jobs_still_run(cli, tmp_path):
    result = cli(
        "-m", "modality=graph", "modality.dataset=sbm", "model=cnn,gnn", *FAST, f"hydra.sweep.dir={tmp_path / 's'}"
    )

    assert result.returncode == 1
    by_model = {r["model"]: r for r in results_in(tmp_path / "s").values()}
    assert by_model["gnn"]["status"] == "ok"
    assert by_model["cnn"]["status"] == "failed"
    assert by_model["cnn"]["error"].startswith("IncompatibleError: ")
    assert "## Failed jobs" in (tmp_path / "s" / "report.md").read_text()


def test_a_nan_loss_stops_the_run_naming_the_step_and_the_last_finite_loss(cli, tmp_path):
    result = cli(
        "model=cnn",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=6",
        "+trainer.limit_val_batches=1",
        "optimizer.lr=1e30",
        *QUIET,
    )

    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: the training loss became nan at step ") and "last finite loss: " in line


def learning_rate(results: dict) -> float:
    """The ``optimizer.lr`` a job was given on the command line."""
    return float(next(o for o in results["overrides"] if o.startswith("optimizer.lr=")).split("=", 1)[1])


def test_a_job_whose_loss_becomes_nan_is_recorded_as_failed_and_the_sweep_goes_on(cli, tmp_path):
    result = cli(
        "-m",
        "model=cnn",
        "optimizer.lr=1e30,0.002",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=6",
        "+trainer.limit_val_batches=1",
        "+trainer.limit_test_batches=1",
        *QUIET,
        f"hydra.sweep.dir={tmp_path / 's'}",
    )

    assert result.returncode == 1
    by_lr = {learning_rate(r): r for r in results_in(tmp_path / "s").values()}
    assert by_lr[1e30]["status"] == "failed"
    assert by_lr[1e30]["error"].startswith("TrainingDiverged: the training loss became nan at step ")
    assert by_lr[0.002]["status"] == "ok"


def test_a_wandb_run_is_grouped_by_modality_typed_by_model_tagged_and_summarised(cli, tmp_path):
    result = cli("model=cnn", "model.dim=32", "logger=wandb", *FAST[:1], *QUIET[1:])

    assert result.returncode == 0, result.stderr
    (run_file,) = (tmp_path / "outputs").rglob("offline-run-*/run-*.wandb")
    logged = run_file.read_bytes()
    for expected in (b"image", b"digits", b"model.dim=32", b"throughput/elements_per_s", b"best_val/acc", b"params"):
        assert expected in logged, expected


def compose_hydra(*overrides: str):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=True)


def test_the_slurm_preset_composes_a_submitit_slurm_launcher():
    launcher = compose_hydra("hydra/launcher=slurm", "hydra.launcher.partition=gpu").hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.partition, launcher.gpus_per_node, launcher.timeout_min) == ("gpu", 1, 240)


def test_the_parallel_preset_composes_a_joblib_launcher():
    launcher = compose_hydra("hydra/launcher=parallel").hydra.launcher
    assert launcher._target_.endswith("joblib_launcher.JoblibLauncher") and launcher.n_jobs == 2


def test_an_optuna_search_runs_its_trials_on_best_validation_accuracy(cli, tmp_path):
    result = cli(
        "-m", "hparams_search=attn_optuna", "hydra.sweeper.n_trials=2", *FAST, f"hydra.sweep.dir={tmp_path / 's'}"
    )

    assert result.returncode == 0, result.stderr
    trials = results_in(tmp_path / "s")
    assert len(trials) == 2
    best = (tmp_path / "s" / "optimization_results.yaml").read_text()
    assert f"best_value: {max(r['best_val']['acc'] for r in trials.values())}" in best


def test_a_study_selects_each_arm_on_validation_with_equal_effort_then_runs_the_best_over_its_seeds(cli, tmp_path):
    arms = ["s5_graph/gcn", "s5_graph/mlp"]
    result = cli(
        "-m",
        "experiment=claims/s5_graph",
        "study=quick",
        "study.selection.trials=2",
        f"+arm={','.join(arms)}",
        "seed=0,1",
        *FAST,
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        f"sweep.index_dir={tmp_path / 'index'}",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    runs = list(results_in(tmp_path / "sweep").values())
    for arm in arms:
        mine = [r for r in runs if f"arm={arm}" in r["variant"].split()]
        trials = [r for r in mine if "study.stage=select" in r["variant"].split()]
        finals = [r for r in mine if r not in trials]

        assert len(trials) == 2 and {r["seed"] for r in trials} == {0}  # the same effort, on the selection seed
        assert all(r["test"] == {} for r in trials)  # scored on validation only
        best = max(trials, key=lambda r: r["best_val"]["acc"])  # the first of equals, as the sweeper tried them
        chosen = set(best["variant"].split()) - {"study.stage=select"}
        assert sorted(r["seed"] for r in finals) == [0, 1]
        assert all(set(r["variant"].split()) == chosen and r["test"]["acc"] is not None for r in finals)
    report = (tmp_path / "sweep" / "report.md").read_text()
    assert "### Model selection" in report and report.count("| ✓ |") == 2


def test_a_search_grid_smaller_than_the_trials_stops_the_study_with_one_line(cli, tmp_path):
    result = cli(
        "-m", "experiment=claims/s5_graph", "study.selection.trials=5", *FAST, f"hydra.sweep.dir={tmp_path / 's'}"
    )

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: invalid config value study.search='4 configuration(s) for +arm=s5_graph/attn_edges': "
        "every arm must offer at least study.selection.trials=5; widen its search grid"
    ]
    assert not list((tmp_path / "s").glob("*/results.json"))
