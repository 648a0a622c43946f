"""Building a run's parts from the config: the modality, the model, positions, optimizer, callbacks and trainer.

Everything here happens before any data loads, so a bad value or an incompatible pair costs
one line and no time; an error names the key as the user would override it (``model.heads``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from torch import nn

from framework.config.checks import (
    binding_error,
    check_options,
    check_resolves,
    config_errors,
    instantiated,
    is_number,
    raw_value,
    seed_of,
    target_of,
)
from framework.core.catalogue import classes
from framework.core.compat import check_compatible
from framework.core.encoder import Encoder
from framework.core.errors import ConfigError, MissingValue, one_of, require
from framework.core.modality import Modality
from framework.core.spec import ModalitySpec, ModelRequirement
from framework.nn.positional import PositionalEncoding
from framework.runs.identity import UNHASHED_KEYS
from framework.train.budget import fit_width, parse_budget
from framework.train.checkpoint_io import AtomicCheckpointIO
from framework.train.loggers import check_loggers
from framework.train.metrics import metric_names
from framework.train.module import ArenaModule, class_head
from framework.train.optim import GroupedOptimizer, optimizer_factory

log = logging.getLogger(__name__)

MODEL_KEYS = ("name", "positional", "param_budget")
"""Keys of a model config read by the framework, not passed to the encoder class."""
MODALITY_KEYS = ("max_epochs",)
"""Keys of a modality config read elsewhere (``trainer.max_epochs`` follows it), not passed to the class."""
MODES = ("train", "test", "predict")
SPLITS = ("val", "test")
"""The splits ``mode=test`` and ``mode=predict`` score (training runs score both)."""
RUN_KEYS = (
    *UNHASHED_KEYS,
    "seed",
    "resume",
    "output_dir",
    "param_groups",
    "optimizer",
    "schedule",
    "compile",
    "sweep",
    "modality",
    "model",
    "trainer",
    "logger",
    "callbacks",
)
"""Top-level keys every run reads: one deleted with ``~`` stops the run in one line before anything is built."""
TOP_LEVEL_KEYS = (*RUN_KEYS, "data_dir", "cache_dir", "study")
"""Every top-level key a config may have: any other (``+foo=1``) would be ignored, so it stops the run."""


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


def build_callbacks(cfg: DictConfig, spec: ModalitySpec) -> list[pl.Callback]:
    """The configured callbacks (``null`` entries dropped); a bad value names ``callbacks.<name>.<key>``.

    A callback that watches metrics (``monitor``) must name ones the run logs for ``spec``.
    """
    logged = [f"{split}/{name}" for split in ("val", "train") for name in metric_names(spec)]
    callbacks = []
    with config_errors(cfg):
        for name, options in cfg.items():
            if options is None:
                continue
            require(
                isinstance(options, DictConfig),
                f"callbacks.{name}",
                options,
                "must be null or a callback's settings with a _target_",
            )
            callback = instantiated(options, f"callbacks.{name}", pl.Callback)
            watched = options.get("monitor")
            for metric in list(watched) if isinstance(watched, ListConfig) else [] if watched is None else [watched]:
                one_of(f"callbacks.{name}.monitor", metric, logged)
            callbacks.append(callback)
    return callbacks


def not_an_advert(record: logging.LogRecord) -> bool:
    """False for Lightning's advertising lines ("💡 Tip: ... try installing litlogger"): the console shows the run."""
    return not record.getMessage().startswith("💡 Tip")


