"""Start-up: how long ``run.py --help`` and ``--list`` take, and the time from the command to the first training step.

The first-step time is a real default run (``python run.py``, image modality on digits, ``attn``)
stopped after one step (then validated and tested on one batch, so that it ends like any run);
:class:`benchmarks.clock.FirstStepClock` writes the wall-clock time at which the first training
batch starts, which is compared with the time just before the process was started. It also
records which heavy libraries the run had imported by then. Each figure is the median of
``--repeats`` runs after one warm-up run (which fills the OS file cache and the dataset cache).

    python benchmarks/startup.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _harness import machine, value_figure  # noqa: E402

TARGETS = {"help": 2.0, "list": 2.0, "first_step": 8.0}
"""Seconds each start-up may take."""


def command_seconds(arguments: list[str], cwd: Path) -> float:
    """Wall-clock seconds of ``python run.py ARGUMENTS`` to exit; fails loudly on a non-zero exit."""
    started = time.time()
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), *arguments], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"run.py {' '.join(arguments)} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}"
        )
    return time.time() - started


def first_step(cwd: Path, attempt: int) -> dict:
    """Seconds from starting the default run to its first training batch, and the heavy libraries it had loaded."""
    clock = cwd / f"first_step{attempt}.json"
    started = time.time()
    command_seconds(
        [
            f"hydra.run.dir={cwd / f'run{attempt}'}",
            "+trainer.max_steps=1",
            # one validation batch after the step, so that the run has a checkpoint to test and exits cleanly
            "+trainer.val_check_interval=1",
            "+trainer.limit_val_batches=1",
            "+trainer.limit_test_batches=1",
            "+callbacks.first_step._target_=benchmarks.clock.FirstStepClock",
            f"+callbacks.first_step.path={clock}",
        ],
        cwd,
    )
    answer = json.loads(clock.read_text())
    return {"seconds": answer["first_step_at"] - started, "loaded": answer["loaded"]}


def main() -> None:
    """Times each start-up and prints the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="startup-") as folder:
        cwd = Path(folder)
        seconds = {}
        for name, arguments in (("help", ["--help"]), ("list", ["--list"])):
            command_seconds(arguments, cwd)
            seconds[name] = [command_seconds(arguments, cwd) for _ in range(args.repeats)]
        first_step(cwd, 0)
        steps = [first_step(cwd, attempt) for attempt in range(1, args.repeats + 1)]
        seconds["first_step"] = [step["seconds"] for step in steps]
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    labels = {
        "help": "python run.py --help",
        "list": "python run.py --list",
        "first_step": "command to first training step (default image run)",
    }
    report = {
        "benchmark": "startup",
        "settings": {"repeats": args.repeats},
        "machine": machine(),
        "seconds": {name: [round(s, 3) for s in values] for name, values in seconds.items()},
        "loaded_at_first_step": steps[-1]["loaded"],
        "figures": [value_figure(labels[name], medians[name], TARGETS[name], "s") for name in TARGETS],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
