"""Attention at kernel speed: our ``full`` scope vs raw SDPA, our encoder block vs ``nn.TransformerEncoderLayer``.

Same tensors on both sides, at three shapes from the modalities (digits pixels, sentences, speech
frames). The scope is timed against ``scaled_dot_product_attention`` with the same key-padding
mask (a few padded keys, as in a real batch); the block (pre-norm, GELU, feed-forward ``ff_mult *
dim``, dropout 0.1) against a ``torch.nn.TransformerEncoderLayer`` configured identically
(``norm_first=True, batch_first=True``), forward in evaluation mode without gradients (where
PyTorch may take its fused fast path) and forward+backward in training mode. Timings alternate
between the two sides, one call each (every other pair reference first), so drift hits both
alike; each figure is the median after a warm-up, over at least ``--repeats`` pairs and as many
more as add up to ``--min-seconds``.

    python benchmarks/attention_kernels.py
    python benchmarks/attention_kernels.py --repeats 50 --device cuda
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from _harness import machine, paired_medians, ratio_figure  # noqa: E402

from framework.core.batch import VectorSet  # noqa: E402
from framework.nn.attention import MultiHeadSelfAttention, attend  # noqa: E402
from plugins.models.attn import AttentionBlock  # noqa: E402

SHAPES = {  # name: (batch, heads, length, head dim)
    "digits 8x8": (64, 4, 64, 16),
    "sentences": (32, 4, 256, 16),
    "speech 1k": (8, 4, 1024, 32),
}
SCOPE_TARGET, BLOCK_TARGET = 1.05, 1.0
FF_MULT, DROPOUT = 2, 0.1


def backward_of(forward: Callable[[], torch.Tensor]) -> Callable[[], None]:
    """Forward and backward of ``forward``'s output sum."""
    return lambda: forward().sum().backward()


def scope_rows(
    name: str, shape: tuple[int, int, int, int], repeats: int, device: torch.device, min_seconds: float = 0.0
) -> list[dict]:
    """The ``full`` scope against masked SDPA on the same q, k, v: forward and forward+backward."""
    B, H, N, d = shape
    q, k, v = (torch.randn(B, H, N, d, device=device, requires_grad=True) for _ in range(3))
    mask = torch.ones(B, N, dtype=torch.bool, device=device)
    mask[::2, -N // 8 :] = False  # every other set is shorter, as in a padded batch
    batch = VectorSet(x=q, mask=mask, y=mask)

    def ours() -> torch.Tensor:
        return attend(q, k, v, batch, "full")

    def sdpa() -> torch.Tensor:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])

    rows = []
    with torch.no_grad():
        rows.append((f"full scope / SDPA, forward, {name}", *paired_medians(ours, sdpa, repeats, device, min_seconds)))
    rows.append(
        (
            f"full scope / SDPA, forward+backward, {name}",
            *paired_medians(backward_of(ours), backward_of(sdpa), repeats, device, min_seconds),
        )
    )
    return [ratio_figure(label, mine, theirs, SCOPE_TARGET) for label, mine, theirs in rows]


def block_rows(
    name: str, shape: tuple[int, int, int, int], repeats: int, device: torch.device, min_seconds: float = 0.0
) -> list[dict]:
    """Our attention block against ``nn.TransformerEncoderLayer`` of the same size on the same input."""
    B, H, N, d = shape
    dim = H * d
    ours = AttentionBlock(MultiHeadSelfAttention(dim, H, DROPOUT, "full"), dim, FF_MULT, DROPOUT).to(device)
    torch_layer = torch.nn.TransformerEncoderLayer(
        dim, H, FF_MULT * dim, DROPOUT, activation="gelu", batch_first=True, norm_first=True
    ).to(device)
    h = torch.randn(B, N, dim, device=device, requires_grad=True)
    mask = torch.ones(B, N, dtype=torch.bool, device=device)
    mask[::2, -N // 8 :] = False
    batch = VectorSet(x=h, mask=mask, y=mask)

    def mine() -> torch.Tensor:
        return ours(h, batch)

    def theirs() -> torch.Tensor:
        return torch_layer(h, src_key_padding_mask=~mask)

    rows = []
    ours.eval(), torch_layer.eval()
    with torch.no_grad():
        rows.append(
            (f"block / TransformerEncoderLayer, forward (eval), {name}", *paired_medians(mine, theirs, repeats, device))
        )
    ours.train(), torch_layer.train()
    rows.append(
        (
            f"block / TransformerEncoderLayer, forward+backward, {name}",
            *paired_medians(backward_of(mine), backward_of(theirs), repeats, device, min_seconds),
        )
    )
    return [ratio_figure(label, a, b, BLOCK_TARGET) for label, a, b in rows]


def main() -> None:
    """Measures every shape and prints the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES))
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--min-seconds", type=float, default=2.0, help="time each figure's pairs for at least this long"
    )
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    figures = []
    for name in args.shapes:
        figures += scope_rows(name, SHAPES[name], args.repeats, device, args.min_seconds)
        figures += block_rows(name, SHAPES[name], args.repeats, device, args.min_seconds)
        print(json.dumps(figures[-4:]), file=sys.stderr)
    report = {
        "benchmark": "attention_kernels",
        "settings": {
            "repeats": args.repeats,
            "min_seconds": args.min_seconds,
            "device": args.device,
            "ff_mult": FF_MULT,
            "dropout": DROPOUT,
            "shapes": {name: dict(zip(("batch", "heads", "length", "head_dim"), SHAPES[name])) for name in args.shapes},
        },
        "machine": machine(),
        "figures": figures,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
