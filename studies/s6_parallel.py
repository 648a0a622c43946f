"""S6: RNNs don't parallelise — as sequences grow, self-attention trains on more elements per second than a bi-LSTM."""

from __future__ import annotations

from framework import Row
from studies import Verdict, arm, describe, missing


def verdict(rows: list[Row]) -> Verdict:
    """Supported when, on each modality, attention's throughput at the longest length both reached beats the RNN's."""
    names = ["text_rnn", "text_attn", "speech_rnn", "speech_attn"]
    if (absent := missing(rows, names)) is not None:
        return absent
    findings, faster = [], True
    for modality in ("text", "speech"):
        rnn, attn = arm(rows, f"{modality}_rnn"), arm(rows, f"{modality}_attn")
        rnn_curve, attn_curve = rnn.first_check("scaling") or [], attn.first_check("scaling") or []
        shared = sorted({p["length"] for p in rnn_curve} & {p["length"] for p in attn_curve})
        if not shared:
            return Verdict(None, f"no common step timings (checks.scaling) on {modality}")
        longest = shared[-1]
        speed = {
            name: next(p["elements_per_s"] for p in curve if p["length"] == longest)
            for name, curve in (("rnn", rnn_curve), ("attn", attn_curve))
        }
        faster &= speed["attn"] > speed["rnn"]
        findings.append(
            f"{modality}: accuracy rnn {describe(rnn)}, attn {describe(attn)}; training elements/s at "
            f"{longest}: rnn {speed['rnn']:,.0f}, attn {speed['attn']:,.0f} ({speed['attn'] / speed['rnn']:.1f}×)"
        )
    return Verdict(faster, "; ".join(findings) + ".")
