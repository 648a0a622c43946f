"""S6: RNNs don't parallelise — a bi-LSTM gains little from more cores at one sequence; self-attention gains more.

On 2 CPU cores (``study=full``) the study measures the mechanism: one sequence (batch 1) at
growing lengths, timed with 1 and with 2 threads. A computation whose steps depend on each other
(the recurrence) cannot spread over the second core; attention's matrix products can. On a GPU
(``study=gpu``, no thread timings) it compares training throughput at the longest length instead.
"""

from __future__ import annotations

from framework import Comparison, Row, Verdict, mean_sd, verdict_from
from studies import arm, describe, missing

MODALITIES = ("text", "speech")
ARMS = [f"{modality}_{model}" for modality in MODALITIES for model in ("rnn", "attn")]


def verdict(rows: list[Row]) -> Verdict:
    """Per modality: attention's speed-up from a second thread exceeds the bi-LSTM's (seeds as samples)."""
    if (absent := missing(rows, ARMS)) is not None:
        return absent
    row = {name: arm(rows, name) for name in ARMS}
    comparisons, findings = [], []
    for modality in MODALITIES:
        rnn, attn = row[f"{modality}_rnn"], row[f"{modality}_attn"]
        reached = [_longest(rnn), _longest(attn)]
        if None in reached:
            if (throughput := _throughput(rnn, attn)) is None:
                return Verdict.missing([f"step timings (checks.scaling) on {modality}"])
            longest, speed = throughput
            comparisons.append(
                Comparison(
                    f"{modality}, {longest} elements: attention trains on more elements per second than the bi-LSTM",
                    speed["attn"],
                    speed["rnn"],
                    low=0.0,
                )
            )
            findings.append(
                f"{modality}: accuracy rnn {describe(rnn)}, attn {describe(attn)}; training elements/s at {longest}: "
                f"rnn {mean_sd(speed['rnn'])[0]:,.0f}, attn {mean_sd(speed['attn'])[0]:,.0f}"
            )
            continue
        longest = min(reached)
        speedup = {name: _speedups(found, longest) for name, found in (("rnn", rnn), ("attn", attn))}
        comparisons.append(
            Comparison(
                f"{modality}, {longest} elements at batch 1: attention gains more from a 2nd thread than the bi-LSTM",
                speedup["attn"],
                speedup["rnn"],
                low=0.0,
            )
        )
        findings.append(
            f"{modality}: accuracy rnn {describe(rnn)}, attn {describe(attn)}; speed-up from 1 to 2 threads at "
            f"{longest}: rnn {mean_sd(speedup['rnn'])[0]:.2f}×, attn {mean_sd(speedup['attn'])[0]:.2f}×"
        )
    return verdict_from(comparisons, "; ".join(findings) + ".")


def _throughput(rnn: Row, attn: Row) -> tuple[int, dict[str, list[float]]] | None:
    """The longest length both rows timed on every seed, and each seed's training elements/s there."""
    curves = {
        name: [run.results.get("checks", {}).get("scaling") or [] for run in row.runs]
        for name, row in (("rnn", rnn), ("attn", attn))
    }
    lengths = [{p["length"] for p in curve} for runs in curves.values() for curve in runs]
    common = set.intersection(*lengths) if lengths else set()
    if not common:
        return None
    longest = max(common)
    speed = {
        name: [p["elements_per_s"] for curve in runs for p in curve if p["length"] == longest]
        for name, runs in curves.items()
    }
    return longest, speed


def _timed(row: Row) -> list[list[dict]]:
    """Each seed's scaling curve, with its points that were timed at 1 and 2 threads."""
    curves = [run.results.get("checks", {}).get("scaling") or [] for run in row.runs]
    return [[p for p in curve if {"1", "2"} <= set(p.get("step_s_by_threads") or {})] for curve in curves]


def _longest(row: Row) -> int | None:
    """The longest length every seed of ``row`` timed at 1 and 2 threads."""
    lengths = [{p["length"] for p in curve} for curve in _timed(row)]
    common = set.intersection(*lengths) if lengths else set()
    return max(common) if common else None


def _speedups(row: Row, length: int) -> list[float]:
    """``step time at 1 thread / at 2 threads`` at ``length``, one per seed."""
    return [
        p["step_s_by_threads"]["1"] / p["step_s_by_threads"]["2"]
        for curve in _timed(row)
        for p in curve
        if p["length"] == length
    ]
