"""The command line: ``arena modality=image model=attn`` (in a clone, ``python run.py`` is the same command).

Add ``-m`` and comma lists to sweep; ``--list`` for the options. Hydra composes from
:data:`~framework.core.sources.CONF_DIR`: the clone's ``conf/``, or the copy a wheel ships.
"""

import os
import signal
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import hydra
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from framework.config.group_overrides import check_group_overrides, one_line
from framework.config.listing import config_groups, listing
from framework.core.catalogue import scopes
from framework.core.errors import ArenaError
from framework.core.sources import CONF_DIR

# PyG's imports call torch.jit.script, which torch 2.14 deprecates; users can do nothing about it.
warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=FutureWarning)
# Lightning's pytree helper builds torch's deprecated LeafSpec on every step; same story.
warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
# --help's template (conf/config.yaml, hydra.help) lists the groups a user picks from through this resolver.
OmegaConf.register_new_resolver("arena_config_groups", config_groups, replace=True)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def main(cfg: DictConfig) -> float:
    """Runs one experiment; torch and the framework load only here, so ``--help`` stays fast."""
    with sigint_held():
        from framework.train.run import main as run_main

    return run_main(cfg)


@contextmanager
def sigint_held() -> Iterator[None]:
    """Holds a Ctrl+C that arrives in the block and raises it as ``KeyboardInterrupt`` once the block is done.

    A ``KeyboardInterrupt`` raised inside the libraries torch loads can be caught there (by code that probes
    for optional packages), and the run would go on as if no Ctrl+C had come.
    """
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def cli() -> None:
    """Checks the installed plugins, answers ``--list``, checks the group overrides; then runs.

    All before Hydra reads the command line. A Ctrl+C before the run's own handling starts (while torch
    loads) is one line and exit status 130, as after.
    """
    try:
        checked_run()
    except KeyboardInterrupt:
        print("error: stopped by SIGINT before the run started", file=sys.stderr)
        raise SystemExit(128 + signal.SIGINT) from None


def checked_run() -> None:
    """What :func:`cli` does, with every error but a Ctrl+C said in one line."""
    try:
        # reads every plugin's declarations: a broken plugin is one line here, not a traceback from inside Hydra
        scopes()
        if "--list" in sys.argv[1:]:
            print(listing())
            return
        check_group_overrides(sys.argv[1:])  # `model=3`, `~model`: Hydra itself would answer with a traceback
    except BrokenPipeError:  # `arena --list | head`: the reader has all it wanted
        sys.stderr.close()
        return
    except ArenaError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    full_errors = "HYDRA_FULL_ERROR" in os.environ
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra's own errors reach this function, to be said in one line
    try:
        main()
    except BrokenPipeError:  # `arena --help | head`
        sys.stderr.close()
    except (HydraException, OmegaConfBaseException) as error:
        # A key that is not in the config, an override Hydra cannot parse; a value Hydra itself resolves
        # before the run starts (hydra.run.dir='${oc.env:UNSET}').
        if full_errors:
            raise
        key = getattr(error, "full_key", None)
        print(f"error: {f'{key}: ' if key else ''}{one_line(error)}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    cli()
