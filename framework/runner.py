"""The runner: check the pair, build the parts from the config, fit, test, write ``results.json``."""

from __future__ import annotations

import logging
import math
import shutil
import signal
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.strategies.launchers import _SubprocessScriptLauncher
from pytorch_lightning.utilities import rank_zero_only

from framework.budget import count_parameters, fit_width, parse_budget
from framework.callbacks import FiniteLoss, GracefulStop, TrainingThroughput
from framework.compat import check_compatible
from framework.config_checks import (
    binding_error, check_options, check_resolves, config_errors, instantiated, is_number, mentioned, seed_of, target_of,
)
from framework.encoder import Encoder
from framework.errors import ArenaError, ConfigError, Interrupted, MissingValue, one_of, require
from framework.loggers import build_logger, check_logger, closing_logger, log_summary
from framework.modality import Modality
from framework.module import ArenaModule, OptimizerFactory
from framework.positional import PositionalEncoding
from framework.preflight import check_output_folder
from framework.resume import LAST, ResumePoint, resume_checkpoint, run_identity as checkpoint_identity
from framework.results import RESULTS_FILE, strip_prefix, write_json_atomic
from framework.spec import ModalitySpec
from framework.sweep import DoneIndex, config_hash, record_failure, reuse_finished, run_identity, variant_of

log = logging.getLogger(__name__)

MODEL_KEYS = ("name", "positional", "param_budget")
"""Keys of a model config read by the framework, not passed to the encoder class."""
MODALITY_KEYS = ("max_epochs",)
"""Keys of a modality config read elsewhere in the config (``trainer.max_epochs`` follows it), not passed to the class."""
RUN_KEYS = ("seed", "resume", "output_dir", "optimizer", "schedule", "compile", "sweep", "modality", "model", "trainer",
            "logger", "callbacks")
"""Top-level keys every run reads: one deleted with ``~`` stops the run in one line before anything is built."""


def plugin_options(cfg: DictConfig, group: str, base: type, exclude: Iterable[str] = ()) -> tuple[type, dict[str, Any]]:
    """The class named by ``cfg._target_`` (a subclass of ``base``) and the resolved options to build it with."""
    cls = target_of(cfg, group, base)
    options = OmegaConf.to_container(cfg, resolve=True)
    for key in (*exclude, "_target_"):
        options.pop(key, None)
    return cls, options


def build(cls: type, options: dict[str, Any], group: str, **context: Any) -> Any:
    """Builds ``cls(**options, **context)``, naming ``group.key`` in any config error."""
    check_options(cls, options, group, context)
    try:
        return cls(**options, **context)
    except ConfigError as error:
        raise error.in_group(group) from None
    except TypeError as error:  # a key a base class sets itself, or needs and did not get
        if (problem := binding_error(error, cls, options, group)) is None:
            raise
        raise problem from None


def build_callbacks(cfg: DictConfig) -> list[pl.Callback]:
    """The configured callbacks (``null`` entries dropped); a bad value names ``callbacks.<name>.<key>``."""
    callbacks = []
    with config_errors(cfg):
        for name, options in cfg.items():
            if options is None:
                continue
            require(isinstance(options, DictConfig), f"callbacks.{name}", options, "must be null or a callback's settings with a _target_")
            callbacks.append(instantiated(options, f"callbacks.{name}", pl.Callback))
    return callbacks


def build_trainer(cfg: DictConfig, callbacks: list[pl.Callback], output_dir: Path) -> pl.Trainer:
    """The Lightning Trainer of ``cfg`` (without a logger yet); a value Lightning rejects names ``trainer.<key>``."""
    with config_errors(cfg):
        return instantiated(cfg, "trainer", pl.Trainer, callbacks=callbacks, logger=False, default_root_dir=str(output_dir))


