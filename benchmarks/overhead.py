"""Framework overhead: training time per epoch of ``run.py`` against a hand-written PyTorch loop.

Both sides train the same model on the same data: the reference composes the same Hydra config,
builds the model with the framework's own builders (so weights, widths and data are identical),
and then trains it with a plain loop — the modality's DataLoader, forward, cross-entropy,
backward, gradient clipping at ``trainer.gradient_clip_val``, the configured optimizer and
learning-rate schedule, each epoch's shuffled order (as Lightning sets it), a running loss and
accuracy, a validation pass per epoch, and a saved checkpoint (weights and optimizer state) whenever
the validation accuracy improves. The framework side is a real ``run.py`` process with the default
callbacks and CSV logger, timed by :class:`benchmarks.clock.EpochClock`. Each side runs in a fresh
process with the same threads; the figures are medians over the epochs after the first (the
warm-up), and for ``run.py`` before the last (whose whole epoch has no next start to end at). The
two sides take turns (``--rounds``, in the order reference, run.py, run.py, reference, ...), so
that a slow spell of a shared machine falls on both and a steady drift cancels.

Two times per epoch: the training loop alone (epoch start to the last batch) and the whole epoch
(from one epoch's start to the next: validation, checkpointing and, for the framework, its
epoch-end logging, callbacks and loop bookkeeping).

    python benchmarks/overhead.py                          # image/attn, text/rnn, graph/gnn
    python benchmarks/overhead.py --cases image_attn --epochs 6
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _harness import machine, ratio_figure  # noqa: E402

TARGET = 1.10
"""Largest accepted framework / hand-written time per epoch."""
ACCELERATORS = {"cpu": "cpu", "cuda": "gpu"}
"""``--device`` of the reference loop → ``trainer.accelerator`` of the run."""


@dataclass(frozen=True)
class Case:
    """One (modality, model) pair: its overrides, how many epochs each run trains (the first is a warm-up; run.py's
    last has no whole-epoch time) and how many runs of each side."""

    overrides: tuple[str, ...]
    epochs: int
    rounds: int = 2


CASES = {
    "image_attn": Case(("modality=image", "model=attn"), epochs=5),
    # A quarter of EWT keeps an epoch near 10 s on 2 cores; both sides use the same quarter.
    "text_rnn": Case(("modality=text", "model=rnn", "modality.train_fraction=0.25"), epochs=5),
    # One step per epoch (the graph is one batch): enough epochs for a stable median, and more runs, since a
    # 50 ms epoch's median still moves by a tenth from one process to the next.
    "graph_gnn": Case(("modality=graph", "model=gnn"), epochs=30, rounds=4),
}


def reference_epochs(overrides: list[str], epochs: int, device: str) -> list[dict[str, float]]:
    """Trains the configured model with a hand-written loop; seconds per epoch (training loop, whole epoch)."""
    import torch
    import torch.nn.functional as F
    from hydra import compose, initialize_config_dir

    from framework.core.batch import IGNORE_INDEX
    from framework.train.build import assemble, build_parts
    from framework.train.module import warmup_cosine

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[*overrides, f"trainer.max_epochs={epochs}", "output_dir=unused"])
    torch.manual_seed(cfg.seed)
    parts = build_parts(cfg)
    modality = parts.modality
    modality.prepare_data()
    modality.setup("fit")
    model = assemble(parts).to(device)
    train, val = modality.train_dataloader(), modality.val_dataloader()
    optimizer = parts.optimizer(model)
    schedule = (
        warmup_cosine(optimizer, epochs * len(train), parts.warmup_fraction)
        if parts.warmup_fraction is not None
        else None
    )
    clip = cfg.trainer.gradient_clip_val

    best, times = -1.0, []
    with tempfile.TemporaryDirectory(prefix="overhead-reference-") as folder:
        for epoch in range(epochs):
            started = time.perf_counter()
            if hasattr(train.sampler, "set_epoch"):  # each epoch's own order, as Lightning sets it
                train.sampler.set_epoch(epoch)
            model.train()
            loss_sum, correct = torch.zeros((), device=device), torch.zeros((), dtype=torch.long, device=device)
            for batch in train:
                logits, labels, _ = model.scored(batch.to(device))
                loss = F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
                optimizer.step()
                if schedule is not None:
                    schedule.step()
                loss_sum += loss.detach()
                correct += (logits.argmax(-1) == labels).sum()
            trained = time.perf_counter()
            model.eval()
            val_correct, val_count = (torch.zeros((), dtype=torch.long, device=device) for _ in range(2))
            with torch.inference_mode():
                for batch in val:
                    logits, labels, _ = model.scored(batch.to(device))
                    scored = labels != IGNORE_INDEX
                    val_correct += (logits.argmax(-1) == labels)[scored].sum()
                    val_count += scored.sum()
            accuracy = float(val_correct / val_count)
            if accuracy > best:  # keep the best validation accuracy's weights, as the test score needs them
                best = accuracy
                torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, Path(folder) / "best.pt")
            times.append({"train_s": trained - started, "epoch_s": time.perf_counter() - started})
    return times


def framework_epochs(
    overrides: list[str], epochs: int, device: str, folder: Path, env: dict[str, str]
) -> list[dict[str, float]]:
    """Runs ``run.py`` (default callbacks and logger, attention maps off) and returns its epoch clock."""
    clock = folder / "epochs.json"
    command = [
        sys.executable,
        str(ROOT / "run.py"),
        *overrides,
        f"trainer.max_epochs={epochs}",
        f"trainer.accelerator={ACCELERATORS[device]}",
        f"hydra.run.dir={folder / 'run'}",
        "callbacks.attention_maps=null",  # drawn once after training, outside any epoch
        "+callbacks.epoch_clock._target_=benchmarks.clock.EpochClock",
        f"+callbacks.epoch_clock.path={clock}",
    ]
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"run.py failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return json.loads(clock.read_text())["epochs"]


def reference_in_child(case: str, epochs: int, device: str, env: dict[str, str]) -> list[dict[str, float]]:
    """The hand-written loop in a fresh interpreter with the same environment as the framework run."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", case, "--epochs", str(epochs), "--device", device],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"reference loop failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout)


