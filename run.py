"""Attention Arena: ``python run.py modality=image model=attn`` (installed as a package: ``arena``, the same command).

Add ``-m`` and comma lists to sweep; ``--list`` for the options.
"""

import sys

if __name__ == "__main__":
    try:
        from framework.cli import cli
    except KeyboardInterrupt:  # Ctrl+C while Python loads Hydra: one line, as at any later moment
        print("error: stopped by SIGINT before the run started", file=sys.stderr)
        raise SystemExit(130) from None
    cli()
