"""S2: attention is order-blind without positions — shuffling permutes the output; positions matter where order does."""

from __future__ import annotations

from framework import Row
from studies import Verdict, accuracy, arm, describe, missing

ARMS = [f"{modality}_{kind}" for modality in ("text", "image") for kind in ("none", "sinusoidal", "learned")]
METRIC = {"text": "acc_ambiguous", "image": "acc"}
"""Where order matters: on the ambiguity sentences, the ambiguous words (their tag depends on a word 3 places back)."""
GAP = 0.05
"""Positions "help" when the better scheme beats no positions by at least this much."""


def verdict(rows: list[Row]) -> Verdict:
    """Supported when every run without positions was equivariant, none with them was, and positions help on text."""
    if (absent := missing(rows, ARMS)) is not None:
        return absent
    row = {name: arm(rows, name) for name in ARMS}
    blind = all(_equivariant(row[f"{m}_none"]) == [True] for m in ("text", "image"))
    ordered = all(
        _equivariant(row[f"{m}_{k}"]) == [False] for m in ("text", "image") for k in ("sinusoidal", "learned")
    )
    scores = {name: accuracy(row[name], METRIC[name.split("_")[0]])[0] for name in ARMS}
    text_gain = max(scores["text_sinusoidal"], scores["text_learned"]) - scores["text_none"]
    parts = [f"{name} {describe(row[name], METRIC[name.split('_')[0]])}" for name in ARMS]
    reason = (
        f"{'every' if blind else 'not every'} run without positions was permutation-equivariant and "
        f"{'every' if ordered else 'not every'} run with positions was not (checks.permutation_equivariant); "
        f"accuracy (ambiguous words on text, all images): {', '.join(parts)}; positions add {text_gain:+.3f} on text."
    )
    return Verdict(blind and ordered and text_gain >= GAP, reason)


def _equivariant(row: Row) -> list[bool]:
    """The distinct outcomes of the permutation check over the row's seeds."""
    return sorted({run.results.get("checks", {}).get("permutation_equivariant") for run in row.runs}, key=str)
