"""S1: context matters for tagging — it helps on ambiguous words, and whole-sentence models reach the widest window.

The study runs every arm on two tasks (``+task=s1_context/<task>``): UD English EWT, and the
generated ambiguity sentences, where an ambiguous word's tag is decided by the word ``distance``
places before it (``cue_2``, ``cue_6``), so a window reaches the cue exactly when it is wide enough.
"""

from __future__ import annotations

from framework import Comparison, Row, Verdict, verdict_from
from studies import arm, describe, scores

METRIC = "acc_ambiguous"
"""Accuracy on test words seen with two or more tags in training: where context decides."""
TASKS = ["ewt", "cue_2", "cue_6"]
"""The study's tasks (``conf/task/s1_context/*.yaml``)."""
ARMS = ["mlp", "window_1", "window_3", "window_5", "attn", "rnn"]
MARGIN = 0.005
"""On EWT, half a point of accuracy on ambiguous words: what "helps" must exceed and "at least as good" may lose."""
GAP = 0.2
"""On the generated task, seeing the cue must raise accuracy on ambiguous words by more than this (chance is 0.5)."""


def verdict(rows: list[Row]) -> Verdict:
    """Seven comparisons on ambiguous words: four on EWT, three on the generated cues (see the report's table)."""
    row = {(task, name): arm(rows, name, task=f"s1_context/{task}") for task in TASKS for name in ARMS}
    if absent := sorted({f"{name} on {task}" for (task, name), found in row.items() if found is None}):
        return Verdict.missing(absent)
    ewt = {name: scores(row["ewt", name], METRIC) for name in ARMS}
    near = {name: scores(row["cue_2", name], METRIC) for name in ARMS}
    far = {name: scores(row["cue_6", name], METRIC) for name in ARMS}
    comparisons = [
        Comparison(f"EWT: a ±1 window beats no context by more than {MARGIN}", ewt["window_1"], ewt["mlp"], MARGIN),
        Comparison(f"EWT: attention is at most {MARGIN} below the ±5 window", ewt["attn"], ewt["window_5"], -MARGIN),
        Comparison(f"EWT: the bi-LSTM is at most {MARGIN} below the ±5 window", ewt["rnn"], ewt["window_5"], -MARGIN),
        Comparison(f"EWT: attention is at most {MARGIN} below the bi-LSTM", ewt["attn"], ewt["rnn"], -MARGIN),
        Comparison(
            f"cue 2 back: ±3 (sees it) beats ±1 (does not) by more than {GAP}", near["window_3"], near["window_1"], GAP
        ),
        Comparison(
            f"cue 6 back: attention beats ±5 (does not see it) by more than {GAP}", far["attn"], far["window_5"], GAP
        ),
        Comparison(f"cue 6 back: the bi-LSTM beats ±5 by more than {GAP}", far["rnn"], far["window_5"], GAP),
    ]
    reason = "; ".join(
        f"{task}: " + ", ".join(f"{name} {describe(row[task, name], METRIC)}" for name in ARMS) for task in TASKS
    )
    return verdict_from(comparisons, f"accuracy on ambiguous words, {reason}.")
