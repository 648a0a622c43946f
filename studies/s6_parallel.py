"""S6: RNNs don't parallelise — a bi-LSTM gains little from more cores at one sequence; self-attention gains more.

On 2 CPU cores (``study=full``) the study measures the mechanism: one sequence (batch 1) at
growing lengths, timed with 1 and with 2 threads. A computation whose steps depend on each other
(the recurrence) cannot spread over the second core; attention's matrix products can. On a GPU
(``study=gpu``, no thread timings) it compares training throughput at the longest length instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from framework import Comparison, Row, Verdict, mean_sd, verdict_from
from studies import arm, describe, missing

MODALITIES = ("text", "speech")
ARMS = [f"{modality}_{model}" for modality in MODALITIES for model in ("rnn", "attn")]


def verdict(rows: list[Row]) -> Verdict:
    """Per modality: attention's speed-up from a second thread exceeds the bi-LSTM's (seeds as samples).

    Without thread timings (a GPU run) it compares training elements/s at the longest length instead.
    """
    if (absent := missing(rows, ARMS)) is not None:
        return absent
    row = {name: arm(rows, name) for name in ARMS}
    comparisons, findings = [], []
    for modality in MODALITIES:
        rnn, attn = row[f"{modality}_rnn"], row[f"{modality}_attn"]
        measured = next(
            ((measure, found) for measure in MEASURES if (found := _at_longest(rnn, attn, measure.value)) is not None),
            None,
        )
        if measured is None:
            return Verdict.missing([f"step timings (checks.scaling) on {modality}"])
        measure, (longest, rnn_values, attn_values) = measured
        comparisons.append(
            Comparison(f"{modality}, {longest} elements{measure.says}", attn_values, rnn_values, low=0.0)
        )
        findings.append(
            f"{modality}: accuracy rnn {describe(rnn)}, attn {describe(attn)}; {measure.label} at {longest}: "
            f"rnn {measure.shown(rnn_values)}, attn {measure.shown(attn_values)}"
        )
    return verdict_from(comparisons, "; ".join(findings) + ".")


@dataclass(frozen=True)
class Measure:
    """What the verdict compares at the longest length: a value read from each timed point."""

    says: str
    label: str
    value: Callable[[dict], float | None]
    template: str

    def shown(self, values: list[float]) -> str:
        """The mean of ``values`` as the report prints it."""
        return self.template.format(mean_sd(values)[0])


def _speedup(point: dict) -> float | None:
    """Step time at 1 thread over step time at 2 threads, where both were timed."""
    timed = point.get("step_s_by_threads") or {}
    return timed["1"] / timed["2"] if {"1", "2"} <= set(timed) else None


MEASURES = (
    Measure(
        " at batch 1: attention gains more from a 2nd thread than the bi-LSTM",
        "speed-up from 1 to 2 threads",
        _speedup,
        "{:.2f}×",
    ),
    Measure(
        ": attention trains on more elements per second than the bi-LSTM",
        "training elements/s",
        lambda point: point.get("elements_per_s"),
        "{:,.0f}",
    ),
)
"""Thread speed-ups (CPU), else throughput (GPU)."""


def _at_longest(
    rnn: Row, attn: Row, value: Callable[[dict], float | None]
) -> tuple[int, list[float], list[float]] | None:
    """The longest length at which every seed of both rows has a ``value``, and each row's values there."""
    points = {
        name: [
            {p["length"]: v for p in run.results.get("checks", {}).get("scaling") or [] if (v := value(p)) is not None}
            for run in row.runs
        ]
        for name, row in (("rnn", rnn), ("attn", attn))
    }
    seeds = [*points["rnn"], *points["attn"]]
    common = set.intersection(*(set(seed) for seed in seeds)) if seeds else set()
    if not common:
        return None
    longest = max(common)
    return longest, [seed[longest] for seed in points["rnn"]], [seed[longest] for seed in points["attn"]]
