"""Running one experiment: fit, pick the best validation checkpoint, test it, write ``results.json``."""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytorch_lightning as pl
import rich
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.strategies.launchers import _SubprocessScriptLauncher
from pytorch_lightning.utilities import rank_zero_only

from framework.config.checks import check_resolves, seed_of
from framework.config.tree import config_tree
from framework.core.errors import ArenaError, ConfigError, NoCheckpoint, OutputError
from framework.runs.identity import checkpoint_identity, run_identity, variant_of
from framework.runs.job import Job, discard_if_empty
from framework.runs.lock import lock_folder, release_folder
from framework.runs.preflight import check_output_folder
from framework.runs.results import Results, strip_prefix, write_results
from framework.runs.selection import is_selection_run
from framework.train.budget import count_parameters
from framework.train.build import build_callbacks, build_parts, build_trainer, on_data
from framework.train.callbacks import FiniteLoss, GracefulStop, TrainingThroughput
from framework.train.evaluate import evaluate
from framework.train.loggers import build_loggers, closing_loggers, log_summary
from framework.train.memory import kept_freed_memory
from framework.train.resume import LAST, ResumePoint, resume_checkpoint

log = logging.getLogger(__name__)


def run(cfg: DictConfig, overrides: Iterable[str] = ()) -> Results:
    """Trains and tests one (modality, model, seed) and writes ``results.json`` into ``cfg.output_dir``.

    The test metrics come from the checkpoint with the best validation accuracy. ``overrides``
    are the command-line overrides that produced ``cfg``, recorded in the results.
    """
    started = time.perf_counter()
    output_dir = Path(cfg.output_dir)
    pl.seed_everything(seed_of(cfg), workers=True, verbose=False)
    parts = build_parts(cfg)
    if cfg.print_config and rank_zero_only.rank == 0:
        rich.get_console().print(config_tree(cfg))
    modality, spec = parts.modality, parts.modality.spec
    identity = checkpoint_identity(cfg, cfg.sweep.hash_ignores)
    resume_from, resume_step = resume_checkpoint(cfg.resume, output_dir / "checkpoints", identity) or (None, None)
    throughput, stop = TrainingThroughput(), GracefulStop()
    selecting = is_selection_run(cfg)
    # A selection run measures nothing but its validation score: the probes (callbacks with checks) stay off.
    configured = [c for c in build_callbacks(cfg.callbacks, spec) if not (selecting and hasattr(c, "checks"))]
    callbacks = configured + [
        throughput,
        FiniteLoss(),
        stop,
        ResumePoint(output_dir / "checkpoints", identity, cfg.resume_every_s),
    ]
    trainer = build_trainer(cfg.trainer, callbacks, output_dir)
    check_process_launch(trainer)

    parts, module, width = on_data(cfg, parts)
    parts.optimizer.members(module.named_parameters())  # every group finds parameters, before anything is written
    module.example_input_array = modality.example("val", 0)  # the model summary's FLOPs and sizes: one validation set
    check_output_folder(output_dir, count_parameters(module))
    if cfg.compile.enabled:
        module.compile(mode=cfg.compile.mode, dynamic=cfg.compile.dynamic)
    variant = variant_of(overrides)
    # Built last: a logger writes files (or starts a W&B run) as soon as it exists, and a run that fails
    # on its data must leave nothing behind.
    loggers = build_loggers(
        cfg.logger,
        OmegaConf.to_container(cfg, resolve=True),
        tags=[*cfg.tags, *(variant.split() if variant != "default" else ())],
        resumed_at=resume_step,
    )
    trainer.loggers = loggers
    if resume_from is not None:
        log.info("continuing from %s", resume_from)
    with closing_loggers(loggers), stop.listening(), kept_freed_memory(cfg.keep_freed_memory):
        # weights_only: a checkpoint is loaded as tensors and plain values, never as arbitrary pickled objects.
        trainer.fit(module, datamodule=modality, ckpt_path=resume_from, weights_only=True)
        best = next((c.best_model_path for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint)), "")
        if not best and not trainer.fast_dev_run:  # a debugging step saves no checkpoint, and says so itself
            raise NoCheckpoint(
                f"training ended after {trainer.global_step} steps without a validation score to choose a checkpoint "
                "by, so nothing is tested; make validation run (trainer.check_val_every_n_epoch, "
                "trainer.val_check_interval, trainer.limit_val_batches)"
            )
        # The best checkpoint's validation is a result, not one more epoch: loggers get it as best_val/* only.
        with loggers_off(trainer):
            best_val = trainer.validate(
                module, datamodule=modality, ckpt_path=best or None, verbose=False, weights_only=True
            )[0]
        for each in trainer.loggers:
            each.log_metrics(
                {f"best_val/{key}": value for key, value in strip_prefix(best_val, "val").items() if value is not None},
                step=trainer.global_step,
            )
        # A study's selection run is scored on validation only: its test metrics are never computed.
        test = (
            {} if selecting else trainer.test(module, datamodule=modality, ckpt_path=best or None, weights_only=True)[0]
        )
        results: Results = {
            **run_identity(cfg, overrides),
            "modality": spec.name,
            "dataset": spec.dataset,
            "status": "ok",
            "test": strip_prefix(test, "test"),
            "best_val": strip_prefix(best_val, "val"),
            "checkpoint": str(Path(best).relative_to(output_dir)) if best else None,
            "epochs": trainer.current_epoch,
            "resumed": resume_from is not None,
            "precision": trainer.precision,
            "params": count_parameters(module),
            "param_budget": parts.param_budget,
            "width": {type(parts.encoder).width_key: width},
            "throughput": {"element": spec.element, **throughput.summary()},
            "wall_time_s": round(time.perf_counter() - started, 2),
            # Properties of the trained model that check callbacks (framework.train.probes) measured.
            "checks": {
                key: value
                for callback in callbacks
                if hasattr(callback, "checks")
                for key, value in callback.checks().items()
            },
        }
        if trainer.is_global_zero:
            path = write_results(output_dir, results)
            log_summary(loggers, results, output_dir, files=(path.name, ".hydra/config.yaml"))
    if trainer.is_global_zero:
        scores = {"validation": results["best_val"], "test": results["test"]}
        scored = ", ".join(f"{name} accuracy {metrics['acc']:.4f}" for name, metrics in scores.items() if metrics)
        log.info("%s; results in %s", scored, path)
    return results


