"""S1: context matters for tagging — wider windows help on ambiguous words; whole sentences do at least as well."""

from __future__ import annotations

from framework import Row
from studies import Verdict, accuracy, arm, describe, missing

METRIC = "acc_ambiguous"
"""Accuracy on test words seen with two or more tags in training: where context decides."""
TIE = 0.005
"""Differences smaller than this (or 2 sd) count as a tie."""


def verdict(rows: list[Row]) -> Verdict:
    """Supported when ±3 beats ±1 on ambiguous words and the best whole-sentence model is not below the best window."""
    names = ["window_1", "window_3", "window_5", "attn", "rnn"]
    if (absent := missing(rows, names)) is not None:
        return absent
    row = {name: arm(rows, name) for name in names}
    mean = {name: accuracy(row[name], METRIC)[0] for name in names}
    sd = {name: accuracy(row[name], METRIC)[1] for name in names}

    def margin(a: str, b: str) -> float:
        return max(TIE, 2 * max(sd[a], sd[b]))

    wider_helps = mean["window_3"] > mean["window_1"] + margin("window_3", "window_1")
    best_window = max(("window_1", "window_3", "window_5"), key=mean.get)
    best_sentence = max(("attn", "rnn"), key=mean.get)
    sentence_holds = mean[best_sentence] >= mean[best_window] - margin(best_sentence, best_window)
    numbers = ", ".join(f"{name} {describe(row[name], METRIC)}" for name in names)
    reason = (
        f"accuracy on ambiguous words: {numbers}. Widening the window from ±1 to ±3 "
        f"{'helps' if wider_helps else 'does not help beyond noise'}; "
        f"the better whole-sentence model ({best_sentence}) is "
        f"{'at least as good as' if sentence_holds else 'below'} the best window ({best_window})."
    )
    return Verdict(wider_helps and sentence_holds, reason)
