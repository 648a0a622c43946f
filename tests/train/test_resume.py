"""Runs that survive being stopped: killed runs resume exactly, signals stop cleanly, checkpoints are checked."""

from __future__ import annotations

import csv
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from conftest import QUIET, finished, started
from pytorch_lightning.utilities.exceptions import SIGTERMException

from framework.core.errors import ConfigError, DataError, Interrupted
from framework.train.callbacks import GracefulStop
from framework.train.resume import LAST, ResumePoint, check_identity
from framework.train.run import run

# Six short epochs of a small attention model on digits: each epoch takes well under a second, so a resume point
# after every epoch (resume_every_s=0) gives the tests an epoch to stop after.
SMALL_RUN = ["model.dim=16", "model.layers=1", "trainer.max_epochs=6", "resume_every_s=0", "logger=csv", *QUIET[1:]]
KEPT = ("test", "best_val", "epochs", "checkpoint")


def start(folder: Path, cache: Path, *extra: str) -> subprocess.Popen:
    """Starts ``run.py`` with :data:`SMALL_RUN` (where ``extra`` does not set the same key) writing into ``folder``."""
    given = {option.split("=", 1)[0] for option in extra}
    small = [option for option in SMALL_RUN if option.split("=", 1)[0] not in given]
    return started(*extra, *small, f"hydra.run.dir={folder}", cwd=folder.parent, cache=cache)


def stop_after_an_epoch(process: subprocess.Popen, folder: Path, how: signal.Signals) -> int:
    """Sends ``how`` once the resume point holds a finished epoch (and training goes on); returns that epoch."""
    last, deadline = folder / "checkpoints" / LAST, time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if last.exists() and (epoch := torch.load(last, weights_only=True)["epoch"]) >= 1:
            process.send_signal(how)
            return epoch
        time.sleep(0.02)
    raise AssertionError("the run ended before it could be stopped")


def outcome(folder: Path) -> dict:
    """The figures an interrupted-and-resumed run must share with an uninterrupted one."""
    results = json.loads((folder / "results.json").read_text())
    return {key: results[key] for key in KEPT}


def validated_epochs(folder: Path) -> list[int]:
    """The epochs of the ``val/acc`` rows in the run's CSV log: one per trained epoch (none before the log exists)."""
    if not (folder / "csv" / "metrics.csv").exists():
        return []
    with (folder / "csv" / "metrics.csv").open(newline="") as file:
        return [int(row["epoch"]) for row in csv.DictReader(file) if row["val/acc"]]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> dict:
    """The outcome of :data:`SMALL_RUN` run from start to end."""
    folder = tmp_path_factory.mktemp("uninterrupted") / "run"
    result = finished(start(folder, shared_cache))
    assert result.returncode == 0, result.stderr
    return outcome(folder)


def test_a_run_killed_mid_training_resumes_to_the_same_results(tmp_path, shared_cache, uninterrupted):
    folder = tmp_path / "run"
    killed = start(folder, shared_cache)
    epoch = stop_after_an_epoch(killed, folder, signal.SIGKILL)
    assert finished(killed).returncode == -signal.SIGKILL and not (folder / "results.json").exists()

    resumed = finished(start(folder, shared_cache, "resume=true"))

    assert resumed.returncode == 0, resumed.stderr
    assert f"continuing from {folder / 'checkpoints' / LAST}" in (folder / "run.log").read_text()
    assert epoch < uninterrupted["epochs"]
    assert outcome(folder) == uninterrupted
    assert validated_epochs(folder) == list(range(uninterrupted["epochs"]))  # the log keeps the epochs before the kill


