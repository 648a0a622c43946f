"""The runner: check the pair, build the parts from the config, fit, test, write ``results.json``."""

from __future__ import annotations

import inspect
import logging
import shutil
import sys
import time
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from framework.callbacks import TrainingThroughput
from framework.compat import check_compatible
from framework.encoder import Encoder
from framework.errors import ArenaError, ConfigError, require
from framework.loggers import build_logger, closing_logger
from framework.modality import Modality
from framework.module import ArenaModule, OptimizerFactory
from framework.positional import PositionalEncoding
from framework.results import RESULTS_FILE, strip_prefix, write_json_atomic

log = logging.getLogger(__name__)

MODEL_KEYS = ("name", "positional")
"""Keys of a model config read by the framework, not passed to the encoder class."""
MODALITY_KEYS = ("max_epochs",)
"""Keys of a modality config read elsewhere in the config (``trainer.max_epochs`` follows it), not passed to the class."""


def plugin_options(cfg: DictConfig, exclude: Iterable[str] = ()) -> tuple[type, dict[str, Any]]:
    """The class named by ``cfg._target_`` and the resolved options to build it with."""
    options = OmegaConf.to_container(cfg, resolve=True)
    for key in exclude:
        options.pop(key, None)
    return get_class(options.pop("_target_")), options


def build(cls: type, options: dict[str, Any], group: str, **context: Any) -> Any:
    """Builds ``cls(**options, **context)``, naming ``group.key`` in any config error."""
    params = inspect.signature(cls).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        for key in options.keys() - params.keys():
            raise ConfigError(f"{group}.{key}", options[key], f"unknown key; {group} accepts {', '.join(sorted(params.keys() - context.keys()))}")
    check_types(cls, options, group)
    try:
        return cls(**options, **context)
    except ConfigError as error:
        raise error.in_group(group) from None


SCALARS = {int: (int,), float: (int, float), str: (str,), bool: (bool,)}


def check_types(cls: type, options: dict[str, Any], group: str) -> None:
    """Checks each option against the scalar type its constructor parameter is annotated with."""
    hints = typing.get_type_hints(cls.__init__)
    for key, value in options.items():
        hint = hints.get(key)
        allowed = SCALARS.get(hint) if hint is not None else None
        # bool is an int in Python, but `dim=true` is a mistake, not a width.
        if allowed and (not isinstance(value, allowed) or (hint is not bool and isinstance(value, bool))):
            raise ConfigError(f"{group}.{key}", value, f"must be of type {hint.__name__}")


def optimizer_factory(cfg: DictConfig) -> OptimizerFactory:
    """A partial optimizer, checked now on a dummy parameter so bad values fail before any data loads."""
    lr = cfg.lr
    require(isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0, "optimizer.lr", lr, "the learning rate must be a positive number")
    factory = instantiate(cfg, _partial_=True)
    try:
        factory([torch.nn.Parameter(torch.zeros(1))])
    except (TypeError, ValueError) as error:
        raise ConfigError("optimizer", OmegaConf.to_container(cfg), str(error)) from None
    return factory


@dataclass
class Parts:
    """Everything a run builds from the config before it touches any data."""

    modality: Modality
    encoder: Encoder
    positional: PositionalEncoding
    optimizer: OptimizerFactory
    warmup_fraction: float | None


def build_parts(cfg: DictConfig) -> Parts:
    """Builds the modality and model plugins, checks the pair and every value; loads no data."""
    modality: Modality = build(*plugin_options(cfg.modality, exclude=MODALITY_KEYS), "modality")
    spec = modality.spec
    model_cls, model_options = plugin_options(cfg.model, exclude=MODEL_KEYS)
    needs = model_cls.requirement(**model_options)
    check_compatible(spec, needs, cfg.model.name)
    if needs.needs_edges:
        modality.provide_edges()
    encoder: Encoder = build(model_cls, model_options, "model", spec=spec)
    positional = build(
        PositionalEncoding, OmegaConf.to_container(cfg.model.positional), "model.positional",
        dim=encoder.dim, layout=spec.layout, max_positions=spec.max_positions,
    )
    warmup = cfg.schedule.warmup_fraction
    require(warmup is None or 0 <= warmup < 1, "schedule.warmup_fraction", warmup, "use null or a number in [0, 1)")
    return Parts(modality, encoder, positional, optimizer_factory(cfg.optimizer), warmup)


def run(cfg: DictConfig, overrides: Iterable[str] = ()) -> dict[str, Any]:
    """Trains and tests one (modality, model, seed) and writes ``results.json`` into ``cfg.output_dir``.

    The test metrics come from the checkpoint with the best validation accuracy. ``overrides``
    are the command-line overrides that produced ``cfg``, recorded in the results.
    """
    started = time.perf_counter()
    output_dir = Path(cfg.output_dir)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    parts = build_parts(cfg)
    modality, spec = parts.modality, parts.modality.spec

    try:
        modality.prepare_data()
        modality.setup("fit")
    except ConfigError as error:  # a value that only the data shows to be wrong (e.g. an empty vocabulary)
        raise error.in_group("modality") from None
    module = ArenaModule(
        spec, modality.input_encoder(parts.encoder.dim), parts.positional, parts.encoder, parts.optimizer,
        parts.warmup_fraction,
    )
    throughput = TrainingThroughput()
    callbacks = [instantiate(c) for c in cfg.callbacks.values() if c is not None] + [throughput]
    logger = build_logger(cfg.logger, OmegaConf.to_container(cfg, resolve=True))
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=logger or False, default_root_dir=str(output_dir))
    with closing_logger(logger):
        trainer.fit(module, datamodule=modality)
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        best_val = trainer.validate(module, datamodule=modality, ckpt_path=best or None, verbose=False)[0]
        test = trainer.test(module, datamodule=modality, ckpt_path=best or None)[0]

    results = {
        "modality": spec.name,
        "dataset": spec.dataset,
        "model": cfg.model.name,
        "seed": cfg.seed,
        "test": strip_prefix(test, "test"),
        "best_val": strip_prefix(best_val, "val"),
        "checkpoint": str(Path(best).relative_to(output_dir)) if best else None,
        "epochs": trainer.current_epoch,
        "params": sum(p.numel() for p in module.parameters()),
        "throughput": {"element": spec.element, **throughput.summary()},
        "wall_time_s": round(time.perf_counter() - started, 2),
        "overrides": list(overrides),
    }
    if trainer.is_global_zero:
        write_json_atomic(output_dir / RESULTS_FILE, results)
        log.info("test accuracy %.4f, results in %s", results["test"]["acc"], output_dir / RESULTS_FILE)
    return results


def main(cfg: DictConfig) -> float:
    """Command-line entry: runs, and turns a user-fixable error into one line and exit status 2."""
    from hydra.core.hydra_config import HydraConfig

    hydra = HydraConfig.get()
    try:
        return run(cfg, hydra.overrides.task)["test"]["acc"]
    except ArenaError as error:
        discard_if_only(Path(cfg.output_dir), {".hydra", f"{hydra.job.name}.log"})
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def discard_if_only(output_dir: Path, bookkeeping: set[str]) -> None:
    """Removes a run folder that holds nothing but Hydra's ``bookkeeping`` files (a run that never started)."""
    if output_dir.is_dir() and {path.name for path in output_dir.iterdir()} <= bookkeeping:
        shutil.rmtree(output_dir)
