"""What the attention benchmarks share: timing and peak memory in a fresh child process, a sweep skipping slow settings.

A benchmark script runs itself with ``--child ...`` once per measurement (so that each gets its
own memory peak), reads the child's one-line JSON answer, and predicts before each setting
whether it fits the time (and optionally memory) budget from the same method's previous size.
Both sides of every comparison are timed with freed memory kept in the process
(:func:`~framework.train.memory.kept_freed_memory`, ``run.py keep_freed_memory=true``), so that
the C library's way of serving blocks over 32 MB does not make the larger sizes look slower.
"""

from __future__ import annotations

import json
import math
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from framework.train.memory import kept_freed_memory


def rss_kb(field: str) -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (resident peak) of this process, from ``/proc/self/status``."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak_rss() -> int:
    """Resets the process's resident-memory peak to its current size (Linux ``clear_refs``) and returns it in bytes."""
    Path("/proc/self/clear_refs").write_text("5")
    return rss_kb("VmRSS") * 1024


def time_and_peak(step: Callable[[], None], repeats: int, device: torch.device, min_seconds: float = 0.0) -> dict:
    """Median seconds of ``step`` over ``repeats`` after one warm-up (more, until the timed steps add up to
    ``min_seconds``: short steps vary most), and the rise of peak memory they caused.

    The peak is the resident-set peak on CPU and ``max_memory_allocated`` on a GPU, reset just before the warm-up.
    """

    def synchronized() -> None:
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with kept_freed_memory():
        before = torch.cuda.memory_allocated() if device.type == "cuda" else reset_peak_rss()
        synchronized()  # warm-up
        times = []
        while len(times) < repeats or sum(times) < min_seconds:
            started = time.perf_counter()
            synchronized()
            times.append(time.perf_counter() - started)
        after = torch.cuda.max_memory_allocated() if device.type == "cuda" else rss_kb("VmHWM") * 1024
    return {
        "seconds": statistics.median(times),
        "repeats": len(times),
        "peak_extra_mb": round((after - before) / 2**20, 1),
    }


def paired_medians(
    ours: Callable[[], object],
    reference: Callable[[], object],
    repeats: int,
    device: torch.device,
    min_seconds: float = 0.0,
) -> tuple[float, float]:
    """Median seconds of ``ours`` and ``reference`` over pairs of calls, after two warm-up calls each.

    At least ``repeats`` pairs, and more until the timed calls add up to ``min_seconds`` (the
    medians of short calls vary most). Every other pair calls the reference first, so that
    neither side always runs in the other's wake.
    """

    def seconds(fn: Callable[[], object]) -> float:
        started = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started

    with kept_freed_memory():
        for _ in range(2):
            seconds(ours), seconds(reference)
        pairs: list[tuple[float, float]] = []
        while len(pairs) < repeats or sum(map(sum, pairs)) < min_seconds:
            if len(pairs) % 2:
                theirs = seconds(reference)
                pairs.append((seconds(ours), theirs))
            else:
                pairs.append((seconds(ours), seconds(reference)))
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def run_child(script: str, arguments: list[str]) -> dict:
    """Runs ``script`` with ``arguments`` in a fresh interpreter: its JSON answer, or the reason it failed."""
    done = subprocess.run([sys.executable, script, *arguments], capture_output=True, text=True)
    if done.returncode != 0:
        return {
            "skipped": (
                f"failed (exit {done.returncode}): "
                f"{done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'killed'}"
            )
        }
    return json.loads(done.stdout)


def growth_exponent(values: dict[int, float]) -> float | None:
    """Slope of log(value) against log(size) between the smallest and largest measured sizes."""
    if len(values) < 2:
        return None
    (n0, v0), (n1, v1) = min(values.items()), max(values.items())
    return round(math.log(v1 / v0) / math.log(n1 / n0), 3)


def sweep(
    sizes: list[int],
    methods: tuple[str, ...],
    passes: tuple[str, ...],
    measure: Callable[[str, int, str], dict],
    *,
    size_key: str,
    growth: Callable[[str], float],
    repeats: int,
    budget: float,
    memory_budget_mb: float | None = None,
    estimate_mb: Callable[[str, int, str], float | None] | None = None,
) -> list[dict]:
    """Measures every (size, method, pass) in increasing size and returns one row each, printing each to stderr.

    A setting is skipped, with the reason in its row, when the method's previous size predicts
    (time and memory growing as ``size ** growth(method)``) more than ``budget`` seconds for the
    warm-up and repeats, or, with a ``memory_budget_mb``, a larger peak than it; ``estimate_mb``
    may predict the peak before any size of the method has run.
    """
    rows, last = [], {}
    for size in sorted(sizes):
        for method in methods:
            for mode in passes:
                row = {size_key: size, "method": method, "pass": mode}
                previous = last.get((method, mode))
                scale = (size / previous[size_key]) ** growth(method) if previous else 0.0
                seconds = previous["seconds"] * scale * (repeats + 1) if previous else 0.0
                peak = max(
                    previous["peak_extra_mb"] * scale if previous else 0.0,
                    (estimate_mb and estimate_mb(method, size, mode)) or 0.0,
                )
                reasons = []
                if memory_budget_mb is not None and peak > memory_budget_mb:
                    reasons.append(
                        f"predicted peak {peak / 1024:.1f} GiB > memory budget {memory_budget_mb / 1024:.1f} GiB"
                    )
                if seconds > budget:
                    reasons.append(f"predicted {seconds:.0f} s > budget {budget:.0f} s")
                if reasons:
                    row["skipped"] = "; ".join(reasons)
                else:
                    row |= measure(method, size, mode)
                    if "seconds" in row:
                        last[(method, mode)] = row
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
    return rows


def ratio_figure(
    name: str, ours: float, reference: float, target: float, unit: str = "s", at_least: bool = False
) -> dict:
    """One target of the suite, against a reference measured in the same run.

    Holds ours, the reference, ``ours / reference`` and whether that is at most ``target`` (at
    least, with ``at_least``: for rates, where more is better).
    """
    ratio = ours / reference
    return {
        "figure": name,
        "ours": round(ours, 6),
        "reference": round(reference, 6),
        "unit": unit,
        "ratio": round(ratio, 3),
        "target": f"{'>=' if at_least else '<='} {target:g}",
        "met": ratio >= target if at_least else ratio <= target,
    }


def value_figure(name: str, value: float, target: float, unit: str) -> dict:
    """One target of the suite that is a value of ours alone: met when at most ``target``.

    Such a value is a start-up time or a growth exponent.
    """
    return {
        "figure": name,
        "ours": round(value, 3),
        "reference": None,
        "unit": unit,
        "ratio": None,
        "target": f"<= {target:g}",
        "met": value <= target,
    }


GEMM_SIZE = 2048
"""The square matrix product whose FLOP/s stands for what the machine's threads can do."""


def gemm_flops(device: torch.device, repeats: int = 5) -> float:
    """FLOP/s of a float32 ``GEMM_SIZE``² matrix product on ``device`` with this process's threads (median of
    ``repeats`` after a warm-up): the limit an attention kernel's achieved FLOP/s is compared with."""
    a, b = (torch.randn(GEMM_SIZE, GEMM_SIZE, device=device) for _ in range(2))
    seconds = time_and_peak(lambda: torch.matmul(a, b), repeats, device)["seconds"]
    return 2 * GEMM_SIZE**3 / seconds


def machine() -> dict:
    """Platform, CPU threads and torch version, for the report."""
    return {"platform": platform.platform(), "threads": torch.get_num_threads(), "torch": torch.__version__}
