"""Runs that survive being stopped: resume points written at epochs' ends, checked before use.

A run folder's ``checkpoints/last.ckpt`` holds everything needed to continue training exactly
where the epoch it was written after left it: Lightning's model, optimizer, schedule and loop state, the
callbacks' state, the modality's shuffling generator, and the global random-number states. The
runner continues from it (``resume=auto`` or ``true``) after checking that it was written by a run
of the same config. Every checkpoint also carries the run's identity
(:func:`~framework.runs.identity.checkpoint_identity`), so
one from another modality, model or config is refused with a message naming both. A run folder moved or
copied elsewhere continues from its own files: the checkpoint paths a resume point holds are taken to the
folder it is read from (:func:`relocate`).
"""

from __future__ import annotations

import pickle
import random
import re
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from framework.core.errors import ConfigError, DataError
from framework.io.atomic import replace_durably
from framework.io.file_kind import not_a_file

LAST = "last.ckpt"
"""The resume point's file name inside the checkpoint folder."""
RESUME_MODES = ("auto", True, False)


class ResumePoint(pl.callbacks.Checkpoint):
    """Writes ``<dirpath>/last.ckpt`` at the end of an epoch that validated, at most every ``every_s`` seconds and
    always after the last epoch; stamps every checkpoint with the run.

    Args:
        dirpath: the run's checkpoint folder.
        identity: the run's identity, stored in every checkpoint it saves.
        every_s: seconds that must pass after a resume point before the next; 0 writes one after every epoch.
            On short epochs writing each would cost more than the epoch; a run killed between two
            resume points repeats the epochs since the last one, to the same results.

    The file is written under a temporary name and renamed into place, so a run killed while
    writing leaves the previous resume point intact. It is written at the epoch's end, not when
    validation ends: the best-checkpoint callback takes an epoch-end validation into its state
    only at the epoch's end, and a resume point written before would hold the previous best.
    Being a :class:`~pytorch_lightning.callbacks.Checkpoint`, Lightning runs it after the other
    callbacks, so it saves their state for this epoch (the best checkpoint so far included). Its
    own state is the global random-number generators, so dropout draws continue as they would
    have. They are restored at the first training batch, not when the checkpoint loads:
    Lightning's restart (finishing the saved epoch's loops) may draw numbers before.
    """

    def __init__(self, dirpath: str | Path, identity: dict[str, Any], every_s: float = 0.0) -> None:
        self.path = Path(dirpath) / LAST
        self.identity = identity
        self.every_s = every_s
        self._pending: dict[str, Any] | None = None
        self._validated = False
        self._written_at = time.monotonic()

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._written_at = time.monotonic()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not (trainer.sanity_checking or trainer.fast_dev_run or trainer.state.fn != "fit"):
            self._validated = True

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._validated:  # a partial epoch (a signal stopped it) or one that did not validate
            return
        self._validated = False
        due = is_last_epoch(trainer) or time.monotonic() - self._written_at >= self.every_s
        # Each process has its own clock; the first decides for all, or one would wait in a barrier alone.
        if not trainer.strategy.broadcast(due, src=0):
            return
        partial = self.path.with_name(f".{self.path.name}.part")
        trainer.save_checkpoint(partial, weights_only=False)  # the whole training state
        if trainer.is_global_zero:
            replace_durably(partial, self.path)
        trainer.strategy.barrier("ResumePoint")
        self._written_at = time.monotonic()

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint["arena"] = self.identity

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        # Lightning calls this for every callback before any loads its state: the checkpoint callbacks' paths,
        # stored whole, are moved with the run folder here, or the best score so far would be forgotten.
        states = checkpoint.get("callbacks", {})
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, pl.callbacks.ModelCheckpoint) and callback.state_key in states:
                relocate(states[callback.state_key], callback.dirpath)

    def state_dict(self) -> dict[str, Any]:
        state = {"torch": torch.get_rng_state(), "python": random.getstate()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = state_dict

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        torch.set_rng_state(state["torch"])
        random.setstate(state["python"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])


def relocate(state: dict[str, Any], dirpath: str | None) -> None:
    """Rewrites a :class:`~pytorch_lightning.callbacks.ModelCheckpoint` state written in another folder (the run
    folder was moved or copied) so that its checkpoint paths name the same files inside ``dirpath``."""
    written = state.get("dirpath")
    if dirpath is None or written is None or written == dirpath:
        return

    def moved(path: str) -> str:
        inside = Path(path).is_relative_to(written) if path else False
        return str(Path(dirpath) / Path(path).relative_to(written)) if inside else path

    for key in ("best_model_path", "kth_best_model_path", "last_model_path"):
        if key in state:
            state[key] = moved(state[key])
    if "best_k_models" in state:
        state["best_k_models"] = {moved(path): score for path, score in state["best_k_models"].items()}
    state["dirpath"] = dirpath


def is_last_epoch(trainer: pl.Trainer) -> bool:
    """Whether training ends with the epoch ending now: its epoch or step limit is reached, or a callback stopped it."""
    max_epochs, max_steps = trainer.max_epochs, trainer.max_steps
    return (
        trainer.should_stop
        or (max_epochs is not None and max_epochs >= 0 and trainer.current_epoch + 1 >= max_epochs)
        or (max_steps is not None and max_steps >= 0 and trainer.global_step >= max_steps)
    )


def resume_checkpoint(mode: object, folder: Path, identity: dict[str, Any]) -> tuple[Path, int] | None:
    """The resume point to continue from and its global step, or None to start afresh; refuses another run's.

    ``mode``: ``auto`` continues when ``folder`` holds a resume point, ``true`` requires one,
    ``false`` requires that there is none (so two runs never mix in one folder).
    """
    if mode not in RESUME_MODES:
        raise ConfigError("resume", mode, "allowed values are auto, true, false")
    path = folder / LAST
    if not path.exists():
        if mode is True:
            raise ConfigError(
                "resume",
                mode,
                f"{path} does not exist; name the folder of the run to continue with hydra.run.dir=<folder>",
            )
        return None
    if mode is False:
        raise ConfigError(
            "resume",
            mode,
            f"{folder.parent} holds a stopped run ({path}); continue it with resume=auto, or choose another folder",
        )
    return path, check_identity(path, identity)


def read_checkpoint(path: Path, advice: str = "delete it to start the run afresh") -> dict[str, Any]:
    """The checkpoint at ``path``, loaded as tensors and plain values only, with the identity of the run that wrote it.

    Raises :class:`DataError`, ending in ``advice``, for a file that cannot be read or that this project did not write.
    """
    if kind := not_a_file(path):  # torch.load would wait for a writer (a pipe) or read forever (a device)
        raise DataError(f"{path} is {kind}, not a checkpoint; {advice}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        written = checkpoint.get("arena")
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL (\S+)", str(error))
        raise DataError(
            f"{path} holds a pickled object "
            f"({found.group(1) if found else 'not a tensor or plain value'}) and is not loaded: "
            f"checkpoints are read as tensors and plain values only; {advice}"
        ) from None
    except Exception as error:  # noqa: BLE001 - any unreadable checkpoint gets the same advice
        reason = str(error).splitlines()[0] if str(error) else ""
        raise DataError(f"{path} cannot be read ({type(error).__name__}: {reason}); {advice}") from None
    if written is None:
        raise DataError(f"{path} was not written by Attention Arena (no run identity in it); use another run folder")
    return checkpoint


def check_identity(path: Path, identity: dict[str, Any]) -> int:
    """The global step of the checkpoint at ``path``; raises unless a run with ``identity`` wrote it."""
    checkpoint = read_checkpoint(path)
    written = checkpoint["arena"]
    ours = f"modality={identity['modality']} model={identity['model']}"
    theirs = f"modality={written['modality']} model={written['model']}"
    if ours != theirs:
        raise ConfigError(
            "resume",
            "auto",
            f"{path} was written by a {theirs} run, not {ours}; continue it with {theirs}, or choose another folder",
        )
    differ = sorted(
        key
        for key in identity["settings"].keys() | written["settings"].keys()
        if identity["settings"].get(key) != written["settings"].get(key)
    )
    if differ:
        changes = ", ".join(
            f"{key}={written['settings'].get(key)!r} there, {identity['settings'].get(key)!r} here"
            for key in differ[:5]
        )
        raise ConfigError(
            "resume",
            "auto",
            f"{path} was written with other settings ({changes}); "
            "continue it with the same settings, or choose another folder",
        )
    return int(checkpoint["global_step"])