def build_trainer(cfg: DictConfig, callbacks: list[pl.Callback], output_dir: Path) -> pl.Trainer:
    """The Lightning Trainer of ``cfg`` (without a logger yet); a value Lightning rejects names ``trainer.<key>``.

    The model summary and the progress bar are ``callbacks.summary``'s and ``callbacks.progress``'s, shown unless
    ``trainer.enable_model_summary`` (or Lightning's ``enable_progress_bar``, given with ``+``) is false: never
    Lightning's own, which it would add in place of a dropped one (``callbacks.summary=null``,
    ``callbacks.progress=null``).
    """
    lightning_log = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    if not_an_advert not in lightning_log.filters:
        lightning_log.addFilter(not_an_advert)
    check_accelerator(cfg.get("accelerator"))
    devices = cfg.get("devices")
    if is_number(devices):  # Lightning lists the devices it was given: 10**12 of them would fill the memory
        available = max(os.cpu_count() or 1, torch.cuda.device_count())
        require(
            devices == -1 or 1 <= devices <= available,
            "trainer.devices",
            devices,
            f"this machine has {available} devices to run on (its CPU cores, or its GPUs); use 1 to {available}, "
            "or -1 for all",
        )
    options = cfg.copy()
    with open_dict(options):
        for switch, kind in (
            ("enable_model_summary", pl.callbacks.ModelSummary),
            ("enable_progress_bar", pl.callbacks.ProgressBar),
        ):
            if not options.pop(switch, True):
                callbacks = [callback for callback in callbacks if not isinstance(callback, kind)]
    with config_errors(cfg):
        return instantiated(
            options,
            "trainer",
            pl.Trainer,
            callbacks=callbacks,
            logger=False,
            default_root_dir=str(output_dir),
            enable_model_summary=False,
            enable_progress_bar=any(isinstance(callback, pl.callbacks.ProgressBar) for callback in callbacks),
            plugins=[AtomicCheckpointIO()],
        )


def check_accelerator(name: object) -> None:
    """Refuses an accelerator Lightning does not know, or one this machine lacks (``tpu`` without torch_xla), before
    Lightning would fail inside its constructor."""
    from pytorch_lightning.accelerators import AcceleratorRegistry

    known = AcceleratorRegistry.available_accelerators()
    if not isinstance(name, str) or name in ("auto", "gpu") or name not in known:  # Lightning names the unknown itself
        return
    here = sorted(each for each in known if AcceleratorRegistry[each]["accelerator"].is_available())
    require(
        AcceleratorRegistry[name]["accelerator"].is_available(),
        "trainer.accelerator",
        name,
        f"is not available on this machine; use auto or one of {', '.join(here)}",
    )


@dataclass
class Parts:
    """Everything a run builds from the config before it touches any data."""

    modality: Modality
    encoder: Encoder
    positional: PositionalEncoding
    optimizer: GroupedOptimizer
    warmup_fraction: float | None
    param_budget: int | None
    requirement: ModelRequirement


def build_parts(cfg: DictConfig) -> Parts:
    """Builds the modality and model plugins, checks the pair and every value; loads no data."""
    for key in RUN_KEYS:
        if key not in cfg:
            raise MissingValue(key, "every run")
    for key in cfg:
        require(
            key in TOP_LEVEL_KEYS,
            key,
            raw_value(cfg, key),
            f"not a config key, so it would change nothing; the top-level keys are {', '.join(TOP_LEVEL_KEYS)}; "
            "remove it, or name it inside its group (e.g. model.<key>)",
        )
    check_resolves(cfg)
    seed_of(cfg)
    one_of("mode", cfg.mode, MODES)
    one_of("split", cfg.split, SPLITS)
    require(
        isinstance(cfg.tags, ListConfig) and all(isinstance(tag, str) for tag in cfg.tags),
        "tags",
        raw_value(cfg, "tags"),
        "must be a list of strings, e.g. tags=[baseline,long]",
    )
    require(isinstance(cfg.print_config, bool), "print_config", cfg.print_config, "must be true or false")
    require(
        isinstance(cfg.keep_freed_memory, bool), "keep_freed_memory", cfg.keep_freed_memory, "must be true or false"
    )
    require(
        is_number(cfg.resume_every_s) and cfg.resume_every_s >= 0,
        "resume_every_s",
        cfg.resume_every_s,
        "must be a number of seconds, 0 or more (0: a resume point after every epoch; inf: only after the last)",
    )
    require(
        cfg.mode != "train" or cfg.ckpt_path is None,
        "ckpt_path",
        cfg.ckpt_path,
        "mode=train trains from scratch (resume=auto continues a stopped run in its own folder); "
        "to score this checkpoint, add mode=test",
    )
    with config_errors(cfg):
        modality: Modality = build(
            *plugin_options(cfg.modality, "modality", Modality, exclude=MODALITY_KEYS), "modality"
        )
        spec = modality.spec
        model_cls, model_options = plugin_options(cfg.model, "model", Encoder, exclude=MODEL_KEYS)
        check_options(model_cls, model_options, "model", ["spec"])
        needs = model_cls.requirement(**model_options)
        require(
            isinstance(cfg.model.name, str) and cfg.model.name != "",
            "model.name",
            cfg.model.name,
            "must be a name (a string)",
        )
        check_model_name(cfg.model)
        check_compatible(spec, needs, cfg.model.name)
        if needs.needs_edges:
            modality.provide_edges()
        encoder, positional = build_model(cfg, spec)
        optimizer = optimizer_factory(cfg.optimizer, cfg.param_groups)
        head = class_head(spec, encoder)
        optimizer.check_early(
            [*prefixed("encoder", encoder), *prefixed("positional", positional), *prefixed("head", head)],
            later="input_encoder.",
        )
        if needs.raw_inputs:
            kind = cfg.model.positional.kind
            require(
                kind == "none",
                "model.positional.kind",
                kind,
                "a model that reads raw features takes no position vectors; set model.positional.kind=none",
            )
        warmup = cfg.schedule.warmup_fraction
        require(
            warmup is None or (is_number(warmup) and 0 <= warmup < 1),
            "schedule.warmup_fraction",
            warmup,
            "use null or a number in [0, 1)",
        )
        if cfg.mode == "train":
            check_training_length(cfg.trainer, warmup)
            check_best_checkpoint(cfg.callbacks, cfg.trainer)
        check_compile(cfg.compile)
        check_loggers(cfg.logger)
        return Parts(
            modality,
            encoder,
            positional,
            optimizer,
            warmup,
            parse_budget(cfg.model.param_budget),
            needs,
        )


