"""The task wrapper: how a run's end is settled, alone or as one job of a sweep."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from framework.core.errors import ConfigError, Interrupted
from framework.runs.identity import config_hash
from framework.runs.index import DoneIndex
from framework.runs.job import Job
from framework.runs.results import RESULTS_FILE, write_results


@pytest.fixture
def job(make_config, tmp_path):
    def make(multirun: bool) -> Job:
        cfg = make_config(f"sweep.index_dir={tmp_path / 'index'}")
        Path(cfg.output_dir).mkdir(parents=True)
        return Job(
            cfg,
            ["seed=0"],
            multirun=multirun,
            rank_zero=True,
            log_name="run.log",
            resume_point=Path(cfg.output_dir) / "checkpoints" / "last.ckpt",
        )

    return make


def finished_results(cfg) -> tuple[Path, dict] | None:
    """The finished run of ``cfg`` that the index knows of, as a later job would find it."""
    return DoneIndex(cfg.sweep.index_dir).find(config_hash(cfg, cfg.sweep.hash_ignores))


def finished(job: Job) -> dict:
    return {
        "modality": "image",
        "model": "attn",
        "seed": 0,
        "status": "ok",
        "config_hash": "abc",
        "code_version": "x",
        "test": {"acc": 0.5},
        "best_val": {"acc": 0.75},
    }


def test_a_ctrl_c_while_a_stop_unwinds_still_records_that_stop(job, capsys):
    single = job(multirun=False)
    with pytest.raises(SystemExit) as stopped, single.guard():
        try:
            raise Interrupted("stopped by SIGINT at epoch 1, step 20", 2)
        finally:  # what a second Ctrl+C does once the signal handlers are restored
            raise KeyboardInterrupt

    assert stopped.value.code == 130
    assert capsys.readouterr().err.startswith("error: stopped by SIGINT at epoch 1, step 20; ")
    assert json.loads((single.output_dir / RESULTS_FILE).read_text())["status"] == "interrupted"


def test_a_user_error_in_a_single_run_is_one_line_exit_status_2_and_no_run_folder(job, capsys):
    single = job(multirun=False)
    with pytest.raises(SystemExit) as stopped, single.guard():
        raise ConfigError("model.heads", 3, "must divide model.dim")
    assert stopped.value.code == 2
    assert capsys.readouterr().err == "error: invalid config value model.heads=3: must divide model.dim\n"
    assert not single.output_dir.exists()


def test_an_unexpected_error_in_a_single_run_is_raised_as_it_is(job):
    with pytest.raises(ZeroDivisionError), job(multirun=False).guard():
        _ = 1 / 0


def test_a_failed_sweep_job_is_recorded_and_the_sweep_goes_on(job):
    member = job(multirun=True)
    with member.guard():
        raise ConfigError("model.heads", 3, "must divide model.dim")
    written = json.loads((member.output_dir / RESULTS_FILE).read_text())
    assert written["status"] == "failed" and written["error"].startswith(
        "ConfigError: invalid config value model.heads"
    )
    assert written["traceback"] is None  # a user error needs no traceback
    assert math.isnan(member.score)


def test_a_crashed_sweep_job_keeps_its_traceback(job):
    member = job(multirun=True)
    with member.guard():
        _ = 1 / 0
    assert "ZeroDivisionError" in json.loads((member.output_dir / RESULTS_FILE).read_text())["traceback"]


def test_a_finished_sweep_job_scores_its_best_validation_accuracy(job):
    member = job(multirun=True)
    with member.guard():
        member.results = finished(member)
    assert member.score == 0.75


def test_a_sweep_job_is_indexed_before_it_trains_so_its_results_file_alone_marks_it_finished(job):
    member = job(multirun=True)
    assert member.reused() is None
    assert finished_results(member.cfg) is None  # entered in the index, not finished
    digest = config_hash(member.cfg, member.cfg.sweep.hash_ignores)

    write_results(member.output_dir, {**finished(member), "config_hash": digest})  # killed right after this line

    path, results = finished_results(member.cfg)
    assert path == (member.output_dir / RESULTS_FILE).resolve() and results["best_val"]["acc"] == 0.75


def test_a_rerun_of_a_finished_sweep_job_reuses_it_and_keeps_the_index_pointing_at_the_original(job, tmp_path):
    first = job(multirun=True)
    first.reused()
    digest = config_hash(first.cfg, first.cfg.sweep.hash_ignores)
    write_results(first.output_dir, {**finished(first), "config_hash": digest})
    again = Job(**{**vars(first), "cfg": first.cfg.copy()})
    again.cfg.output_dir = str(tmp_path / "again")

    reused = again.reused()

    assert reused["reused_from"] == str(first.output_dir.resolve())
    assert finished_results(again.cfg)[0] == (first.output_dir / RESULTS_FILE).resolve()


def test_a_stopped_run_says_how_to_continue_and_exits_with_128_plus_the_signal(job, capsys):
    single = job(multirun=False)
    single.resume_point.parent.mkdir()
    single.resume_point.write_bytes(b"")
    with pytest.raises(SystemExit) as stopped, single.guard():
        raise Interrupted("stopped by SIGTERM", signal=15)
    assert stopped.value.code == 143
    assert f"run the same command with hydra.run.dir={single.output_dir} to continue" in capsys.readouterr().err
    assert json.loads((single.output_dir / RESULTS_FILE).read_text())["status"] == "interrupted"
