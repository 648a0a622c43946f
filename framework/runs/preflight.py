"""Checks made before training starts, so a run never fails on its output after spending its time."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from framework.core.errors import ArenaError, OutputError
from framework.core.sources import CONF_DIR
from framework.runs.lock import lock_folder
from framework.runs.places import check_outside_data, check_path_names, check_run, data_folders, selected

CHECKPOINT_COPIES = 3
"""Checkpoint files a run may hold at once: the best, the resume point and its next version being written."""
STATE_PER_PARAMETER = 12
"""Bytes a checkpoint holds per parameter: fp32 weights and an Adam-style optimizer's two moments."""
LOG_ROOM = 16 * 2**20
"""Bytes kept free for logs, results and attention maps."""


def check_output_folder(folder: Path, parameters: int) -> None:
    """Raises :class:`OutputError` unless ``folder`` can be written and has room for the run's checkpoints.

    Every process of a distributed run checks the same folder at once, so each writes a probe file
    of its own: a shared name would let one process delete another's probe, and the process whose
    check failed would leave the others waiting for it to join.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-") as probe:
            probe.write(b"ok")
            probe.flush()
        free = shutil.disk_usage(folder).free
    except OSError as error:
        raise OutputError(
            f"cannot write to the run folder {folder} ({error.strerror or error}); "
            "choose another with hydra.run.dir=<folder> (hydra.sweep.dir=<folder> with -m)"
        ) from None
    need = CHECKPOINT_COPIES * STATE_PER_PARAMETER * parameters + LOG_ROOM
    if free < need:
        raise OutputError(
            f"the run folder {folder} has {free / 2**20:.1f} MiB free, and a run of this model needs about "
            f"{need / 2**20:.1f} MiB for its checkpoints and logs; "
            "free some space or choose another folder with hydra.run.dir=<folder>"
        )


class OutputFolderCheck(Callback):
    """Hydra callback: checks, makes and locks the run (or sweep) folder before Hydra writes into it.

    A folder that is no folder of its own (empty, the current one, the arena's code, the data or
    the cache), one that cannot be made, or one another live process holds stops the command
    with one line and exit status 2: Hydra would otherwise fail inside its own job set-up with a
    stack trace, or two processes would write into one folder.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        claim_folder(config, "hydra.run.dir", run=True)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        claim_folder(config, "hydra.sweep.dir", run=False)


def claim_folder(config: DictConfig, key: str, run: bool) -> None:
    """Checks the folder ``key`` names, creates it and takes its lock; else prints why and exits with status 2.

    For a single ``run``, also where it writes (:func:`~framework.runs.places.check_run`); a sweep's
    jobs are checked by the arena's sweeper, each with its own values.
    """
    folder = resolved(config, key)
    resolved(config, "hydra.job.name")  # names the folder's log
    try:
        check_path_names(config)
        data = data_folders(config)
        check_output_path(folder, key, data)
        if run and (output := selected(config, "output_dir")) is not None:  # set apart from Hydra's folder
            check_output_path(str(output), "output_dir", data)
        if run:
            check_run(config, Path(folder), key)
        Path(folder).mkdir(parents=True, exist_ok=True)
        lock_folder(Path(folder), key)
    except OSError as error:
        print(
            f"error: cannot create the run folder {folder} ({error.strerror or error}); "
            f"choose another with {key}=<folder>",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    except ArenaError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def resolved(config: DictConfig, key: str) -> Any:
    """The value at ``key``; one line and exit status 2 when it cannot be resolved (``${oc.env:UNSET}``), which
    Hydra, resolving it itself, would answer with a traceback."""
    try:
        return OmegaConf.select(config, key, throw_on_resolution_failure=True)
    except OmegaConfBaseException as error:
        print(f"error: {key} cannot be resolved: {str(error).splitlines()[0]}", file=sys.stderr)
        raise SystemExit(2) from None


def check_output_path(folder: str, key: str, data: dict[str, Path]) -> None:
    """Raises :class:`OutputError` unless ``folder`` is a folder of its own for a run's files.

    Refused: an empty value, the current folder or one containing it, the arena's code folder or one
    containing it, and a folder that is, contains or lies inside one of ``data`` (``data_dir``, ``cache_dir``).
    """
    if not str(folder).strip():
        raise OutputError(f"{key} is empty; give the run a folder of its own, e.g. {key}=outputs/my-run")
    path, code = Path(folder).expanduser().resolve(), CONF_DIR.parent.resolve()
    if Path.cwd().resolve().is_relative_to(path):
        raise OutputError(
            f"{key}={folder} is or holds the current folder; give the run a folder of its own, e.g. {key}=my-run"
        )
    if code.is_relative_to(path):
        raise OutputError(f"{key}={folder} holds the arena's code ({code}); give the run a folder of its own")
    check_outside_data(Path(folder), key, data)
