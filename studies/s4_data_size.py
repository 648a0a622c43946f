"""S4: CNN is a special case of attention; data size decides — CNN leads with little data, the gap closes with more."""

from __future__ import annotations

from framework import Row
from studies import Verdict, accuracy, arms, missing

FRACTION = "modality.train_fraction"


def verdict(rows: list[Row]) -> Verdict:
    """Supported when the CNN beats full attention at the smallest fraction and the gap shrinks at the largest."""
    if (absent := missing(rows, ["cnn", "attn_full", "attn_local"])) is not None:
        return absent
    curves = {
        name: {float(row.swept(FRACTION) or 1.0): accuracy(row)[0] for row in arms(rows, name)}
        for name in ("cnn", "attn_full", "attn_local")
    }
    shared = sorted(set.intersection(*(set(curve) for curve in curves.values())))
    if len(shared) < 2:
        return Verdict(None, "needs at least two training-set fractions run by every arm")
    small, large = shared[0], shared[-1]
    gap = {f: curves["cnn"][f] - curves["attn_full"][f] for f in (small, large)}
    table = "; ".join(
        f"{name}: " + ", ".join(f"{f:g} → {curve[f]:.3f}" for f in shared) for name, curve in curves.items()
    )
    reason = (
        f"test accuracy by training fraction: {table}. CNN minus full attention: {gap[small]:+.3f} at {small:g}, "
        f"{gap[large]:+.3f} at {large:g}. Whether attention overtakes the CNN needs far more data than these runs have."
    )
    return Verdict(gap[small] > 0 and gap[large] < gap[small], reason)
