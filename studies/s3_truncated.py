"""S3: speech needs truncated attention — a window keeps step time and memory near-linear and loses little accuracy."""

from __future__ import annotations

import math

from framework import Check, Comparison, Row, Verdict, verdict_from
from studies import arm, describe, missing, scores

WINDOWS = ["window_16", "window_64", "window_256"]
CLAIMED = "window_64"
"""The window the claim is judged on, fixed in advance: ±64 frames, ±0.64 s of speech around each frame."""
TOLERANCE = 0.01
"""The window "loses little" when its frame accuracy is at most this far below full attention."""


def verdict(rows: list[Row]) -> Verdict:
    """One comparison (the ±64 window within ``TOLERANCE`` of full attention) and two checks on the cost curves."""
    if (absent := missing(rows, ["full", *WINDOWS])) is not None:
        return absent
    row = {name: arm(rows, name) for name in ["full", *WINDOWS]}
    growth = {name: found.first_check("scaling") or [] for name, found in row.items()}
    if any(not curve for curve in growth.values()):
        return Verdict.missing([f"step timings (checks.scaling) of {n}" for n, curve in growth.items() if not curve])
    time = {name: _exponent(curve, "step_s") for name, curve in growth.items()}
    memory = {name: _exponent(curve, "peak_extra_mb") for name, curve in growth.items()}
    checks = [
        Check(f"the {CLAIMED} window's step time grows more slowly with the length", time[CLAIMED] < time["full"]),
        Check(
            f"the {CLAIMED} window's peak memory grows more slowly with the length", memory[CLAIMED] < memory["full"]
        ),
    ]
    comparisons = [
        Comparison(
            f"the {CLAIMED} window is at most {TOLERANCE} below full attention",
            scores(row[CLAIMED]),
            scores(row["full"]),
            low=-TOLERANCE,
        )
    ]
    costs = "; ".join(
        f"{name}: time ∝ N^{time[name]:.2f}, memory ∝ N^{memory[name]:.2f} (up to {growth[name][-1]['length']} frames)"
        for name in growth
    )
    accuracy = ", ".join(f"{name} {describe(found)}" for name, found in row.items())
    return verdict_from(
        comparisons, f"frame accuracy: {accuracy}. Training-step cost as the sequence grows: {costs}.", checks
    )


def _exponent(curve: list[dict], key: str) -> float:
    """The growth exponent of ``key`` between the first and last measured lengths (log-log slope)."""
    first, last = curve[0], curve[-1]
    values = (first.get(key), last.get(key))
    if last["length"] == first["length"] or not all(isinstance(v, (int, float)) and v > 0 for v in values):
        return math.nan
    return math.log(values[1] / values[0]) / math.log(last["length"] / first["length"])
