"""Attention Arena: ``python run.py modality=image model=attn`` (installed as a package: ``arena``, the same command).

Add ``-m`` and comma lists to sweep; ``--list`` for the options.
"""

from framework.cli import cli

if __name__ == "__main__":
    cli()
