"""The graph attention scope against PyG's GATConv and TransformerConv and dense masked SDPA, as the graph grows.

Each method is timed as one attention layer, input projections included, on one random graph
(``B = 1``) of N nodes with about ``--degree`` incoming edges per node: random directed pairs,
then self-loops and repeats removed by ``framework.nn.edges.normalize_edges`` (the contract of
``VectorSet.edge_index``). With ``width = heads * head_dim`` and node features ``x`` ``[N, width]``:

* ``graph_scope``: ``nn.Linear(width, 3 * width)`` to q, k, v ``[1, heads, N, head_dim]``, then
  ``attend(q, k, v, batch, scope="graph")`` (which adds the self-loops), then the heads
  concatenated back to ``[N, width]``; what ``MultiHeadSelfAttention`` does without its output projection;
* ``gat_conv``: ``GATConv(width, head_dim, heads=heads, add_self_loops=True)`` (its linear
  projection, attention vectors and bias);
* ``transformer_conv``: ``TransformerConv(width, head_dim, heads=heads)`` with its defaults (key,
  query and value projections plus the root projection ``lin_skip``), with the self-loops added
  by ``torch_geometric.utils.add_self_loops`` inside the timed step, so it attends to the same pairs as ours;
* ``dense_sdpa``: the same projection as ours, then ``scaled_dot_product_attention`` with a dense
  ``[N, N]`` boolean mask (adjacency or self), built before the timing like the edges.

Ours and TransformerConv score each edge with a dot product of a query and a key; GATConv's
additive score is a sum of two per-node numbers per head, so it does less work per edge.

The ``forward`` pass runs under ``torch.no_grad()``; ``forward_backward`` adds ``out.sum().backward()``
into the layer's parameters. Prints one JSON document: for every (nodes, method, pass) the median
time over repetitions after a warm-up and the peak memory (as ``window_attention.py``: a fresh
subprocess per measurement, the rise of the resident-set peak on CPU or of ``max_memory_allocated``
on a GPU over the inputs), the ratio of the graph scope's time to GATConv's at each size and the
exponent of the graph scope's peak memory against the number of edges from 100k nodes on, with
the suite's targets under ``figures``.
A setting is skipped, with the reason, when the method's previous size predicts more than ``--budget``
seconds or a peak above ``--memory-budget``; dense SDPA is estimated before it runs (its ``N × N``
bool mask and the float32 copy SDPA adds: 5 bytes per pair, 50 GB at 100k nodes).

    python benchmarks/graph_attention.py                       # 10k, 100k, 1M nodes, 4 heads x 16
    python benchmarks/graph_attention.py --nodes 10000 100000 --threads 1
    python benchmarks/graph_attention.py --memory-budget 16    # let GATConv's ~12 GB backward at 1M nodes run
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import growth_exponent, machine, ratio_figure, run_child, sweep, time_and_peak, value_figure  # noqa: E402

METHODS = ("graph_scope", "gat_conv", "transformer_conv", "dense_sdpa")
PASSES = ("forward", "forward_backward")


def measure(method: str, nodes: int, mode: str, args: argparse.Namespace) -> dict:
    """Runs in a child process: median seconds over ``args.repeats`` after one warm-up, peak memory, edge count."""
    import torch
    import torch.nn.functional as F

    from framework.core.batch import VectorSet
    from framework.nn.attention import attend
    from framework.nn.edges import normalize_edges

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    N, H, width = nodes, args.heads, args.width
    d = width // H
    edge_index = normalize_edges(torch.randint(0, N, (2, args.degree * N)), N).to(device)
    x = torch.randn(N, width, device=device)
    mask = torch.ones(1, N, dtype=torch.bool, device=device)
    batch = VectorSet(x=x[None], mask=mask, y=mask, edge_index=edge_index)
    if method == "gat_conv":
        from torch_geometric.nn import GATConv  # only here: importing PyG takes seconds of every child

        layer = GATConv(width, d, heads=H, add_self_loops=True)
    elif method == "transformer_conv":
        from torch_geometric.nn import TransformerConv
        from torch_geometric.utils import add_self_loops

        layer = TransformerConv(width, d, heads=H)
    else:
        layer = torch.nn.Linear(width, 3 * width)
    layer = layer.to(device)
    if method == "dense_sdpa":
        allowed = torch.eye(N, dtype=torch.bool, device=device)
        allowed[edge_index[1], edge_index[0]] = True  # row = query (target), column = key (source)

    def attention_layer() -> torch.Tensor:
        if method == "gat_conv":
            return layer(x, edge_index)
        if method == "transformer_conv":
            return layer(x, add_self_loops(edge_index, num_nodes=N)[0])
        q, k, v = layer(x).view(1, N, 3, H, d).permute(2, 0, 3, 1, 4)  # [1, H, N, d] each
        if method == "graph_scope":
            out = attend(q, k, v, batch, scope="graph")
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        return out.transpose(1, 2).reshape(N, width)

    def step() -> None:
        if mode == "forward":
            with torch.no_grad():
                attention_layer()
        else:
            layer.zero_grad(set_to_none=True)
            attention_layer().sum().backward()

    return time_and_peak(step, args.repeats, device) | {"edges": edge_index.shape[1]}


def dense_estimate_mb(method: str, nodes: int) -> float | None:
    """Memory dense SDPA needs before it runs: the bool ``[N, N]`` mask and the float32 additive mask made of it."""
    return nodes**2 * (1 + 4) / 2**20 if method == "dense_sdpa" else None


def default_memory_budget_gb(device: str) -> float:
    """Half the memory available now (``MemAvailable`` on CPU, the free GPU memory on CUDA), in GiB."""
    import torch

    if torch.device(device).type == "cuda":
        return torch.cuda.mem_get_info(torch.device(device))[0] / 2 / 2**30
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 2 / 2**20
    raise RuntimeError("MemAvailable not in /proc/meminfo")


def child(method: str, nodes: int, mode: str, args: argparse.Namespace) -> dict:
    """One measurement in a fresh interpreter (peak memory per process), or the reason it failed."""
    return run_child(__file__, ["--child", method, str(nodes), mode, *forwarded(args)])


def forwarded(args: argparse.Namespace) -> list[str]:
    """The options a child needs, as command-line arguments."""
    return [
        "--width",
        str(args.width),
        "--heads",
        str(args.heads),
        "--degree",
        str(args.degree),
        "--repeats",
        str(args.repeats),
        "--device",
        args.device,
        *(["--threads", str(args.threads)] if args.threads else []),
    ]


def main() -> None:
    """Parses the options; runs one measurement (``--child``) or the whole sweep and prints the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--width", type=int, default=64, help="model width = heads * head dim")
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--degree", type=int, default=10, help="random incoming edges drawn per node")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=120.0, help="skip a setting predicted to take longer (s)")
    parser.add_argument(
        "--memory-budget",
        type=float,
        help="skip a setting predicted to peak higher (GiB; default: half the available memory)",
    )
    parser.add_argument(
        "--methods", nargs="+", choices=METHODS, default=list(METHODS), help="methods to measure (default: all)"
    )
    parser.add_argument(
        "--passes", nargs="+", choices=PASSES, default=list(PASSES), help="passes to measure (default: both)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="CPU threads of each measurement (default: torch's)")
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "NODES", "PASS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.width % args.heads:
        parser.error(f"--heads {args.heads} must divide --width {args.width}")
    if args.child:
        method, nodes, mode = args.child
        print(json.dumps(measure(method, int(nodes), mode, args)))
        return

    memory_budget = args.memory_budget or default_memory_budget_gb(args.device)
    rows = sweep(
        args.nodes,
        tuple(args.methods),
        tuple(args.passes),
        lambda method, nodes, mode: child(method, nodes, mode, args),
        size_key="nodes",
        growth=lambda method: 2 if method == "dense_sdpa" else 1,  # the sparse ones grow with the edges
        repeats=args.repeats,
        budget=args.budget,
        memory_budget_mb=memory_budget * 1024,
        estimate_mb=lambda method, nodes, mode: dense_estimate_mb(method, nodes),
    )

    def measured(method: str, mode: str, field: str) -> dict[int, float]:
        return {r["nodes"]: r[field] for r in rows if r["method"] == method and r["pass"] == mode and field in r}

    ours, gat = (
        measured("graph_scope", "forward_backward", "seconds"),
        measured("gat_conv", "forward_backward", "seconds"),
    )
    edges = {r["nodes"]: r["edges"] for r in rows if "edges" in r}
    large = {
        edges[n]: peak
        for n, peak in measured("graph_scope", "forward_backward", "peak_extra_mb").items()
        if n >= 100_000
    }
    memory_exponent = growth_exponent(large)
    report = {
        "benchmark": "graph_attention",
        "settings": {k: getattr(args, k) for k in ("width", "heads", "degree", "repeats", "device", "threads")}
        | {"memory_budget_gb": round(memory_budget, 1)},
        "machine": machine() | ({"threads": args.threads} if args.threads else {}),
        "edges": edges,
        "rows": rows,
        "graph_scope_over_gat_conv_forward_backward": {n: round(ours[n] / gat[n], 2) for n in ours if n in gat},
        "graph_scope_peak_memory_exponent_in_edges_from_100k_nodes": memory_exponent,
        "figures": [
            ratio_figure(f"graph scope / GATConv, forward+backward, {n:,} nodes", ours[n], gat[n], 1.2)
            for n in ours
            if n in gat
        ],
    }
    if memory_exponent is not None:
        report["figures"].append(
            value_figure(
                "graph scope peak memory growth exponent in edges, from 100k nodes", memory_exponent, 1.1, "exponent"
            )
        )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