def optimizer_factory(cfg: DictConfig) -> OptimizerFactory:
    """A partial optimizer, checked now on a dummy parameter so bad values fail before any data loads."""
    lr = cfg.get("lr")
    require(is_number(lr) and lr > 0, "optimizer.lr", lr, "the learning rate must be a positive number")
    factory = instantiated(cfg, "optimizer", torch.optim.Optimizer, supplied=["params"], _partial_=True)
    try:
        factory([torch.nn.Parameter(torch.zeros(1))])
    except (TypeError, ValueError) as error:
        raise mentioned(error, cfg, "optimizer") from None
    return factory


@dataclass
class Parts:
    """Everything a run builds from the config before it touches any data."""

    modality: Modality
    encoder: Encoder
    positional: PositionalEncoding
    optimizer: OptimizerFactory
    warmup_fraction: float | None
    param_budget: int | None


def build_parts(cfg: DictConfig) -> Parts:
    """Builds the modality and model plugins, checks the pair and every value; loads no data."""
    for key in RUN_KEYS:
        if key not in cfg:
            raise MissingValue(key, "every run")
    check_resolves(cfg)
    seed_of(cfg)
    with config_errors(cfg):
        modality: Modality = build(*plugin_options(cfg.modality, "modality", Modality, exclude=MODALITY_KEYS), "modality")
        spec = modality.spec
        model_cls, model_options = plugin_options(cfg.model, "model", Encoder, exclude=MODEL_KEYS)
        check_options(model_cls, model_options, "model", ["spec"])
        needs = model_cls.requirement(**model_options)
        require(isinstance(cfg.model.name, str) and cfg.model.name != "", "model.name", cfg.model.name, "must be a name (a string)")
        check_compatible(spec, needs, cfg.model.name)
        if needs.needs_edges:
            modality.provide_edges()
        encoder, positional = build_model(cfg, spec)
        warmup = cfg.schedule.warmup_fraction
        require(warmup is None or (is_number(warmup) and 0 <= warmup < 1), "schedule.warmup_fraction", warmup,
                "use null or a number in [0, 1)")
        check_compile(cfg.compile)
        check_logger(cfg.logger)
        return Parts(modality, encoder, positional, optimizer_factory(cfg.optimizer), warmup, parse_budget(cfg.model.param_budget))


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def check_compile(cfg: DictConfig) -> None:
    """Checks the ``compile`` options before any data loads (torch.compile itself only fails at the first step)."""
    require(isinstance(cfg.enabled, bool), "compile.enabled", cfg.enabled, "must be true or false")
    one_of("compile.mode", cfg.mode, COMPILE_MODES)
    require(cfg.dynamic is None or isinstance(cfg.dynamic, bool), "compile.dynamic", cfg.dynamic, "must be null, true or false")


def build_model(cfg: DictConfig, spec: ModalitySpec, **overrides: Any) -> tuple[Encoder, PositionalEncoding]:
    """The model encoder and its position vectors from ``cfg.model``, with ``overrides`` replacing config values."""
    model_cls, model_options = plugin_options(cfg.model, "model", Encoder, exclude=MODEL_KEYS)
    encoder: Encoder = build(model_cls, model_options | overrides, "model", spec=spec)
    positional = cfg.model.positional
    require(isinstance(positional, DictConfig), "model.positional", positional, "must hold kind and dims")
    positional = build(
        PositionalEncoding, OmegaConf.to_container(positional, resolve=True), "model.positional",
        dim=encoder.dim, layout=spec.layout, max_positions=spec.max_positions,
    )
    return encoder, positional


def assemble(parts: Parts) -> ArenaModule:
    """The whole model: the modality's input encoder at the encoder's width, positions, encoder and head."""
    return ArenaModule(
        parts.modality.spec, parts.modality.input_encoder(parts.encoder.dim), parts.positional, parts.encoder,
        parts.optimizer, parts.warmup_fraction,
    )