def test_a_run_killed_between_two_resume_points_repeats_only_the_epochs_since_the_last(tmp_path, shared_cache):
    folder, longer = tmp_path / "run", "trainer.max_epochs=12"
    killed = start(folder, shared_cache, longer)
    saved = stop_after_an_epoch(killed, folder, signal.SIGSTOP)  # held still while its resume point is kept aside
    kept = (folder / "checkpoints" / LAST).read_bytes()
    killed.send_signal(signal.SIGCONT)
    while max(validated_epochs(folder), default=-1) < saved + 2:  # two more epochs validated: their rows are logged
        assert killed.poll() is None, "the run ended before two epochs passed its resume point"
        time.sleep(0.02)
    killed.kill()
    assert finished(killed).returncode == -signal.SIGKILL
    # What a longer resume_every_s leaves: the resume point of epoch `saved` and the log of the epochs after it.
    (folder / "checkpoints" / LAST).write_bytes(kept)
    whole = finished(start(tmp_path / "whole", shared_cache, longer))
    assert whole.returncode == 0, whole.stderr

    resumed = finished(start(folder, shared_cache, longer))

    assert resumed.returncode == 0, resumed.stderr
    assert outcome(folder) == outcome(tmp_path / "whole")
    assert validated_epochs(folder) == list(range(12))  # the repeated epochs replace their rows


def test_with_resume_points_only_at_the_end_a_run_writes_one_after_its_last_epoch(make_config, tmp_path, monkeypatch):
    written = []
    save = pl.Trainer.save_checkpoint

    def counting_save(trainer: pl.Trainer, path: str | Path, *args, **kwargs) -> None:
        written.append(Path(path).name)
        save(trainer, path, *args, **kwargs)

    monkeypatch.setattr(pl.Trainer, "save_checkpoint", counting_save)
    cfg = make_config("trainer=default", "model.dim=16", "model.layers=1", "trainer.max_epochs=3", "resume_every_s=inf")

    results = run(cfg)

    assert written.count(f".{LAST}.part") == 1
    assert torch.load(tmp_path / "run" / "checkpoints" / LAST, weights_only=True)["epoch"] == results["epochs"] - 1


def test_every_process_of_a_distributed_run_writes_the_resume_point_when_the_first_process_says_so(tmp_path):
    # Each process has its own clock: one that decided alone could wait in the resume point's barrier forever.
    calls = []
    first_says = {"due": True}
    strategy = SimpleNamespace(
        broadcast=lambda due, src: calls.append(("broadcast", due, src)) or first_says["due"],
        barrier=lambda name: calls.append(("barrier", name)),
    )
    trainer = SimpleNamespace(
        strategy=strategy,
        is_global_zero=False,
        should_stop=False,
        max_epochs=10,
        max_steps=-1,
        current_epoch=0,
        global_step=5,
        sanity_checking=False,
        fast_dev_run=False,
        state=SimpleNamespace(fn="fit"),
        save_checkpoint=lambda path, weights_only: calls.append(("save", Path(path).name)),
    )
    point = ResumePoint(tmp_path, identity={}, every_s=3600)  # this process's clock says: not yet

    for due in (True, False):
        first_says["due"] = due
        point.on_validation_end(trainer, None)
        point.on_train_epoch_end(trainer, None)

    assert calls == [
        ("broadcast", False, 0),
        ("save", f".{LAST}.part"),
        ("barrier", "ResumePoint"),
        ("broadcast", False, 0),
    ]


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_run_cleanly_and_the_same_folder_continues_it(tmp_path, shared_cache, uninterrupted, how):
    folder = tmp_path / "run"
    stopped = start(folder, shared_cache)
    stop_after_an_epoch(stopped, folder, how)
    result = finished(stopped)
    record = json.loads((folder / "results.json").read_text())

    assert result.returncode == 128 + how
    assert "Traceback" not in result.stderr
    assert f"error: stopped by {how.name} at epoch" in result.stderr
    assert f"hydra.run.dir={folder} to continue" in result.stderr
    assert record["status"] == "interrupted" and record["traceback"] is None
    assert not list(folder.rglob("*.part"))

    resumed = finished(start(folder, shared_cache))  # resume=auto: the folder's resume point is enough

    assert resumed.returncode == 0, resumed.stderr
    assert outcome(folder) == uninterrupted
    assert validated_epochs(folder) == list(range(uninterrupted["epochs"]))


def test_a_second_sigint_stops_at_once_and_still_records_how_the_run_ended(tmp_path, shared_cache):
    folder = tmp_path / "run"
    stopped = start(folder, shared_cache, "trainer.max_epochs=1000")
    stop_after_an_epoch(stopped, folder, signal.SIGINT)
    stopped.send_signal(signal.SIGINT)  # whether the first has been acted on yet or not
    result = finished(stopped)

    assert result.returncode == 128 + signal.SIGINT, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: stopped") and f"hydra.run.dir={folder} to continue" in line
    assert json.loads((folder / "results.json").read_text())["status"] == "interrupted"


