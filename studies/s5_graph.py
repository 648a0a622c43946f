"""S5: attention over edges is a GNN — it should match GCN/GAT, and attention over all nodes should fall far behind."""

from __future__ import annotations

from framework import Comparison, Row, Verdict, verdict_from
from studies import arm, describe, missing, scores

ARMS = ["attn_edges", "attn_full", "gcn", "gat", "mlp"]
MATCH = 0.01
"""Attention over edges "matches" a GNN when its mean test accuracy is at most this far below it."""
GAP = 0.10
"""Attention over all nodes "falls far behind" when it is more than this far below attention over edges."""


def verdict(rows: list[Row]) -> Verdict:
    """Three comparisons: edges vs GCN and vs GAT (at most ``MATCH`` below), all nodes vs edges (``GAP`` below)."""
    if (absent := missing(rows, ARMS)) is not None:
        return absent
    row = {name: arm(rows, name) for name in ARMS}
    edges = scores(row["attn_edges"])
    comparisons = [
        Comparison(f"attention over edges is at most {MATCH} below GCN", edges, scores(row["gcn"]), low=-MATCH),
        Comparison(f"attention over edges is at most {MATCH} below GAT", edges, scores(row["gat"]), low=-MATCH),
        Comparison(
            f"attention over all nodes is more than {GAP} below attention over edges",
            edges,
            scores(row["attn_full"]),
            low=GAP,
        ),
    ]
    reason = "test accuracy on Cora: " + ", ".join(f"{name} {describe(row[name])}" for name in ARMS) + "."
    return verdict_from(comparisons, reason)