def sized_to_budget(cfg: DictConfig, parts: Parts) -> tuple[Parts, int]:
    """``parts`` with the model's width scaled to meet ``model.param_budget`` (as configured without one), and that width.

    Needs the modality set up: an input encoder may depend on the data (a text vocabulary).
    """
    key = type(parts.encoder).width_key
    if parts.param_budget is None:
        return parts, cfg.model[key]

    def at(width: int) -> Parts:
        encoder, positional = build_model(cfg, parts.modality.spec, **{key: width})
        return replace(parts, encoder=encoder, positional=positional)

    family = f"{cfg.model.name} model on {parts.modality.spec.name}"
    fit = fit_width(parts.param_budget, lambda width: assemble(at(width)), cfg.model[key], key, family)
    log.info("model.param_budget=%s: %s=%d gives %s parameters (%+.1f%%)", f"{fit.budget:,}", key, fit.width,
             f"{fit.params:,}", 100 * (fit.params / fit.budget - 1))
    return at(fit.width), fit.width


def run(cfg: DictConfig, overrides: Iterable[str] = ()) -> dict[str, Any]:
    """Trains and tests one (modality, model, seed) and writes ``results.json`` into ``cfg.output_dir``.

    The test metrics come from the checkpoint with the best validation accuracy. ``overrides``
    are the command-line overrides that produced ``cfg``, recorded in the results.
    """
    started = time.perf_counter()
    output_dir = Path(cfg.output_dir)
    pl.seed_everything(seed_of(cfg), workers=True, verbose=False)
    parts = build_parts(cfg)
    modality, spec = parts.modality, parts.modality.spec
    identity = checkpoint_identity(cfg, cfg.sweep.hash_ignores)
    resume_from, resume_step = resume_checkpoint(cfg.resume, output_dir / "checkpoints", identity) or (None, None)
    throughput, stop = TrainingThroughput(), GracefulStop()
    callbacks = build_callbacks(cfg.callbacks) + [throughput, FiniteLoss(), stop, ResumePoint(output_dir / "checkpoints", identity)]
    trainer = build_trainer(cfg.trainer, callbacks, output_dir)
    check_process_launch(trainer)

    try:
        modality.prepare_data()
        modality.setup("fit")
    except ConfigError as error:  # a value that only the data shows to be wrong (e.g. an empty vocabulary)
        raise error.in_group("modality") from None
    parts, width = sized_to_budget(cfg, parts)
    module = assemble(parts)
    check_output_folder(output_dir, count_parameters(module))
    if cfg.compile.enabled:
        module.compile(mode=cfg.compile.mode, dynamic=cfg.compile.dynamic)
    variant = variant_of(overrides)
    # Built last: a logger writes files (or starts a W&B run) as soon as it exists, and a run that fails
    # on its data must leave nothing behind.
    logger = build_logger(cfg.logger, OmegaConf.to_container(cfg, resolve=True),
                          tags=variant.split() if variant != "default" else (), resumed_at=resume_step)
    trainer.loggers = [logger] if logger else []
    if resume_from is not None:
        log.info("continuing from %s", resume_from)
    with closing_logger(logger), stop.listening():
        # weights_only: a checkpoint is loaded as tensors and plain values, never as arbitrary pickled objects.
        trainer.fit(module, datamodule=modality, ckpt_path=resume_from, weights_only=True)
        best = next((c.best_model_path for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint)), "")
        best_val = trainer.validate(module, datamodule=modality, ckpt_path=best or None, verbose=False, weights_only=True)[0]
        test = trainer.test(module, datamodule=modality, ckpt_path=best or None, weights_only=True)[0]
        results = {
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
            # Properties of the trained model that check callbacks (framework.checks) measured.
            "checks": {key: value for callback in callbacks if hasattr(callback, "checks")
                       for key, value in callback.checks().items()},
        }
        log_summary(logger, results)
    if trainer.is_global_zero:
        write_json_atomic(output_dir / RESULTS_FILE, results)
        log.info("test accuracy %.4f, results in %s", results["test"]["acc"], output_dir / RESULTS_FILE)
    return results


