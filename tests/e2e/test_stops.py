"""Every way a command can stop ends in one line: a Ctrl+C at any moment, a value only Hydra resolves, a file that
is no file, a disk that fills while the run trains. Each runs the command as a user would."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import QUIET, finished, started

from framework.train.resume import LAST

FAST = ["trainer=debug", *QUIET]


def one_line(result: subprocess.CompletedProcess, status: int = 2) -> str:
    """The command's only stderr line, after checking its exit status and that no traceback was printed."""
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    return line


def wait_until(process: subprocess.Popen, happened, what: str) -> None:
    """Polls ``happened()`` until it is true; fails if the process ends first."""
    while not happened():
        assert process.poll() is None, f"the run ended before {what}: {process.stderr.read()}"
        time.sleep(0.01)


def maps(process: subprocess.Popen) -> str:
    try:
        return Path(f"/proc/{process.pid}/maps").read_text()
    except OSError:
        return ""


def test_a_sigint_while_torch_loads_is_one_line_and_status_130(tmp_path, shared_cache):
    process = started(*FAST, cwd=tmp_path, cache=shared_cache)
    wait_until(process, lambda: "libtorch" in maps(process), "torch began to load")
    process.send_signal(signal.SIGINT)

    line = one_line(finished(process), status=128 + signal.SIGINT)

    assert line.startswith("error: stopped by SIGINT before")
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("results.json"))


@pytest.mark.parametrize("multirun", [False, True], ids=["run", "sweep"])
def test_a_run_folder_hydra_cannot_resolve_is_one_line(cli, tmp_path, multirun):
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"

    line = one_line(cli(*(["-m"] if multirun else []), *FAST, f"{key}=${{oc.env:ARENA_NO_SUCH_VARIABLE}}"))

    assert line.startswith(f"error: {key} cannot be resolved: ") and "ARENA_NO_SUCH_VARIABLE" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["character device", "named pipe"])
def test_a_checkpoint_path_that_is_no_file_is_refused_without_reading_it(cli, tmp_path, kind):
    path = Path("/dev/zero")
    if kind == "named pipe":
        path = tmp_path / "best.ckpt"
        os.mkfifo(path)  # reading it would wait for a writer forever

    line = one_line(cli("mode=test", f"ckpt_path={path}", *QUIET, f"hydra.run.dir={tmp_path / 'eval'}"))

    assert (
        line
        == f"error: invalid config value ckpt_path='{path}': is a {kind}: name a finished run's folder or a .ckpt file"
    )


def test_an_unknown_accelerator_is_one_line_and_leaves_no_folder(cli, tmp_path):
    line = one_line(cli(*FAST, "trainer.accelerator=tpu", f"hydra.run.dir={tmp_path / 'run'}"))

    assert line.startswith("error: invalid config value trainer.accelerator='tpu'")
    assert not (tmp_path / "run").exists()


def fill(disk: Path, leave: int) -> Path:
    """Writes a file into ``disk`` until at most ``leave`` bytes are free; returns it."""
    filler = disk / "filler"
    with filler.open("wb") as file:
        while (free := shutil.disk_usage(disk).free) > leave:
            file.write(b"\0" * min(free - leave, 1 << 20))
            file.flush()
    return filler


def test_a_disk_that_fills_while_the_run_trains_ends_it_as_failed_in_one_line_and_the_rerun_continues(
    tmp_path, shared_cache, tmpfs
):
    small_disk = tmpfs("64m")  # room for the run, and for a file to fill it
    folder = small_disk / "run"
    command = [
        *QUIET,
        "model.dim=16",
        "model.layers=1",
        "trainer.max_epochs=30",
        "+trainer.limit_train_batches=2",
        "resume_every_s=0",
        f"hydra.run.dir={folder}",
    ]
    process = started(*command, cwd=tmp_path, cache=shared_cache)
    wait_until(process, (folder / "checkpoints" / LAST).exists, "its first resume point")
    process.send_signal(signal.SIGSTOP)  # held still while the disk fills
    filler = fill(small_disk, leave=16 << 10)  # too little for a resume point, enough for the record
    process.send_signal(signal.SIGCONT)

    line = one_line(finished(process))

    assert line.startswith(f"error: the disk of {folder} is full (No space left on device")
    assert line.endswith(f"its resume point is saved: run the same command with hydra.run.dir={folder} to continue")
    record = json.loads((folder / "results.json").read_text())
    assert record["status"] == "failed" and record["error"].startswith("OutputError: the disk of")
    assert not list(folder.rglob("*.part"))

    filler.unlink()
    rerun = finished(started(*command, cwd=tmp_path, cache=shared_cache))

    assert rerun.returncode == 0, rerun.stderr
    assert f"continuing from {folder / 'checkpoints' / LAST}" in (folder / "run.log").read_text()
    assert json.loads((folder / "results.json").read_text())["status"] == "ok"
