"""Experiment loggers; W&B falls back to offline mode and never blocks or fails a run."""

from __future__ import annotations

import csv
import logging
import math
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import CSVLogger, Logger, WandbLogger

from framework.config.checks import HYDRA_KEYS, check_options, instantiated, is_number, target_of
from framework.core.errors import require
from framework.io.wandb import wandb_credentials

log = logging.getLogger(__name__)


def logger_configs(cfg: DictConfig | None) -> dict[str, DictConfig]:
    """The configured loggers by their config key: ``logger`` for one (its settings have a ``_target_``),
    ``logger.csv``, ``logger.wandb``... for several (``logger=many``); none for ``logger=none``."""
    if cfg is None:
        return {}
    require(
        isinstance(cfg, DictConfig),
        "logger",
        cfg,
        "must be null, a logger's settings with a _target_, or loggers by name (as in logger=many)",
    )
    if "_target_" in cfg:
        return {"logger": cfg}
    return {f"logger.{name}": each for name, each in cfg.items() if each is not None}


def check_loggers(cfg: DictConfig | None) -> None:
    """Checks every configured logger's class, keys and value types without building it (a logger writes files)."""
    for key, each in logger_configs(cfg).items():
        check_logger(each, key)


def check_logger(cfg: DictConfig, key: str = "logger") -> None:
    """Checks one logger's settings; ``key`` is where they are in the config (``logger`` or ``logger.wandb``)."""
    require(isinstance(cfg, DictConfig), key, cfg, "must be null or a logger's settings with a _target_")
    settings = OmegaConf.to_container(cfg, resolve=True)
    options = {name: value for name, value in settings.items() if name not in HYDRA_KEYS}
    cls = target_of(cfg, key, Logger)
    check_names(options, ("project", "group") if issubclass(cls, WandbLogger) else ("name", "version"), key)
    for option, value in options.items():
        if option.endswith("every_n_steps"):
            require(is_number(value) and value >= 1, f"{key}.{option}", value, "must be a number of steps, 1 or more")
    if not issubclass(cls, WandbLogger):
        check_options(cls, options, key)
        return
    import wandb  # here: only runs that log to W&B pay for importing it

    offline = options.get("offline", False)
    require(offline == "auto" or isinstance(offline, bool), f"{key}.offline", offline, "must be auto, true or false")
    require(
        isinstance(options.get("tags") or [], list), f"{key}.tags", options.get("tags"), "must be a list of strings"
    )
    # `auto` is decided when the run starts (build_logger); the logger passes the keys it does not name to wandb.init.
    check_options(cls, options | {"offline": offline is True}, key, kwargs_to=wandb.init)
    if options.get("log_model"):
        require(
            not (offline is True or offline == "auto" and not logs_online()),
            f"{key}.log_model",
            options["log_model"],
            f"uploads checkpoints, which needs W&B online (no API key is configured, WANDB_MODE=offline or "
            f"{key}.offline=true); log in with `wandb login`, or drop {key}.log_model",
        )


NAME_LIMIT = 128
"""The longest folder or W&B project name a logger is given (file systems allow 255 bytes, W&B 128 characters)."""


def check_names(options: dict[str, Any], names: Iterable[str], key: str) -> None:
    """Refuses a value of ``names`` that cannot be a folder or W&B project: too long, ``.`` or ``..``, or with a
    separator in it."""
    for option in names:
        value = options.get(option)
        if isinstance(value, str):
            require(
                len(value.encode()) <= NAME_LIMIT and not set(value) & set("/\\#?%:") and value not in (".", ".."),
                f"{key}.{option}",
                value if len(value) <= 40 else f"{value[:40]}... ({len(value)} characters)",
                f"must be a name of at most {NAME_LIMIT} bytes, not . or .., without / \\ # ? % :",
            )


def build_loggers(
    cfg: DictConfig | None, run_config: dict[str, Any], tags: Iterable[str] = (), resumed_at: int | None = None
) -> list[Logger]:
    """Every configured logger, built by :func:`build_logger` (none for ``logger=none``)."""
    return [build_logger(each, run_config, tags, resumed_at, key) for key, each in logger_configs(cfg).items()]


