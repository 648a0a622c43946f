"""Checks made before training starts, so a run never fails on its output after spending its time."""

from __future__ import annotations

import shutil
from pathlib import Path

from framework.errors import OutputError

CHECKPOINT_COPIES = 3
"""Checkpoint files a run may hold at once: the best, the resume point and the resume point's next version being written."""
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
            f"{need / 2**20:.1f} MiB for its checkpoints and logs; free some space or choose another folder with hydra.run.dir=<folder>"
        )
