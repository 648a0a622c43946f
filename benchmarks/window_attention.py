"""Window attention against SDPA with a dense band mask and against full SDPA, as the length grows.

Prints one JSON document: for every (length, method, pass) the median time over repetitions
after a warm-up and the peak memory, plus the ratios the speech issue targets (band-masked
SDPA time / window time at 16k frames, and the window scope's growth exponent from 4k to 64k).
Each measurement runs in a fresh subprocess; peak memory is the rise of the resident-set peak
(Linux, reset just before the first step) on CPU and of ``max_memory_allocated`` on a GPU. Settings whose
predicted time exceeds ``--budget`` seconds (from the quadratic growth of the dense methods)
are skipped and listed with the reason. At ``--flops-length`` (4,096) the window scope's and full
SDPA's achieved FLOP/s, counting only the pairs each must score, are compared as fractions of
what a large matrix product reaches with the same threads. ``--methods ... flex`` adds PyTorch's
FlexAttention with a sliding-window block mask (compiled; the anchor on a GPU, forward only on CPU,
where it has no backward pass).

    python benchmarks/window_attention.py                 # B=8, 4 heads, head dim 32, w=64
    python benchmarks/window_attention.py --lengths 1024 4096 --repeats 3
    python benchmarks/window_attention.py --device cuda --methods window band_sdpa flex
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import (  # noqa: E402
    gemm_flops,
    growth_exponent,
    machine,
    ratio_figure,
    run_child,
    sweep,
    time_and_peak,
    value_figure,
)

METHODS = ("window", "band_sdpa", "full_sdpa", "flex")
DEFAULT_METHODS = ("window", "band_sdpa", "full_sdpa")
PASSES = ("forward", "forward_backward")


def measure(method: str, length: int, mode: str, args: argparse.Namespace) -> dict:
    """Runs in a child process: median seconds over ``args.repeats`` after one warm-up, and peak memory."""
    import torch
    import torch.nn.functional as F
    from torch import Tensor

    from framework.core.batch import VectorSet
    from framework.nn.attention import attend

    torch.manual_seed(0)
    device = torch.device(args.device)
    if method == "gemm":
        return {"flops": gemm_flops(device)}
    B, H, d, w = args.batch, args.heads, args.head_dim, args.window
    q, k, v = (torch.randn(B, H, length, d, device=device, requires_grad=mode == "forward_backward") for _ in range(3))
    mask = torch.ones(B, length, dtype=torch.bool, device=device)
    batch = VectorSet(x=q, mask=mask, y=mask)
    if method == "band_sdpa":
        positions = torch.arange(length, device=device)
        band = (positions[:, None] - positions[None, :]).abs() <= w
    if method == "flex":
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention

        def in_band(b: Tensor, h: Tensor, query: Tensor, key: Tensor) -> Tensor:
            return (query - key).abs() <= w

        blocks = create_block_mask(in_band, None, None, length, length, device=device)
        flex = torch.compile(flex_attention)  # fused only when compiled; the warm-up step compiles it

    def step() -> None:
        if method == "window":
            out = attend(q, k, v, batch, scope="window", window=w)
        elif method == "band_sdpa":
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=band)
        elif method == "flex":
            out = flex(q, k, v, block_mask=blocks)
        else:
            out = F.scaled_dot_product_attention(q, k, v)
        if mode == "forward_backward":
            out.sum().backward()

    return time_and_peak(step, args.repeats, device, args.min_seconds)


def child(method: str, length: int, mode: str, args: argparse.Namespace) -> dict:
    """One measurement in a fresh interpreter (peak memory per process), or the reason it failed."""
    if method == "flex" and mode == "forward_backward" and args.device == "cpu":
        return {"skipped": "FlexAttention has no backward pass on CPU"}
    return run_child(__file__, ["--child", method, str(length), mode, *forwarded(args)])


def forwarded(args: argparse.Namespace) -> list[str]:
    return [
        "--batch",
        str(args.batch),
        "--heads",
        str(args.heads),
        "--head-dim",
        str(args.head_dim),
        "--window",
        str(args.window),
        "--repeats",
        str(args.repeats),
        "--min-seconds",
        str(args.min_seconds),
        "--device",
        args.device,
    ]


def useful_flops(method: str, length: int, args: argparse.Namespace) -> float:
    """Floating-point operations of a forward+backward pass over the pairs a method must score: the band for the
    window scope and band-masked SDPA, all pairs for full SDPA (two products forward, four backward)."""
    w = args.window
    pairs = length * length if method == "full_sdpa" else length * (2 * w + 1) - w * (w + 1)
    return 3 * 4 * args.head_dim * pairs * args.batch * args.heads


def flops_fractions(window_s: float, full_s: float, gemm: float, length: int, args: argparse.Namespace) -> dict:
    """Achieved FLOP/s of the window scope and of full SDPA at ``length``, as fractions of the GEMM's."""
    return {
        "gemm_flops": round(gemm),
        "window": round(useful_flops("window", length, args) / window_s / gemm, 4),
        "full_sdpa": round(useful_flops("full_sdpa", length, args) / full_s / gemm, 4),
    }


