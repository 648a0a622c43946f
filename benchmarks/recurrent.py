"""Recurrence at library speed: our recurrent encoder against a bare ``torch.nn.LSTM`` (cuDNN on a GPU).

S6 sets self-attention against the bi-LSTM, so the bi-LSTM must run as fast as PyTorch's own
LSTM, or attention would win on our overhead. Both sides are the ``rnn`` model's default (2
bidirectional LSTM layers, width 128) on the same batch of sequences, a quarter of them an eighth
shorter, as in a padded batch: ours keeps the padding from reaching real outputs (as it must, so
that the backward direction never reads padding first), the bare LSTM runs over every slot.
Forward+backward in training mode, alternating calls, median after a warm-up (over at least
``--repeats`` pairs and as many more as add up to ``--min-seconds``); also the elements per second
of each side at each length.

    python benchmarks/recurrent.py
    python benchmarks/recurrent.py --device cuda --lengths 256 1024 4096 16384
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from _harness import machine, paired_medians, ratio_figure  # noqa: E402

from framework.core.batch import VectorSet  # noqa: E402
from framework.core.spec import Layout, ModalitySpec, Target  # noqa: E402
from plugins.models.rnn import RecurrentEncoder  # noqa: E402

TARGET = 1.10
"""Most our encoder may take against the bare LSTM."""
DIM, LAYERS = 128, 2


def measure(length: int, batch: int, repeats: int, device: torch.device, min_seconds: float = 0.0) -> dict:
    """Seconds of a forward+backward pass of ours and of the bare LSTM at ``length``, and their elements/s."""
    spec = ModalitySpec("bench", "bench", Layout.SEQUENCE, Target.ELEMENT, 2, ("full",), length)
    ours = RecurrentEncoder(spec, DIM, LAYERS, "lstm", bidirectional=True, dropout=0.1).to(device).train()
    bare = torch.nn.LSTM(DIM, DIM // 2, LAYERS, batch_first=True, bidirectional=True, dropout=0.1).to(device).train()
    h = torch.randn(batch, length, DIM, device=device, requires_grad=True)
    mask = torch.ones(batch, length, dtype=torch.bool, device=device)
    mask[::4, -length // 8 :] = False
    sets = VectorSet(x=h, mask=mask, y=mask)
    mine, theirs = paired_medians(
        lambda: ours(h, sets).sum().backward(), lambda: bare(h)[0].sum().backward(), repeats, device, min_seconds
    )
    elements = batch * length
    return {
        "length": length,
        "ours_s": round(mine, 6),
        "bare_lstm_s": round(theirs, 6),
        "ours_elements_per_s": round(elements / mine),
        "bare_lstm_elements_per_s": round(elements / theirs),
    }


def main() -> None:
    """Measures every length and prints the JSON report; the target is judged at the longest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--min-seconds", type=float, default=10.0, help="time each length's pairs for at least this long"
    )
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    measured = []
    for length in sorted(args.lengths):
        measured.append(measure(length, args.batch, args.repeats, device, args.min_seconds))
        print(json.dumps(measured[-1]), file=sys.stderr)
    longest = measured[-1]
    report = {
        "benchmark": "recurrent",
        "settings": {
            "batch": args.batch,
            "dim": DIM,
            "layers": LAYERS,
            "repeats": args.repeats,
            "min_seconds": args.min_seconds,
            "device": args.device,
        },
        "machine": machine(),
        "rows": measured,
        "figures": [
            ratio_figure(
                f"rnn encoder / bare nn.LSTM, forward+backward, B={args.batch}, N={longest['length']:,}",
                longest["ours_s"],
                longest["bare_lstm_s"],
                TARGET,
            )
        ],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
