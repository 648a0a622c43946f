"""Experiment loggers; W&B falls back to offline mode and never blocks or fails a run."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
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


def build_logger(cfg: DictConfig | None, run_config: dict[str, Any]):
    """Instantiates the configured Lightning logger (None for ``logger=none``) and logs ``run_config`` to it.

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
        return build_logger(OmegaConf.merge(cfg, {"offline": True}), run_config)
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
