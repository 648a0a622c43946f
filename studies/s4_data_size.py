"""S4: CNN is a restricted self-attention; data size decides — CNN leads with little data, the gap closes with more."""

from __future__ import annotations

from framework import Comparison, Row, Verdict, mean_sd, verdict_from
from studies import arms, missing, paired, scores

FRACTION = "modality.train_fraction"
ARMS = ["cnn", "attn_full", "attn_local"]
MARGIN = 0.01
"""The CNN "leads" when it beats full attention by more than this at the smallest training fraction."""


def verdict(rows: list[Row]) -> Verdict:
    """Three comparisons: the CNN's lead and the local window's help at the smallest fraction; the lead shrinking."""
    if (absent := missing(rows, ARMS)) is not None:
        return absent
    row = {name: {float(r.swept(FRACTION) or 1.0): r for r in arms(rows, name)} for name in ARMS}
    shared = sorted(set.intersection(*(set(by_fraction) for by_fraction in row.values())))
    if len(shared) < 2:
        return Verdict.missing(["two training fractions run by every arm"])
    small, large = shared[0], shared[-1]
    comparisons = [
        Comparison(
            f"at {small:g} of the data the CNN beats full attention by more than {MARGIN}",
            scores(row["cnn"][small]),
            scores(row["attn_full"][small]),
            low=MARGIN,
        ),
        Comparison(
            f"at {small:g} of the data local attention beats full attention",
            scores(row["attn_local"][small]),
            scores(row["attn_full"][small]),
            low=0.0,
        ),
        Comparison(
            f"the CNN's lead over full attention (seed by seed) is smaller at {large:g} than at {small:g}",
            paired(row["cnn"][small], row["attn_full"][small]),
            paired(row["cnn"][large], row["attn_full"][large]),
            low=0.0,
        ),
    ]
    curves = "; ".join(
        f"{name}: " + ", ".join(f"{f:g} → {mean_sd(scores(row[name][f]))[0]:.3f}" for f in shared) for name in ARMS
    )
    ahead = [f for f in shared if mean_sd(scores(row["attn_full"][f]))[0] >= mean_sd(scores(row["cnn"][f]))[0]]
    crossing = (
        f"full attention's mean reaches the CNN's from {ahead[0]:g} of the data"
        if ahead
        else "full attention's mean stays below the CNN's at every fraction run"
    )
    return verdict_from(comparisons, f"mean test accuracy by training fraction: {curves}. {crossing}.")
