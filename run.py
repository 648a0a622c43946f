"""Attention Arena: ``python run.py modality=image model=attn`` (add ``-m`` and comma lists to sweep)."""

import warnings

import hydra
from omegaconf import DictConfig

# PyG's imports call torch.jit.script, which torch 2.14 deprecates; users can do nothing about it.
warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=FutureWarning)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Runs one experiment; torch and the framework load only here, so ``--help`` stays fast."""
    from framework.runner import main as run_main

    return run_main(cfg)


if __name__ == "__main__":
    main()
