"""S3: speech needs truncated attention — windows keep step time and memory near-linear and lose little accuracy."""

from __future__ import annotations

import math

from framework import Row
from studies import Verdict, accuracy, arm, describe, missing

WINDOWS = ["window_16", "window_64", "window_256"]
TOLERANCE = 0.01
"""The best window "loses little" when its frame accuracy is at most this far below full attention (or within 2 sd)."""


def verdict(rows: list[Row]) -> Verdict:
    """Supported when the best window is within ``TOLERANCE`` of full attention and grows slower in time and memory."""
    if (absent := missing(rows, ["full", *WINDOWS])) is not None:
        return absent
    full = arm(rows, "full")
    best = max((arm(rows, name) for name in WINDOWS), key=lambda row: accuracy(row)[0])
    (full_mean, full_sd), (best_mean, best_sd) = accuracy(full), accuracy(best)
    close = best_mean >= full_mean - max(TOLERANCE, 2 * max(full_sd, best_sd))
    growth = {name: arm(rows, name).first_check("scaling") or [] for name in ["full", *WINDOWS]}
    if any(not curve for curve in growth.values()):
        return Verdict(None, "a run has no step timings (checks.scaling); nothing to say about cost")
    slower = {name: _exponent(curve, "step_s") for name, curve in growth.items()}
    heavier = {name: _exponent(curve, "peak_extra_mb") for name, curve in growth.items()}
    cheaper = all(slower[name] < slower["full"] and heavier[name] < heavier["full"] for name in WINDOWS)
    costs = "; ".join(
        f"{name}: time ∝ N^{slower[name]:.2f}, memory ∝ N^{heavier[name]:.2f} "
        f"(up to {growth[name][-1]['length']} frames)"
        for name in growth
    )
    reason = (
        f"frame accuracy: full {describe(full)}, "
        + ", ".join(f"{n} {describe(arm(rows, n))}" for n in WINDOWS)
        + f"; the best window ({best.variant.rsplit('/', 1)[-1]}) is {'within' if close else 'not within'} "
        f"{TOLERANCE} (or 2 sd) of full attention. Training-step cost as the sequence grows: {costs}."
    )
    return Verdict(close and cheaper, reason)


def _exponent(curve: list[dict], key: str) -> float:
    """The growth exponent of ``key`` between the first and last measured lengths (log-log slope)."""
    first, last = curve[0], curve[-1]
    if (
        last["length"] == first["length"]
        or not first.get(key)
        or not last.get(key)
        or first[key] <= 0
        or last[key] <= 0
    ):
        return float("nan")
    return math.log(last[key] / first[key]) / math.log(last["length"] / first["length"])
