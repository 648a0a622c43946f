"""S5: attention over edges is a GNN — it should match GCN/GAT, and attention over all nodes should fall far behind."""

from __future__ import annotations

from framework import Row
from studies import Verdict, accuracy, arm, arm_name, describe, missing

MATCH = 0.02
"""Attention over edges "matches" a GNN when its mean is at most this far below the better GNN (or within 2 sd)."""
GAP = 0.10
"""Attention over all nodes "falls far behind" when its mean is at least this far below attention over edges."""


def verdict(rows: list[Row]) -> Verdict:
    """Supported when edge attention is within ``MATCH`` (or 2 sd) of the best GNN, and full attention ``GAP`` below."""
    if (absent := missing(rows, ["attn_edges", "attn_full", "gcn", "gat"])) is not None:
        return absent
    edges, full = arm(rows, "attn_edges"), arm(rows, "attn_full")
    best = max((arm(rows, "gcn"), arm(rows, "gat")), key=lambda row: accuracy(row)[0])
    (edge_mean, edge_sd), (best_mean, best_sd), (full_mean, _) = accuracy(edges), accuracy(best), accuracy(full)
    tolerance = max(MATCH, 2 * max(edge_sd, best_sd))
    matches = edge_mean >= best_mean - tolerance
    relation = "beats" if edge_mean > best_mean + tolerance else "matches" if matches else "falls short of"
    behind = full_mean <= edge_mean - GAP
    reason = (
        f"attention over edges {describe(edges)} {relation} the better GNN ({arm_name(best)}) {describe(best)} "
        f"(tolerance {tolerance:.3f}: {MATCH} or 2 sd); attention over all nodes "
        f"{describe(full)}, {edge_mean - full_mean:+.3f} below attention over edges "
        f"({'far behind' if behind else 'not far behind'}, threshold {GAP})."
    )
    return Verdict(matches and behind, reason)
