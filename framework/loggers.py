"""Experiment loggers; W&B falls back to offline mode and never blocks or fails a run."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def wandb_has_credentials() -> bool:
    """Whether a W&B API key is configured (environment, settings file or .netrc); never prompts."""
    import wandb

    try:
        return bool(wandb.login(prompt=False, verify=False))
    except Exception:  # noqa: BLE001 - a broken W&B setup just means "no credentials"
        return False


def build_logger(cfg: DictConfig | None, run_config: dict[str, Any], tags: Iterable[str] = ()):
    """Instantiates the configured Lightning logger (None for ``logger=none``) and logs ``run_config`` to it.

    ``tags`` are added to a W&B run's configured tags (W&B allows at most 64 characters per tag).

    A W&B logger with ``offline: auto`` logs online only when credentials exist. If starting the
    run fails (a bad key, no network), it warns and logs offline instead; ``wandb sync`` uploads
    the offline run later.
    """
    if cfg is None:
        return None
    if not cfg._target_.endswith("WandbLogger"):
        logger = instantiate(cfg)
        logger.log_hyperparams(run_config)
        return logger
    cfg = OmegaConf.merge(cfg, {"tags": [*cfg.get("tags", []), *(tag[:64] for tag in tags)]})
    if cfg.offline == "auto":
        offline = os.environ.get("WANDB_MODE") == "offline" or not wandb_has_credentials()
        cfg = OmegaConf.merge(cfg, {"offline": offline})
    logger = instantiate(cfg)
    try:
        logger.experiment  # starts the W&B run now, where a failure can still be handled
    except Exception as error:  # noqa: BLE001 - W&B must never stop a training run
        if cfg.offline:
            raise
        import wandb

        _finish_wandb(logger, exit_code=1)
        # The failed start leaves W&B's process-wide session set up for online use; reset it.
        wandb.teardown()
        os.environ["WANDB_MODE"] = "offline"
        log.warning("W&B could not start online (%s); logging offline instead, upload later with `wandb sync`.", error)
        return build_logger(OmegaConf.merge(cfg, {"offline": True}), run_config)  # tags are in cfg already
    logger.log_hyperparams(run_config)
    return logger


@contextmanager
def closing_logger(logger) -> Iterator[None]:
    """Finishes the logger's W&B run (if any) when the block ends, failed or not.

    Without this, the next job of a sweep in the same process would log into the same W&B run.
    """
    try:
        yield
    except BaseException:
        _finish_wandb(logger, exit_code=1)
        raise
    _finish_wandb(logger, exit_code=0)


def _finish_wandb(logger, exit_code: int) -> None:
    wandb = sys.modules.get("wandb")
    if logger is not None and wandb is not None and wandb.run is not None:
        wandb.finish(exit_code=exit_code)


def log_summary(logger, results: dict[str, Any]) -> None:
    """Puts a run's final figures (test and best-validation metrics, parameters, throughput) in its W&B summary."""
    wandb = sys.modules.get("wandb")
    if logger is None or wandb is None or wandb.run is None:
        return
    summary = {f"test/{key}": value for key, value in results["test"].items()}
    summary |= {f"best_val/{key}": value for key, value in results["best_val"].items()}
    summary |= {f"throughput/{key}": value for key, value in results["throughput"].items() if key != "element"}
    summary |= {"params": results["params"], "wall_time_s": results["wall_time_s"], "epochs": results["epochs"]}
    wandb.run.summary.update(summary)