def main(cfg: DictConfig) -> float:
    """Command-line entry: runs, and turns a user-fixable error into one line and exit status 2.

    Returns the best validation accuracy: what a sweeper (Optuna) may optimise; the test score stays unseen.

    Inside a multirun, a config that already finished is reused instead of trained again, and a
    job that fails is recorded as failed (its score is NaN) so that the sweep goes on.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra = HydraConfig.get()
    overrides = hydra.overrides.task
    multirun = hydra.mode == RunMode.MULTIRUN
    # Under SLURM every process of a DDP job runs this; rank 0 alone writes the sweep's records, the others only read.
    rank_zero = rank_zero_only.rank == 0
    if multirun and cfg.sweep.skip_done and (reused := reuse_finished(cfg) if rank_zero else finished_results(cfg)) is not None:
        return reused["best_val"]["acc"]
    try:
        results = run(cfg, overrides)
    except Interrupted as error:  # stops a sweep too: the user asked everything to stop
        if rank_zero:
            record_failure(cfg, overrides, error, status="interrupted")
        print(f"error: {error}; {how_to_continue(cfg, multirun)}", file=sys.stderr)
        raise SystemExit(128 + error.signal) from None
    except KeyboardInterrupt:  # Ctrl+C before training started (while data loads)
        print("error: stopped by SIGINT before training started", file=sys.stderr)
        raise SystemExit(128 + signal.SIGINT) from None
    except ArenaError as error:
        if not multirun:
            discard_if_only(Path(cfg.output_dir), {".hydra", f"{hydra.job.name}.log"})
            print(f"error: {error}", file=sys.stderr)
            raise SystemExit(2) from None
        return failed(cfg, overrides, error, rank_zero)
    except Exception as error:  # noqa: BLE001 - one failed job must not stop the sweep
        if not multirun:
            raise
        return failed(cfg, overrides, error, rank_zero)
    if multirun and rank_zero:
        DoneIndex(cfg.sweep.index_dir).record(results, Path(cfg.output_dir) / RESULTS_FILE)
    return results["best_val"]["acc"]


def failed(cfg: DictConfig, overrides: Iterable[str], error: Exception, rank_zero: bool) -> float:
    """Records a failed job of a multirun (its score is NaN) so that the sweep goes on."""
    if rank_zero:
        record_failure(cfg, overrides, error)
    log.error("job failed: %s: %s", type(error).__name__, error)
    return math.nan


def how_to_continue(cfg: DictConfig, multirun: bool) -> str:
    """The advice printed for an interrupted run: where its resume point is and the override that continues it."""
    output_dir = Path(cfg.output_dir)
    if not (output_dir / "checkpoints" / LAST).exists():
        return "no epoch had finished, so there is nothing to continue"
    folder = f"hydra.sweep.dir={output_dir.parent}" if multirun else f"hydra.run.dir={output_dir}"
    return f"the last finished epoch is saved: run the same command with {folder} to continue"


def finished_results(cfg: DictConfig) -> dict[str, Any] | None:
    """The results :func:`~framework.sweep.reuse_finished` would reuse for this config, without copying them."""
    found = DoneIndex(cfg.sweep.index_dir).find(config_hash(cfg, cfg.sweep.hash_ignores))
    return None if found is None else found[1]


def check_process_launch(trainer: pl.Trainer) -> None:
    """Refuses DDP processes that Lightning would start by running the command line again, inside a multirun.

    Each copy would run the whole sweep again. Processes started by SLURM (``experiment=slurm_ddp``)
    or torchrun are not Lightning's to start, and work in a multirun.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    relaunches = (
        isinstance(trainer.strategy.launcher, _SubprocessScriptLauncher) and trainer.num_devices > 1
        and not trainer.strategy.cluster_environment.creates_processes_externally
    )
    if relaunches and HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        raise ConfigError(
            "trainer.devices", trainer.num_devices,
            "a multirun (-m) cannot start DDP processes on this machine: Lightning starts them by running the command "
            "again, and each copy would run the whole sweep; run each job alone (without -m), or submit the sweep to "
            "SLURM with experiment=slurm_ddp, where SLURM starts the processes",
        )


def discard_if_only(output_dir: Path, bookkeeping: set[str]) -> None:
    """Removes a run folder that holds nothing but Hydra's ``bookkeeping`` files (a run that never started)."""
    if output_dir.is_dir() and {path.name for path in output_dir.iterdir()} <= bookkeeping:
        shutil.rmtree(output_dir)