def test_a_stopped_run_moved_to_another_folder_continues_there_to_the_same_results(
    tmp_path, shared_cache, uninterrupted
):
    folder, moved = tmp_path / "run", tmp_path / "moved"
    stopped = start(folder, shared_cache)
    stop_after_an_epoch(stopped, folder, signal.SIGTERM)
    assert finished(stopped).returncode == 128 + signal.SIGTERM
    folder.rename(moved)

    resumed = finished(start(moved, shared_cache))

    assert resumed.returncode == 0, resumed.stderr
    assert outcome(moved) == uninterrupted  # the best score so far was kept: best.ckpt, not best-v1.ckpt
    assert sorted(path.name for path in (moved / "checkpoints").iterdir()) == ["best.ckpt", LAST]


def test_a_copy_of_a_finished_run_rerun_in_its_own_folder_reads_only_its_own_files(tmp_path, shared_cache):
    original, copy = tmp_path / "original", tmp_path / "copy"
    assert finished(start(original, shared_cache)).returncode == 0
    first = outcome(original)
    shutil.copytree(original, copy)
    shutil.rmtree(original)  # what the copy read of the original would now be missing

    rerun = finished(start(copy, shared_cache))

    assert rerun.returncode == 0, rerun.stderr
    assert outcome(copy) == first


def test_a_second_sigint_raises_the_stop_itself_not_the_keyboard_interrupt_lightning_would_exit_1_on():
    stop = GracefulStop()
    stop.position = "at epoch 2, step 41"
    stop._record(signal.SIGINT, None)  # the first only records itself

    with pytest.raises(Interrupted, match=r"^stopped at once by a second SIGINT at epoch 2, step 41$"):
        stop._record(signal.SIGINT, None)


def test_a_sigterm_that_lightning_acts_on_first_still_stops_the_run_as_interrupted():
    stop = GracefulStop()
    stop.position = "at epoch 2, step 41"

    with pytest.raises(Interrupted, match=r"^stopped by SIGTERM at epoch 2, step 41$") as raised, stop.listening():
        raise SIGTERMException  # Lightning's own stop: a SystemExit with status 0

    assert raised.value.signal == signal.SIGTERM


@pytest.mark.parametrize(
    ("hook", "where"),
    [("on_validation_batch_end", "while validating, at epoch 0, step 3"), ("on_test_batch_end", "while testing")],
)
def test_a_signal_during_validation_or_the_final_test_stops_at_the_next_batch(hook, where):
    stop = GracefulStop()
    stop.position = "at epoch 0, step 3"
    stop.received = signal.SIGTERM

    with pytest.raises(Interrupted, match=rf"^stopped by SIGTERM {where}"):
        getattr(stop, hook)(None, None, None, None, 0)


def test_a_resumed_run_continues_its_wandb_run(tmp_path, shared_cache):
    folder = tmp_path / "run"
    stopped = start(folder, shared_cache, "logger=wandb")
    stop_after_an_epoch(stopped, folder, signal.SIGTERM)
    finished(stopped)

    resumed = finished(start(folder, shared_cache, "logger=wandb"))

    assert resumed.returncode == 0, resumed.stderr
    starts = sorted((folder / "wandb").glob("offline-run-*"))
    assert len(starts) == 2
    assert len({path.name.rsplit("-", 1)[1] for path in starts}) == 1  # one W&B run id: `wandb sync` joins them
    assert (starts[-1] / "files" / "results.json").is_file()


def test_resume_true_without_a_resume_point_names_the_missing_file(make_config, tmp_path):
    with pytest.raises(
        ConfigError, match=r"resume=True: .*last\.ckpt does not exist; name the folder .*hydra\.run\.dir"
    ):
        run(make_config("resume=true"))


def test_resume_false_refuses_a_folder_that_holds_a_stopped_run(make_config, finished_folder):
    with pytest.raises(ConfigError, match=r"resume=False: .* holds a stopped run .*resume=auto"):
        run(make_config(f"output_dir={finished_folder}", "resume=false"))