TARGET_LENGTH = 16_384
"""Length at which the speech issue asks band-masked SDPA to take at least 15 times as long as the window scope."""
FLEX_TARGET = 2.0
"""Most the window scope may take against FlexAttention's sliding window on a GPU, forward+backward at 16k."""


def figures(
    window: dict[int, float],
    band: dict[int, float],
    window_mb: dict[int, float],
    band_mb: dict[int, float],
    exponent: float | None,
    fractions: dict | None,
    flops_length: int,
    flex: dict[int, float] | None = None,
) -> list[dict]:
    """The suite's targets this run measured: window / band SDPA at 16k in time (<= 1/15) and peak memory (<= 1),
    the window's growth exponent, its share of the GEMM's FLOP/s against full SDPA's (>= 0.5), and where
    FlexAttention ran forward+backward (a GPU), window / FlexAttention at 16k (<= 2)."""
    found = []
    if flex and TARGET_LENGTH in window and TARGET_LENGTH in flex:
        found.append(
            ratio_figure(
                f"window scope / FlexAttention sliding window, forward+backward, N={TARGET_LENGTH:,}",
                window[TARGET_LENGTH],
                flex[TARGET_LENGTH],
                FLEX_TARGET,
            )
        )
    if fractions is not None:
        found.append(
            ratio_figure(
                f"window scope / full SDPA, achieved FLOP/s as a fraction of a GEMM's, N={flops_length:,}",
                fractions["window"],
                fractions["full_sdpa"],
                0.5,
                unit="of GEMM",
                at_least=True,
            )
        )
    if TARGET_LENGTH in window and TARGET_LENGTH in band:
        found.append(
            ratio_figure(
                f"window scope / SDPA with dense band mask, forward+backward, N={TARGET_LENGTH:,}",
                window[TARGET_LENGTH],
                band[TARGET_LENGTH],
                1 / 15,
            )
        )
    if TARGET_LENGTH in window_mb and TARGET_LENGTH in band_mb:
        found.append(
            ratio_figure(
                f"window scope / SDPA with dense band mask, peak memory of forward+backward, N={TARGET_LENGTH:,}",
                window_mb[TARGET_LENGTH],
                band_mb[TARGET_LENGTH],
                1,
                unit="MB",
            )
        )
    if exponent is not None:
        found.append(
            value_figure("window scope time growth exponent in N, from 4k to the longest", exponent, 1.1, "exponent")
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096, 16384, 65536])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--head-dim", type=int, default=32)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--min-seconds", type=float, default=2.0, help="repeat past --repeats until the timed steps take this long (s)"
    )
    parser.add_argument("--budget", type=float, default=120.0, help="skip a setting predicted to take longer (s)")
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS,
        default=list(DEFAULT_METHODS),
        help="methods to measure (default: all but flex)",
    )
    parser.add_argument(
        "--passes", nargs="+", choices=PASSES, default=list(PASSES), help="passes to measure (default: both)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--flops-length", type=int, default=4096, help="length at which achieved FLOP/s are compared (0: not at all)"
    )
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "LENGTH", "PASS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        method, length, mode = args.child
        print(json.dumps(measure(method, int(length), mode, args)))
        return

    rows = sweep(
        args.lengths,
        tuple(args.methods),
        tuple(args.passes),
        lambda method, length, mode: child(method, length, mode, args),
        size_key="length",
        growth=lambda method: 1 if method in ("window", "flex") else 2,  # the dense methods grow quadratically
        repeats=args.repeats,
        budget=args.budget,
    )

    def measured(method: str, mode: str, what: str = "seconds") -> dict[int, float]:
        return {r["length"]: r[what] for r in rows if r["method"] == method and r["pass"] == mode and what in r}

    window, band = measured("window", "forward_backward"), measured("band_sdpa", "forward_backward")
    window_mb = measured("window", "forward_backward", "peak_extra_mb")
    band_mb = measured("band_sdpa", "forward_backward", "peak_extra_mb")
    fractions = None
    if args.flops_length:
        at = args.flops_length
        timed = {
            method: known.get(at) or child(method, at, "forward_backward", args).get("seconds")
            for method, known in (("window", window), ("full_sdpa", measured("full_sdpa", "forward_backward")))
        }
        gemm = child("gemm", 0, "forward", args).get("flops")
        if gemm and all(timed.values()):
            fractions = flops_fractions(timed["window"], timed["full_sdpa"], gemm, at, args)
    ratios = {n: round(band[n] / window[n], 2) for n in window if n in band}
    window_long = {n: t for n, t in window.items() if n >= 4096}
    report = {
        "benchmark": "window_attention",
        "settings": {
            k: getattr(args, k) for k in ("batch", "heads", "head_dim", "window", "repeats", "min_seconds", "device")
        },
        "machine": machine(),
        "rows": rows,
        "band_sdpa_over_window_forward_backward": ratios,
        "window_growth_exponent_4k_to_longest": growth_exponent(window_long),
        "achieved_flops_fraction_of_gemm": fractions,
        "figures": figures(
            window,
            band,
            window_mb,
            band_mb,
            growth_exponent(window_long),
            fractions,
            args.flops_length,
            measured("flex", "forward_backward"),
        ),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