def build_logger(
    cfg: DictConfig,
    run_config: dict[str, Any],
    tags: Iterable[str] = (),
    resumed_at: int | None = None,
    key: str = "logger",
) -> Logger:
    """Instantiates one configured Lightning logger (its settings at ``key``) and logs ``run_config`` to it.

    ``tags`` are added to a W&B run's configured tags (W&B allows at most 64 characters per tag).
    ``resumed_at``: the global step a resumed run continues from; a CSV log keeps its rows up to it.

    A W&B logger with ``offline: auto`` logs online only when credentials exist. If starting the
    run fails (a bad key, no network), it warns and logs offline instead; ``wandb sync`` uploads
    the offline run later.
    """
    if not issubclass(target_of(cfg, key, Logger), WandbLogger):
        logger = instantiated(cfg, key, Logger)
        earlier = csv_rows_until(logger, resumed_at)
        logger.log_hyperparams(run_config)  # a CSV logger replaces its metrics.csv here
        for row in earlier:
            logger.log_metrics(row, step=int(row.pop("step")))
        return logger
    cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))  # a copy that takes keys deleted with ~
    cfg = OmegaConf.merge(cfg, {"tags": [*(cfg.get("tags") or []), *(tag[:64] for tag in tags)]})
    if resumed_at is not None and cfg.get("id") is None and (earlier := wandb_run_id(Path(cfg.save_dir))):
        cfg = OmegaConf.merge(cfg, {"id": earlier, "resume": "allow"})  # a resumed run continues its W&B run
    if cfg.get("offline") == "auto":
        online, problem = wandb_credentials()
        if problem:
            log.warning("W&B is misconfigured (%s); logging offline instead, upload later with `wandb sync`.", problem)
        cfg = OmegaConf.merge(cfg, {"offline": not logs_online(online)})
    if cfg.get("offline"):
        # Said to wandb.init itself: W&B's session, set up by the credentials check, no longer reads WANDB_MODE.
        cfg = OmegaConf.merge(cfg, {"mode": "offline"})
    logger = instantiated(cfg, key, Logger)
    try:
        logger.experiment  # noqa: B018 - starts the W&B run now, where a failure can still be handled
    except Exception as error:  # noqa: BLE001 - W&B must never stop a training run
        if cfg.get("offline"):
            raise
        import wandb

        _finish_wandb([logger], exit_code=1)
        # The failed start leaves W&B's process-wide session set up for online use; reset it.
        wandb.teardown()
        os.environ["WANDB_MODE"] = "offline"
        log.warning("W&B could not start online (%s); logging offline instead, upload later with `wandb sync`.", error)
        if cfg.get("log_model"):
            log.warning("W&B is offline, so checkpoints are not uploaded (%s.log_model).", key)
        offline = OmegaConf.merge(cfg, {"offline": True, "log_model": False})
        return build_logger(offline, run_config, resumed_at=resumed_at, key=key)  # tags are in cfg already
    logger.log_hyperparams(run_config)
    return logger


def logs_online(credentials: bool | None = None) -> bool:
    """Whether a W&B logger with ``offline: auto`` logs online: ``WANDB_MODE`` is not offline and a key is configured.

    ``credentials``: the key check's answer, when it was already asked.
    """
    if os.environ.get("WANDB_MODE") == "offline":
        return False
    return wandb_credentials()[0] if credentials is None else credentials


def wandb_run_id(save_dir: Path) -> str | None:
    """The id of the newest W&B run logged under ``save_dir`` (``wandb/offline-run-<time>-<id>``), None if none."""
    runs = [path.name.split("-") for path in (save_dir / "wandb").glob("*run-*-*") if path.is_dir()]
    return max(runs, key=lambda parts: parts[-2])[-1] if runs else None


def csv_rows_until(logger, step: int | None) -> list[dict[str, float]]:
    """The rows of a CSV logger's existing ``metrics.csv`` logged at or before ``step`` (none if ``step`` is None)."""
    path = Path(logger.log_dir) / "metrics.csv" if isinstance(logger, CSVLogger) else None
    if step is None or path is None or not path.is_file():
        return []
    with path.open(newline="") as file:
        rows = [
            {key: int(value) if value.isdigit() else float(value) for key, value in row.items() if value}
            for row in csv.DictReader(file)
        ]
    return [row for row in rows if row.get("step", math.inf) <= step]


@contextmanager
def closing_loggers(loggers: list[Logger]) -> Iterator[None]:
    """Finishes the loggers' W&B run (if any) when the block ends, failed or not.

    Without this, the next job of a sweep in the same process would log into the same W&B run.
    """
    try:
        yield
    except BaseException:
        _finish_wandb(loggers, exit_code=1)
        raise
    _finish_wandb(loggers, exit_code=0)


def _finish_wandb(loggers: list[Logger], exit_code: int) -> None:
    wandb = sys.modules.get("wandb")
    if loggers and wandb is not None and wandb.run is not None:
        wandb.finish(exit_code=exit_code)


def log_summary(
    loggers: list[Logger], results: dict[str, Any], folder: Path | None = None, files: Iterable[str] = ()
) -> None:
    """Puts a run's final figures (test and best-validation metrics, parameters, throughput) in its W&B summary,
    and the ``files`` of its ``folder`` that exist (``results.json``, the resolved config) among its files."""
    wandb = sys.modules.get("wandb")
    if not any(isinstance(each, WandbLogger) for each in loggers) or wandb is None or wandb.run is None:
        return
    for name in files if folder is not None else ():
        if (folder / name).is_file():
            wandb.save(str(folder / name), base_path=str(folder), policy="now")
    summary = {f"test/{key}": value for key, value in results["test"].items()}
    summary |= {f"best_val/{key}": value for key, value in results["best_val"].items()}
    summary |= {f"throughput/{key}": value for key, value in results["throughput"].items() if key != "element"}
    summary |= {"params": results["params"], "wall_time_s": results["wall_time_s"], "epochs": results["epochs"]}
    wandb.run.summary.update(summary)
