"""One process per run folder: a lock the operating system releases when its process ends, even by ``kill -9``."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TextIO

from framework.core.errors import OutputError

LOCK_FILE = ".lock"
"""The lock's file in a run (or sweep) folder; it holds the PID of the process that last took it."""
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID")
"""Set to a non-zero rank in the second and later processes of one distributed run, which share its folder."""

_held: dict[Path, TextIO] = {}
"""The lock files this process holds open: closing one would release its lock."""


def is_first_process() -> bool:
    """False in the later processes of a distributed run (DDP, torchrun, SLURM tasks): the first speaks for them."""
    return all(os.environ.get(name, "0") in ("", "0") for name in RANK_VARIABLES)


def lock_folder(folder: Path, key: str) -> None:
    """Takes ``folder``'s lock for the rest of this process, writing nothing else first.

    Raises:
        OutputError: another live process holds it; the message names its PID and ``key``, the option to change.
    """
    folder = folder.resolve()
    if folder in _held or not is_first_process():
        return
    folder.mkdir(parents=True, exist_ok=True)
    handle = (folder / LOCK_FILE).open("a+")  # not "w": the holder's PID must survive a refused second process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise OutputError(
            f"the run folder {folder} is in use by another run (PID {holder}); wait for it to end, "
            f"or choose another folder with {key}=<folder>"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    _held[folder] = handle


def release_folder(folder: Path) -> None:
    """Gives back ``folder``'s lock, if this process holds it (a sweep job's folder, when the job ends)."""
    handle = _held.pop(folder.resolve(), None)
    if handle is not None:
        handle.close()