@contextmanager
def loggers_off(trainer: pl.Trainer) -> Iterator[None]:
    """Detaches the trainer's loggers for the block."""
    attached, trainer.loggers = trainer.loggers, []
    try:
        yield
    finally:
        trainer.loggers = attached


def main(cfg: DictConfig) -> float:
    """Command-line entry: runs the job inside its :class:`~framework.runs.job.Job` guard.

    Returns the best validation accuracy: what a sweeper (Optuna) may optimise; the test score stays unseen.
    Inside a multirun, a config that already finished is reused instead of trained again, and a
    job that fails is recorded as failed (its score is NaN) so that the sweep goes on.
    """
    hydra = HydraConfig.get()
    multirun = hydra.mode == RunMode.MULTIRUN
    try:
        check_resolves(cfg)  # the job's folder is cfg.output_dir: every value resolves before it is used
    except ArenaError as error:
        if multirun:
            log.error("job not run: %s", error)
            return math.nan
        discard_if_empty(Path(hydra.runtime.output_dir), f"{hydra.job.name}.log")
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    job = Job(
        cfg,
        # As typed: an override such as model.dim=${nope} is the config check's to refuse, not this line's.
        OmegaConf.to_container(hydra.overrides.task, resolve=False),
        multirun=multirun,
        rank_zero=rank_zero_only.rank == 0,
        log_name=f"{hydra.job.name}.log",
        resume_point=Path(cfg.output_dir) / "checkpoints" / LAST,
    )
    if not job.multirun:  # a single run's folder was locked when Hydra started it
        return attempt(job)
    try:
        lock_folder(job.output_dir, "hydra.sweep.dir")
    except OutputError as error:  # the folder is another live process's: nothing is written into it
        log.error("job not run: %s", error)
        return math.nan
    try:
        return attempt(job)
    finally:
        release_folder(job.output_dir)


def attempt(job: Job) -> float:
    """Evaluates, reuses or trains ``job`` inside its guard; returns what :func:`main` returns."""
    if job.cfg.get("mode") in ("test", "predict"):  # nothing is trained, so nothing is reused or recorded
        with job.guard():
            evaluate(job.cfg, job.overrides)
        return math.nan
    if (reused := job.reused()) is not None:
        return reused["best_val"]["acc"]
    with job.guard():
        job.results = run(job.cfg, job.overrides)
    return job.score


def check_process_launch(trainer: pl.Trainer) -> None:
    """Refuses DDP processes that Lightning would start by running the command line again, inside a multirun.

    Each copy would run the whole sweep again. Processes started by SLURM (``experiment=slurm_ddp``)
    or torchrun are not Lightning's to start, and work in a multirun.
    """
    relaunches = (
        isinstance(trainer.strategy.launcher, _SubprocessScriptLauncher)
        and trainer.num_devices > 1
        and not trainer.strategy.cluster_environment.creates_processes_externally
    )
    if relaunches and HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        raise ConfigError(
            "trainer.devices",
            trainer.num_devices,
            "a multirun (-m) cannot start DDP processes on this machine: Lightning starts them by running the command "
            "again, and each copy would run the whole sweep; run each job alone (without -m), or submit the sweep to "
            "SLURM with experiment=slurm_ddp, where SLURM starts the processes",
        )