def check_model_name(cfg: DictConfig) -> None:
    """Refuses a ``model.name`` that is another model config's name: results and folders would name a model that
    never ran (``model=attn model.name=cnn``). A name no config has labels a model of one's own."""
    built = classes("model").get(cfg.name)
    require(
        built is None or built == cfg._target_,
        "model.name",
        cfg.name,
        f"names the model {built}, but this run builds {cfg._target_}; leave model.name out, or pick model={cfg.name}",
    )


def prefixed(prefix: str, module: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """``module``'s named parameters as the whole model names them (``encoder.layers.0.conv.bias``)."""
    return [(f"{prefix}.{name}", parameter) for name, parameter in module.named_parameters()]


def check_training_length(trainer: DictConfig, warmup: float | None) -> None:
    """Refuses a length that trains or validates nothing (no checkpoint could be chosen, so the test would score an
    unchosen model), and one without end under a schedule that needs its end (the cosine's step count)."""
    nothing = "so no checkpoint could be chosen and the test would score an untrained model"
    for key in ("max_epochs", "max_steps", "limit_train_batches"):
        value = trainer.get(key)
        require(value != 0, f"trainer.{key}", value, f"trains nothing, {nothing}; use 1 or more")
    value = trainer.get("limit_val_batches")
    require(
        value != 0,
        "trainer.limit_val_batches",
        value,
        "validates nothing, so no checkpoint could be chosen; use a number of batches or a fraction in (0, 1]",
    )
    for key in ("accumulate_grad_batches", "check_val_every_n_epoch"):
        value = trainer.get(key)
        require(
            value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1),
            f"trainer.{key}",
            value,
            "must be a whole number, 1 or more",
        )
    every, epochs = trainer.get("check_val_every_n_epoch"), trainer.get("max_epochs")
    require(
        every is None or epochs is None or epochs < 0 or every <= epochs or trainer.get("fast_dev_run"),
        "trainer.check_val_every_n_epoch",
        every,
        f"validates after epoch {every} only, but training ends after {epochs}, {nothing}; use at most {epochs}",
    )
    endless = trainer.get("max_epochs") == -1 and trainer.get("max_steps", -1) == -1
    require(
        not endless or warmup is None,
        "trainer.max_epochs",
        -1,
        "with trainer.max_steps=-1 training has no end, and the learning-rate schedule needs one: "
        "set trainer.max_epochs or trainer.max_steps, or use schedule.warmup_fraction=null (a constant rate)",
    )


