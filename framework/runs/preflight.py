"""Checks made before training starts, so a run never fails on its output after spending its time."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from framework.core.errors import OutputError

CHECKPOINT_COPIES = 3
"""Checkpoint files a run may hold at once: the best, the resume point and its next version being written."""
STATE_PER_PARAMETER = 12
"""Bytes a checkpoint holds per parameter: fp32 weights and an Adam-style optimizer's two moments."""
LOG_ROOM = 16 * 2**20
"""Bytes kept free for logs, results and attention maps."""


def check_output_folder(folder: Path, parameters: int) -> None:
    """Raises :class:`OutputError` unless ``folder`` can be written and has room for the run's checkpoints."""
    probe = folder / ".write-test"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
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
    """Hydra callback: makes the run (or sweep) folder before Hydra does, and exits with one line if it cannot.

    Hydra would otherwise fail inside its own job set-up with a stack trace.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        make_folder(config.hydra.run.dir, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        make_folder(config.hydra.sweep.dir, "hydra.sweep.dir")


def make_folder(folder: str, key: str) -> None:
    """Creates ``folder``, or prints why it cannot be created and exits with status 2."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(
            f"error: cannot create the run folder {folder} ({error.strerror or error}); "
            f"choose another with {key}=<folder>",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
