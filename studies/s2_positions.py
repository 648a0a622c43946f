"""S2: attention is order-blind without positions — shuffling permutes the output; positions matter where order does."""

from __future__ import annotations

from framework import Check, Comparison, Row, Verdict, verdict_from
from studies import arm, describe, missing, scores

MODALITIES = ("text", "image")
KINDS = ("none", "sinusoidal", "learned")
ARMS = [f"{modality}_{kind}" for modality in MODALITIES for kind in KINDS]
METRIC = {"text": "acc_ambiguous", "image": "acc"}
"""Where order matters: on the ambiguity sentences, the ambiguous words (their tag depends on a word 3 places back)."""
GAP = 0.05
"""Positions "matter" when a scheme beats no positions by more than this."""


def verdict(rows: list[Row]) -> Verdict:
    """Two checks (equivariance without positions, none with them) and four comparisons of a scheme with none."""
    if (absent := missing(rows, ARMS)) is not None:
        return absent
    row = {name: arm(rows, name) for name in ARMS}
    checks = [
        Check(
            "every run without positions was permutation-equivariant",
            all(_equivariant(row[f"{m}_none"]) == [True] for m in MODALITIES),
        ),
        Check(
            "no run with positions was",
            all(_equivariant(row[f"{m}_{k}"]) == [False] for m in MODALITIES for k in KINDS[1:]),
        ),
    ]
    comparisons = [
        Comparison(
            f"{m}: {kind} positions beat none by more than {GAP}",
            scores(row[f"{m}_{kind}"], METRIC[m]),
            scores(row[f"{m}_none"], METRIC[m]),
            low=GAP,
        )
        for m in MODALITIES
        for kind in KINDS[1:]
    ]
    parts = [f"{name} {describe(row[name], METRIC[name.split('_')[0]])}" for name in ARMS]
    reason = f"accuracy (ambiguous words on text, all images): {', '.join(parts)}."
    return verdict_from(comparisons, reason, checks)


def _equivariant(row: Row) -> list[bool]:
    """The distinct outcomes of the permutation check over the row's seeds."""
    return sorted({run.results.get("checks", {}).get("permutation_equivariant") for run in row.runs}, key=str)
