"""Where a run writes: names stay one path component, nothing lands in the data, no finished run is overwritten,
every sweep job holds its folder. Each case runs the command as a user would and compares the folders around it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DATA_DIR, QUIET, ROOT

from framework.runs.lock import LOCK_FILE

FAST = ["trainer=debug", *QUIET]


def listing(*folders: Path) -> dict[str, bytes]:
    """Every file under ``folders`` with its bytes (folders by name): what a refused command must not touch.

    A folder's lock is left out: it records the last process that asked for the folder.
    """
    found = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.name != LOCK_FILE:
                found[str(path)] = path.read_bytes() if path.is_file() else b""
    return found


def refused(result: subprocess.CompletedProcess) -> str:
    """The command's one error line, after checking it exited with status 2 and no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    return line


@pytest.mark.parametrize(
    "override",
    [
        "model.name=../../../x",
        "modality.name=../x",
        "callbacks.checkpoint.filename=../../../x",
        "hydra.job.name=../../x",
    ],
)
def test_a_name_that_would_lead_out_of_the_run_folder_is_refused_before_anything_is_written(cli, tmp_path, override):
    beside = sorted(tmp_path.parent.iterdir())

    line = refused(cli(override, *FAST))  # runs in tmp_path

    key = override.split("=")[0]
    assert line.startswith(f"error: invalid config value {key}=") and "must be one name, without / or .." in line
    assert listing(tmp_path) == {} and sorted(tmp_path.parent.iterdir()) == beside


def test_a_sweep_over_a_name_that_would_lead_out_of_its_folder_starts_no_job(cli, tmp_path):
    beside = sorted(tmp_path.parent.iterdir())

    line = refused(cli("-m", "model.name=a,../b", *FAST, f"hydra.sweep.dir={tmp_path / 'sweep'}"))

    assert line.startswith("error: invalid config value model.name='../b'")
    assert listing(tmp_path) == {} and sorted(tmp_path.parent.iterdir()) == beside  # not even the sweep's folder


@pytest.mark.parametrize("key", ["logger.save_dir", "callbacks.checkpoint.dirpath"])
def test_a_logger_or_checkpoint_folder_in_the_data_is_refused_before_anything_is_written(cli, tmp_path, key):
    data = tmp_path / "data"
    (data / "ud_english_ewt").mkdir(parents=True)
    before = listing(data)

    line = refused(cli("logger=csv", "trainer=debug", f"data_dir={data}", f"{key}={data / 'ud_english_ewt'}"))

    assert (
        line == f"error: {key}={data / 'ud_english_ewt'} is inside data_dir ({data}); give the run a folder of its own"
    )
    assert listing(data) == before


def test_two_jobs_of_one_sweep_in_one_folder_are_refused_before_either_starts(cli, tmp_path):
    sweep = tmp_path / "sweep"

    line = refused(cli("-m", "seed=0,1", "hydra.sweep.subdir=same", *FAST, f"hydra.sweep.dir={sweep}"))

    assert f"jobs 0 and 1 would both write into {sweep / 'same'}" in line
    assert not sweep.exists()


def test_a_sweep_of_another_config_into_a_finished_sweep_leaves_its_results_whole(cli, tmp_path):
    sweep = ["-m", "seed=0", *FAST, f"hydra.sweep.dir={tmp_path / 'sweep'}", f"sweep.index_dir={tmp_path / 'index'}"]
    assert cli(*sweep).returncode == 0
    before = listing(tmp_path / "sweep")

    line = refused(cli(*sweep, "model.dim=32"))

    assert "0_image_attn_seed0 holds the finished run attn on image (seed 0) of another config" in line
    assert listing(tmp_path / "sweep") == before
    assert cli(*sweep).returncode == 0  # the same command still reuses it


@pytest.mark.parametrize(
    "command", [["model.dim=32"], ["mode=test", "ckpt_path={run}"]], ids=["another_config", "test"]
)
def test_a_command_refused_by_a_finished_run_folder_leaves_its_files_as_they_were(cli, tmp_path, command):
    run = tmp_path / "run"
    assert cli(*FAST, f"hydra.run.dir={run}").returncode == 0
    before = listing(run)

    line = refused(cli(*FAST, *(part.format(run=run) for part in command), f"hydra.run.dir={run}"))

    assert line.startswith(f"error: the run folder {run} holds the finished run attn on image (seed 0)")
    assert listing(run) == before


def test_a_run_into_the_folder_of_a_sweep_job_that_is_running_is_refused(tmp_path, shared_cache):
    env = {**os.environ, "ARENA_CACHE_DIR": str(shared_cache)}
    small = ["model.dim=16", "model.layers=1", "trainer.max_epochs=2", *QUIET]
    sweep = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "-m", "seed=0", *small, f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lock = tmp_path / "sweep" / "0_image_attn_seed0" / ".lock"
    while not lock.is_file() or not lock.read_text().strip():
        assert sweep.poll() is None, "the sweep ended before its job took its folder's lock"
        time.sleep(0.02)
    sweep.send_signal(signal.SIGSTOP)  # held still: the job cannot end before the second command asks for its folder

    single = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *small, f"hydra.run.dir={lock.parent}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    sweep.send_signal(signal.SIGCONT)

    assert f"is in use by another run (PID {sweep.pid})" in refused(single)
    assert sweep.wait(timeout=600) == 0
    assert '"status": "ok"' in (lock.parent / "results.json").read_text()


TABLE_COMMANDS = {
    "name_out_of_the_folder": ["model.name=../../../x"],
    "checkpoint_file_out_of_the_folder": ["callbacks.checkpoint.filename=../../../x"],
    "job_log_out_of_the_folder": ["hydra.job.name=../../x"],
    "logger_in_the_data": ["logger=csv", "logger.save_dir={data}"],
    "checkpoints_in_the_data": ["callbacks.checkpoint.dirpath={data}/ud_english_ewt"],
    "folder_from_an_unset_variable": ["hydra.run.dir=${{oc.env:ARENA_NO_SUCH_VARIABLE}}"],
    "output_dir_above_the_current_folder": ["output_dir=.."],
    "zero_batches_per_step": ["+trainer.accumulate_grad_batches=0"],
    "unknown_accelerator": ["trainer.accelerator=tpu"],
    "momentum_beyond_one": ["optimizer._target_=torch.optim.SGD", "+optimizer.momentum=2"],
    "another_models_name": ["model.name=cnn"],
    "a_device_as_checkpoint": ["mode=test", "ckpt_path=/dev/zero"],
}
"""Commands from the tables of what a hostile or careless user tried, each refused before it trains."""


@pytest.mark.parametrize("command", TABLE_COMMANDS.values(), ids=TABLE_COMMANDS.keys())
def test_no_refused_command_writes_into_the_data_the_cache_or_beside_its_folder(cli, tmp_path, shared_cache, command):
    folders = (DATA_DIR, shared_cache)
    before, beside = listing(*folders), sorted(tmp_path.parent.iterdir())
    given = {part.split("=", 1)[0] for part in command}
    fast = [part for part in FAST if part.split("=", 1)[0] not in given]
    run = [] if "hydra.run.dir" in given else [f"hydra.run.dir={tmp_path / 'run'}"]

    refused(cli(*fast, *run, *(part.format(data=DATA_DIR) for part in command)))

    assert listing(*folders) == before
    assert sorted(tmp_path.parent.iterdir()) == beside and list(tmp_path.iterdir()) == []
