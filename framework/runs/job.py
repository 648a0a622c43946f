"""One run as Hydra started it, and what becomes of its errors: the task wrapper around every run.

:meth:`Job.guard` is the one place that decides, after the fact, how a run ended. A single run
turns a user-fixable error into one line and exit status 2 (removing a run folder that holds
nothing yet); inside a multirun, a failed job is written down as ``status: failed`` and the sweep
goes on; a stopped run (SIGINT, SIGTERM) says how to continue and exits ``128 + signal``.
"""

from __future__ import annotations

import errno
import logging
import math
import shutil
import signal
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from framework.core.errors import ArenaError, Interrupted, OutputError
from framework.runs.identity import config_hash, run_identity
from framework.runs.index import DoneIndex, reuse_finished
from framework.runs.lock import LOCK_FILE
from framework.runs.results import RESULTS_FILE, Results, write_results

log = logging.getLogger(__name__)

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
"""The errors of a write that found no room: the disk, or the user's quota, is full."""


@dataclass
class Job:
    """A run with the context Hydra gives it.

    Args:
        cfg: the composed config.
        overrides: the command-line overrides that produced it (recorded in ``results.json``).
        multirun: whether it is one job of a sweep (``-m``).
        rank_zero: whether this process writes the sweep's records (under SLURM every DDP process runs the job).
        log_name: Hydra's log file in the run folder, which alone does not make a run folder worth keeping.
        resume_point: where a stopped run leaves what it needs to continue.
    """

    cfg: DictConfig
    overrides: list[str]
    multirun: bool
    rank_zero: bool
    log_name: str
    resume_point: Path
    results: Results | None = None

    @property
    def output_dir(self) -> Path:
        return Path(self.cfg.output_dir)

    def reused(self) -> Results | None:
        """In a multirun, the results of this very config if it already finished, else None.

        Reused results are copied into this job's folder. A job that is not reused is entered in the
        index before it trains, so that its ``results.json``, written last, is all it takes to be found.
        """
        if not self.multirun:
            return None
        index, digest = DoneIndex(self.cfg.sweep.index_dir), config_hash(self.cfg, self.cfg.sweep.hash_ignores)
        found = index.find(digest)
        if found is None:
            if self.rank_zero:  # the other processes only read the index
                index.record(digest, self.output_dir / RESULTS_FILE)
            return None
        # A finished run keeps its entry; with sweep.skip_done=false this config trains again beside it.
        if not self.cfg.sweep.skip_done:
            return None
        return reuse_finished(self.cfg, *found) if self.rank_zero else found[1]

    @property
    def score(self) -> float:
        """What the sweeper (Optuna) optimises: the best validation accuracy, NaN for a failed job.

        The test score stays unseen.
        """
        return math.nan if self.results is None or self.results["status"] != "ok" else self.results["best_val"]["acc"]

    @contextmanager
    def guard(self) -> Iterator[Job]:
        """Runs the block and settles how the run ended; set :attr:`results` inside it when the run finishes."""
        try:
            yield self
        except (Interrupted, KeyboardInterrupt) as error:  # stops a sweep too: the user asked everything to stop
            # A Ctrl+C landing while a stop unwinds (after the signal handlers are restored) belongs to that stop.
            stop = next((cause for cause in context_chain(error) if isinstance(cause, Interrupted)), None)
            if stop is None:  # Ctrl+C before training started (while data loads)
                print("error: stopped by SIGINT before training started", file=sys.stderr)
                raise SystemExit(128 + signal.SIGINT) from None
            self.record_failure(stop, status="interrupted")
            print(f"error: {stop}; {self.how_to_continue()}", file=sys.stderr)
            raise SystemExit(128 + stop.signal) from None
        except Exception as error:  # noqa: BLE001 - one failed job must not stop the sweep
            if isinstance(error, OSError) and error.errno in DISK_FULL:  # after the preflight check had room
                self.stop_on_full_disk(error)
            if self.multirun:
                self.record_failure(error)
                log.error("job failed: %s: %s", type(error).__name__, error)
                return
            if not isinstance(error, ArenaError):
                raise
            self.discard_if_empty()
            print(f"error: {error}", file=sys.stderr)
            raise SystemExit(2) from None

    def stop_on_full_disk(self, error: OSError) -> None:
        """Ends a run whose disk filled up while it ran: ``status: failed`` where it still fits, one line, exit 2.

        What was being written is gone (every write goes through a temporary file, removed on failure),
        and the resume point before it is whole, so the same command continues once there is room.
        """
        stopped = OutputError(
            f"the disk of {self.output_dir} is full ({error.strerror}: {error.filename or 'a write'})"
        )
        with suppress(OSError):  # the record is small, but there may be no room even for it
            self.record_failure(stopped)
        print(f"error: {stopped}; free some space: {self.how_to_continue()}", file=sys.stderr)
        raise SystemExit(2) from None

    def record_failure(self, error: BaseException, status: str = "failed") -> None:
        """Writes ``results.json`` with ``status`` and the error (with its traceback unless it is a user error)."""
        self.results = Results(
            **run_identity(self.cfg, self.overrides),
            status=status,
            error=f"{type(error).__name__}: {error}",
            traceback=None if isinstance(error, ArenaError) else "".join(traceback.format_exception(error)),
        )
        if self.rank_zero:
            write_results(self.output_dir, self.results)

    def how_to_continue(self) -> str:
        """The advice printed for an interrupted run: where its resume point is and the override that continues it."""
        if not self.resume_point.exists():
            return "no resume point had been written, so there is nothing to continue"
        folder = f"hydra.sweep.dir={self.output_dir.parent}" if self.multirun else f"hydra.run.dir={self.output_dir}"
        return f"its resume point is saved: run the same command with {folder} to continue"

    def discard_if_empty(self) -> None:
        """Removes the run folder if it holds only Hydra's bookkeeping and the lock (a run that never started)."""
        discard_if_empty(self.output_dir, self.log_name)


def discard_if_empty(folder: Path, log_name: str) -> None:
    """Removes ``folder`` if it holds nothing but Hydra's bookkeeping, its log ``log_name`` and the lock."""
    if folder.is_dir() and {path.name for path in folder.iterdir()} <= {".hydra", log_name, LOCK_FILE}:
        shutil.rmtree(folder)


def context_chain(error: BaseException) -> Iterator[BaseException]:
    """``error``, the exception being handled when it was raised, and so on back to the first."""
    while error is not None:
        yield error
        error = error.__context__