def check_best_checkpoint(callbacks: DictConfig, trainer: DictConfig) -> None:
    """Refuses callbacks that keep no best checkpoint (none is a ``ModelCheckpoint``, or each has ``save_top_k=0``):
    the test scores the checkpoint with the best validation score, and training would end with none to test."""
    if trainer.get("fast_dev_run"):  # a debugging step saves no checkpoint, and says so itself
        return
    keepers = {
        name: options.get("save_top_k", 1)
        for name, options in callbacks.items()
        if isinstance(options, DictConfig)
        and issubclass(target_of(options, f"callbacks.{name}", pl.Callback), pl.callbacks.ModelCheckpoint)
    }
    advice = "the test scores the best validation checkpoint, so training must keep one"
    require(
        keepers,
        "callbacks.checkpoint",
        raw_value(callbacks, "checkpoint"),
        f"{advice}: keep the ModelCheckpoint of conf/callbacks/default.yaml",
    )
    none_kept = [name for name, kept in keepers.items() if kept == 0]
    require(
        len(none_kept) < len(keepers),
        f"callbacks.{none_kept[0] if none_kept else ''}.save_top_k",
        0,
        f"keeps no checkpoint; {advice}: use 1 or more, or -1 for all",
    )


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def check_compile(cfg: DictConfig) -> None:
    """Checks the ``compile`` options before any data loads (torch.compile itself only fails at the first step)."""
    require(isinstance(cfg.enabled, bool), "compile.enabled", cfg.enabled, "must be true or false")
    one_of("compile.mode", cfg.mode, COMPILE_MODES)
    require(
        cfg.dynamic is None or isinstance(cfg.dynamic, bool),
        "compile.dynamic",
        cfg.dynamic,
        "must be null, true or false",
    )


def build_model(cfg: DictConfig, spec: ModalitySpec, **overrides: Any) -> tuple[Encoder, PositionalEncoding]:
    """The model encoder and its position vectors from ``cfg.model``, with ``overrides`` replacing config values."""
    model_cls, model_options = plugin_options(cfg.model, "model", Encoder, exclude=MODEL_KEYS)
    encoder: Encoder = build(model_cls, model_options | overrides, "model", spec=spec)
    positional = cfg.model.positional
    require(isinstance(positional, DictConfig), "model.positional", positional, "must hold kind and dims")
    positional = build(
        PositionalEncoding,
        OmegaConf.to_container(positional, resolve=True),
        "model.positional",
        dim=encoder.dim,
        layout=spec.layout,
        max_positions=spec.max_positions,
    )
    return encoder, positional


def assemble(parts: Parts) -> ArenaModule:
    """The whole model: the modality's input encoding (its raw features, or its encoder at the model's width),
    positions, encoder and head."""
    modality = parts.modality
    return ArenaModule(
        modality.spec,
        modality.raw_input() if parts.requirement.raw_inputs else modality.input_encoder(parts.encoder.dim),
        parts.positional,
        parts.encoder,
        parts.optimizer,
        parts.warmup_fraction,
    )


def on_data(cfg: DictConfig, parts: Parts) -> tuple[Parts, ArenaModule, int]:
    """Loads the modality's data, sizes the model to its budget and assembles it: the parts, the module, the width."""
    try:
        parts.modality.prepare_data()
        parts.modality.setup("fit")
    except ConfigError as error:  # a value that only the data shows to be wrong (e.g. an empty vocabulary)
        raise error.in_group("modality") from None
    parts, width = sized_to_budget(cfg, parts)
    return parts, assemble(parts), width


def sized_to_budget(cfg: DictConfig, parts: Parts) -> tuple[Parts, int]:
    """``parts`` with the model's width scaled to meet ``model.param_budget``, and that width.

    Without a budget, the parts and width are as configured.

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
    log.info(
        "model.param_budget=%s: %s=%d gives %s parameters (%+.1f%%)",
        f"{fit.budget:,}",
        key,
        fit.width,
        f"{fit.params:,}",
        100 * (fit.params / fit.budget - 1),
    )
    return at(fit.width), fit.width