def medians(runs: list[list[dict[str, float]]]) -> dict[str, float]:
    """Median seconds of each kind over every run's epochs after its first."""
    timed = [epoch for epochs in runs for epoch in (epochs[1:] or epochs)]
    return {key: round(statistics.median(e[key] for e in timed), 4) for key in ("train_s", "epoch_s")}


def turns(rounds: int) -> list[str]:
    """Which side runs when, over ``rounds`` runs of each: ``reference, framework, framework, reference, ...``."""
    pair = ("reference", "framework")
    return [side for turn in range(rounds) for side in (pair if turn % 2 == 0 else pair[::-1])]


def main() -> None:
    """Times each case on both sides and prints the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES))
    parser.add_argument("--epochs", type=int, help="epochs per run, at least 3 (default: per case)")
    parser.add_argument("--device", choices=sorted(ACCELERATORS), default="cpu")
    parser.add_argument("--threads", type=int, help="CPU threads of both sides (default: torch's)")
    parser.add_argument("--rounds", type=int, help="runs of each side, taking turns (default: per case, 2 or 4)")
    parser.add_argument("--child", choices=sorted(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epochs is not None and args.epochs < 3:
        parser.error("--epochs must be at least 3 (the first is a warm-up, the last has no next start)")
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.child:
        case = CASES[args.child]
        print(json.dumps(reference_epochs(list(case.overrides), args.epochs or case.epochs, args.device)))
        return

    env = dict(os.environ) | ({"OMP_NUM_THREADS": str(args.threads)} if args.threads else {})
    results, figures = {}, []
    for name in args.cases:
        case = CASES[name]
        epochs, rounds = args.epochs or case.epochs, args.rounds or case.rounds
        runs: dict[str, list[list[dict[str, float]]]] = {"reference": [], "framework": []}
        for side in turns(rounds):
            if side == "reference":
                runs[side].append(reference_in_child(name, epochs, args.device, env))
            else:
                with tempfile.TemporaryDirectory(prefix=f"overhead-{name}-") as folder:
                    runs[side].append(framework_epochs(list(case.overrides), epochs, args.device, Path(folder), env))
        ours, theirs = medians(runs["framework"]), medians(runs["reference"])
        results[name] = {
            "overrides": list(case.overrides),
            "epochs": epochs,
            "rounds": rounds,
            "framework": ours,
            "reference": theirs,
            "framework_epochs": runs["framework"],
            "reference_epochs": runs["reference"],
        }
        figures += [
            ratio_figure(
                f"{name}: training loop per epoch, run.py / hand-written", ours["train_s"], theirs["train_s"], TARGET
            ),
            ratio_figure(
                f"{name}: whole epoch with validation, run.py / hand-written",
                ours["epoch_s"],
                theirs["epoch_s"],
                TARGET,
            ),
        ]
        print(json.dumps(figures[-2:]), file=sys.stderr)
    report = {
        "benchmark": "overhead",
        "settings": {"threads": args.threads, "device": args.device, "rounds": args.rounds},
        "machine": machine() | ({"threads": args.threads} if args.threads else {}),
        "cases": results,
        "figures": figures,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