@pytest.fixture
def finished_folder(make_config, tmp_path) -> Path:
    """The folder of a finished one-epoch ``attn`` run on digits (with its resume point)."""
    folder = tmp_path / "finished"
    run(
        make_config(f"output_dir={folder}", "trainer=default", "trainer.max_epochs=1", "model.dim=16", "model.layers=1")
    )
    assert (folder / "checkpoints" / LAST).exists()
    return folder


def test_a_checkpoint_of_another_model_is_refused_naming_both(make_config, finished_folder):
    with pytest.raises(ConfigError, match=r"written by a modality=image model=attn run, not modality=image model=cnn"):
        run(make_config(f"output_dir={finished_folder}", "model=cnn"))


def test_a_checkpoint_with_other_settings_is_refused_naming_the_setting(make_config, finished_folder):
    with pytest.raises(ConfigError, match=r"written with other settings \(.*model\.layers=1 there, 2 here"):
        run(
            make_config(
                f"output_dir={finished_folder}",
                "trainer=default",
                "trainer.max_epochs=1",
                "model.dim=16",
                "model.layers=2",
            )
        )


def test_a_checkpoint_that_holds_more_than_tensors_is_not_unpickled(tmp_path, finished_folder):
    path = tmp_path / LAST
    checkpoint = torch.load(finished_folder / "checkpoints" / LAST, weights_only=True)
    torch.save({**checkpoint, "payload": Path("anything")}, path)  # any pickled object, not a tensor

    with pytest.raises(
        DataError,
        match=r"holds a pickled object \(pathlib.PosixPath\) and is not loaded: .*tensors and plain values only",
    ):
        check_identity(path, checkpoint["arena"])


def test_a_truncated_resume_point_is_a_clear_error(tmp_path, finished_folder):
    path = tmp_path / LAST
    whole = (finished_folder / "checkpoints" / LAST).read_bytes()
    path.write_bytes(whole[: len(whole) // 2])

    with pytest.raises(DataError, match=r"last\.ckpt cannot be read"):
        check_identity(path, {})


def test_a_stopped_sweep_rerun_in_its_folder_continues_the_stopped_job_and_runs_the_rest(tmp_path, shared_cache):
    sweep = tmp_path / "sweep"
    command = [
        "-m",
        "seed=0,1",
        f"hydra.sweep.dir={sweep}",
        f"sweep.index_dir={tmp_path / 'done'}",
        "sweep.report=false",
    ]
    stopped = start(tmp_path / "unused", shared_cache, *command)
    stop_after_an_epoch(stopped, sweep / "0_image_attn_seed0", signal.SIGTERM)
    result = finished(stopped)

    assert result.returncode == 128 + signal.SIGTERM
    assert f"hydra.sweep.dir={sweep} to continue" in result.stderr
    assert not (sweep / "1_image_attn_seed1").exists()  # the sweep stopped as a whole

    rerun = finished(start(tmp_path / "unused", shared_cache, *command))

    assert rerun.returncode == 0, rerun.stderr
    jobs = {path.parent.name: json.loads(path.read_text()) for path in sweep.glob("*/results.json")}
    assert {name: (job["status"], job["resumed"]) for name, job in jobs.items()} == {
        "0_image_attn_seed0": ("ok", True),
        "1_image_attn_seed1": ("ok", False),
    }
    assert "sweep finished: 2 jobs: 1 trained, 1 resumed, 0 reused, 0 failed" in rerun.stdout + rerun.stderr


def test_the_resume_point_holds_the_best_score_of_its_own_epoch(make_config, tmp_path):
    cfg = make_config("trainer=default", "model.dim=16", "model.layers=1", "trainer.max_epochs=3")
    results = run(cfg)

    saved = torch.load(tmp_path / "run" / "checkpoints" / LAST, weights_only=False)
    (best,) = [state for name, state in saved["callbacks"].items() if name.startswith("ModelCheckpoint")]
    assert saved["epoch"] == results["epochs"] - 1  # written at the last epoch's end
    assert float(best["best_model_score"]) == pytest.approx(results["best_val"]["acc"], abs=1e-6)
