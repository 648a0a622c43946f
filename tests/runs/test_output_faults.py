"""Output and logging faults: an unwritable, full, shared or misplaced run folder stops a run before training;
W&B trouble never does."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import QUIET

from framework.core.errors import OutputError
from framework.runs.preflight import check_output_folder


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The run's only stderr line, after checking that it failed with status 2 and no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    return line


def test_a_run_folder_that_cannot_be_created_is_one_line(cli, tmp_path):
    (tmp_path / "file").write_text("not a folder")

    line = one_line_error(cli("trainer=debug", *QUIET, f"hydra.run.dir={tmp_path / 'file' / 'run'}"))

    assert line.startswith(f"error: cannot create the run folder {tmp_path / 'file' / 'run'} (Not a directory)")
    assert "hydra.run.dir=<folder>" in line


def test_a_sweep_folder_that_cannot_be_created_is_one_line(cli, tmp_path):
    (tmp_path / "file").write_text("not a folder")

    line = one_line_error(cli("-m", "trainer=debug", *QUIET, f"hydra.sweep.dir={tmp_path / 'file' / 'sweep'}"))

    assert "hydra.sweep.dir=<folder>" in line


def test_an_output_dir_that_cannot_be_written_stops_the_run_before_training(cli, tmp_path):
    (tmp_path / "file").write_text("not a folder")

    line = one_line_error(cli("trainer=debug", *QUIET, f"output_dir={tmp_path / 'file' / 'run'}"))

    assert line.startswith(f"error: cannot write to the run folder {tmp_path / 'file' / 'run'}")


def test_a_folder_without_room_for_the_checkpoints_stops_the_run_before_training(cli, tmpfs):
    small_disk = tmpfs("1m")
    line = one_line_error(cli("trainer=debug", *QUIET, f"hydra.run.dir={small_disk / 'run'}"))

    assert line.startswith(f"error: the run folder {small_disk / 'run'} has 1.0 MiB free")
    assert "free some space or choose another folder" in line
    assert not (small_disk / "run").exists()  # nothing half-written is left behind


def test_a_bad_wandb_key_warns_and_logs_offline_with_the_same_result(cli, tmp_path, monkeypatch):
    baseline = cli("trainer=debug", *QUIET, "hydra.run.dir=plain")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_API_KEY", "bad")  # W&B refuses keys shorter than 40 characters

    result = cli("trainer=debug", "logger=wandb", *QUIET[1:], "hydra.run.dir=logged")

    assert baseline.returncode == 0 and result.returncode == 0, result.stderr
    assert "W&B is misconfigured (WANDB_API_KEY invalid" in result.stdout + result.stderr
    assert list((tmp_path / "logged" / "wandb").glob("offline-run-*"))
    tested = [json.loads((tmp_path / run / "results.json").read_text())["test"] for run in ("plain", "logged")]
    assert tested[0] == tested[1]


@pytest.mark.parametrize(
    ("folder", "message"),
    [
        ("", "hydra.run.dir is empty; give the run a folder of its own"),
        (".", "hydra.run.dir=. is or holds the current folder"),
        ("..", "hydra.run.dir=.. is or holds the current folder"),
        ("{root}", "holds the arena's code"),
        ("{data}/run", "is inside data_dir"),
    ],
    ids=["empty", "current", "parent", "the-clone", "inside-the-data"],
)
def test_a_run_folder_that_is_not_a_folder_of_its_own_is_refused(cli, tmp_path, folder, message):
    from conftest import DATA_DIR, ROOT

    before = sorted(tmp_path.iterdir())
    line = one_line_error(cli("trainer=debug", *QUIET, f"hydra.run.dir={folder.format(root=ROOT, data=DATA_DIR)}"))

    assert message in line
    assert sorted(tmp_path.iterdir()) == before  # nothing written, in the current folder or anywhere it names


def test_a_sweep_folder_that_contains_the_data_is_refused(cli, tmp_path):
    sweep = tmp_path / "sweeps"
    line = one_line_error(cli("-m", "trainer=debug", *QUIET, f"data_dir={sweep / 'data'}", f"hydra.sweep.dir={sweep}"))

    assert f"hydra.sweep.dir={sweep} contains data_dir" in line


def test_a_second_run_into_a_busy_folder_stops_naming_the_first_and_leaves_it_whole(tmp_path, shared_cache):
    from conftest import ROOT

    folder = tmp_path / "run"
    command = [sys.executable, str(ROOT / "run.py"), "model.dim=16", "model.layers=1", "trainer.max_epochs=4"]
    command += ["logger=csv", *QUIET[1:], f"hydra.run.dir={folder}"]
    env = {**os.environ, "ARENA_CACHE_DIR": str(shared_cache)}
    first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not (folder / ".lock").is_file() or not (folder / ".lock").read_text().strip():
        assert first.poll() is None, "the first run ended before it took its folder's lock"
        time.sleep(0.02)
    first.send_signal(signal.SIGSTOP)  # held still: it cannot finish before the second run asks for the folder

    second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    first.send_signal(signal.SIGCONT)
    first.communicate(timeout=600)

    assert f"is in use by another run (PID {first.pid})" in one_line_error(second)
    assert first.returncode == 0
    with (folder / "csv" / "metrics.csv").open(newline="") as file:
        assert [row["epoch"] for row in csv.DictReader(file) if row["val/acc"]] == ["0", "1", "2", "3"]
    assert json.loads((folder / "results.json").read_text())["status"] == "ok"


def test_processes_checking_one_run_folder_at_once_never_fail_each_others_check(tmp_path):
    # Every process of a distributed run checks the same folder when it starts; one whose check failed
    # would leave the others waiting for it to join the process group.
    folder, failures = tmp_path / "run", []

    def check_repeatedly() -> None:
        for _ in range(300):
            try:
                check_output_folder(folder, parameters=1000)
            except OutputError as error:
                failures.append(error)

    checkers = [threading.Thread(target=check_repeatedly) for _ in range(2)]
    for checker in checkers:
        checker.start()
    for checker in checkers:
        checker.join()

    assert failures == []
    assert list(folder.iterdir()) == []  # no probe left behind
