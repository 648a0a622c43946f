"""Attention Arena: ``python run.py modality=image model=attn`` (add ``-m`` and comma lists to sweep; ``--list`` for the options)."""

import sys
import warnings

import hydra
from omegaconf import DictConfig

from framework.catalogue import scopes
from framework.errors import ArenaError
from framework.group_overrides import check_group_overrides
from framework.listing import listing

# PyG's imports call torch.jit.script, which torch 2.14 deprecates; users can do nothing about it.
warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=FutureWarning)
# Lightning's pytree helper builds torch's deprecated LeafSpec on every step; same story.
warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Runs one experiment; torch and the framework load only here, so ``--help`` stays fast."""
    from framework.runner import main as run_main

    return run_main(cfg)


def cli() -> None:
    """Checks the installed plugins, answers ``--list`` and checks the group overrides before Hydra reads the command line; then runs."""
    try:
        scopes()  # reads every plugin's declarations: a broken plugin is one line here, not a traceback from inside Hydra
        if "--list" in sys.argv[1:]:
            print(listing())
            return
        check_group_overrides(sys.argv[1:])  # `model=3`, `~model`: Hydra itself would answer with a traceback
    except BrokenPipeError:  # `run.py --list | head`: the reader has all it wanted
        sys.stderr.close()
        return
    except ArenaError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    main()


if __name__ == "__main__":
    cli()
