"""The whole benchmark suite in one command: every target with ours, the reference, the ratio and whether it is met.

Runs each benchmark script in turn (in its own process, one at a time, so that they never share
the cores) with settings that keep the suite under ten minutes on two CPU cores, prints one JSON
document, and with ``--docs`` rewrites the table between the markers of docs/performance.md for that device
(``benchmarks:cpu:start``/``benchmarks:cpu:end``, and ``cuda``), so CPU and GPU tables live side by side.

    python benchmarks/suite.py --out benchmarks/results/cpu.json --docs
    python benchmarks/suite.py --only overhead attention_kernels
    python benchmarks/suite.py --earlier run1.json run2.json --out run3.json --docs   # with the spread of three runs
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAGE = HERE.parent / "docs" / "performance.md"

SUITE = {  # script: arguments that fit the suite's time
    "startup": "",
    "overhead": "",
    "attention_kernels": "--repeats 15",
    # flex (FlexAttention, the anchor on a GPU) is skipped at once on CPU, where it has no backward pass. Band SDPA
    # at 16k is a target's reference: the budget lets it run on a slow machine (25-45 s a step, more predicted),
    # timed once after its warm-up; at 64k it would take half an hour and is skipped. Shorter steps repeat for 6 s.
    "window_attention": (
        "--lengths 4096 16384 65536 --methods window band_sdpa flex --passes forward_backward"
        " --repeats 1 --min-seconds 6 --budget 600"
    ),
    "graph_attention": "--nodes 10000 100000 --methods graph_scope gat_conv --passes forward_backward",
    "recurrent": "",
}


ON_DEVICE = {"overhead", "attention_kernels", "window_attention", "graph_attention", "recurrent"}
"""The benchmarks that take ``--device`` (start-up is a property of the command, not of the device)."""


def run_benchmark(name: str, arguments: list[str], device: str) -> dict:
    """Runs ``benchmarks/<name>.py`` on ``device``: its JSON report with its wall time, or the reason it failed."""
    started = time.perf_counter()
    on_device = ["--device", device] if name in ON_DEVICE else []
    done = subprocess.run(
        [sys.executable, str(HERE / f"{name}.py"), *arguments, *on_device], capture_output=True, text=True
    )
    seconds = round(time.perf_counter() - started, 1)
    if done.returncode != 0:
        return {"benchmark": name, "error": done.stderr.strip()[-2000:] or f"exit {done.returncode}", "wall_s": seconds}
    return json.loads(done.stdout) | {"wall_s": seconds}


def read_report(path: Path) -> dict:
    """An earlier run's JSON report (``--out``); exits with status 2 and one line if it is not one."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        report = error
    if not isinstance(report, dict) or "reports" not in report:
        print(
            f"error: --earlier {path} is not a suite report; give a JSON file an earlier --out wrote", file=sys.stderr
        )
        sys.exit(2)
    return report


def spread(reports: list[dict], earlier: list[dict]) -> dict[str, dict]:
    """Each target of ``reports`` over this run and the ``earlier`` suite reports: the values it was judged by
    (the ratio, or ours where there is no reference), oldest first, and in how many runs it was met."""
    runs = [suite["reports"] for suite in earlier] + [reports]
    found: dict[str, dict] = {}
    for run in runs:
        for report in run:
            for figure in report.get("figures", []):
                entry = found.setdefault(f"{report['benchmark']}: {figure['figure']}", {"values": [], "met": 0})
                entry["values"].append(figure["ours"] if figure["ratio"] is None else figure["ratio"])
                entry["met"] += figure["met"]
    return {key: entry | {"runs": len(runs)} for key, entry in found.items()}  # a run without the target missed it


def markdown(reports: list[dict], device: str, spreads: dict[str, dict] | None = None) -> str:
    """The performance page's table: one row per target, dated today; with ``spreads`` (see :func:`spread`), the
    range of each target's value over the runs and in how many it was met."""
    title = f"Measured {date.today().isoformat()} by `python benchmarks/suite.py` on {device}"
    header, rule = "| benchmark | figure | ours | reference | ratio | target | met |", "|---|---|---|---|---|---|---|"
    if spreads:
        runs = max(entry["runs"] for entry in spreads.values())
        title += f"; the last two columns cover this run and the {runs - 1} before it"
        header, rule = header + " range over runs | met in |", rule + "---|---|"
    lines = [f"{title}.", "", header, rule]
    for report in reports:
        if "error" in report:
            lines.append(f"| {report['benchmark']} | failed: {report['error'].splitlines()[-1]} | | | | | |")
        for figure in report.get("figures", []):
            unit = "" if figure["unit"] == "exponent" else f" {figure['unit']}"
            reference = "—" if figure["reference"] is None else f"{figure['reference']:.4g}{unit}"
            ratio = "—" if figure["ratio"] is None else f"{figure['ratio']:.3g}×"
            row = (
                f"| {report['benchmark']} | {figure['figure']} | {figure['ours']:.4g}{unit} | {reference} | {ratio} "
                f"| {figure['target'].replace('<=', '≤').replace('>=', '≥')} | {'yes' if figure['met'] else '**no**'} |"
            )
            if spreads:
                entry = spreads[f"{report['benchmark']}: {figure['figure']}"]
                times = "" if figure["ratio"] is None else "×"
                low, high = min(entry["values"]), max(entry["values"])
                row += f" {low:.3g}–{high:.3g}{times} | {entry['met']} of {entry['runs']} |"
            lines.append(row)
    return "\n".join(lines)


def write_docs_table(table: str, device: str) -> None:
    """Replaces the text between the ``device``'s markers in docs/performance.md with ``table``."""
    start, end = f"<!-- benchmarks:{device}:start -->", f"<!-- benchmarks:{device}:end -->"
    text = PAGE.read_text()
    if start not in text or end not in text:
        raise SystemExit(f"docs/performance.md has no {start} ... {end} markers to write the table between")
    head, rest = text.split(start, 1)
    PAGE.write_text(f"{head}{start}\n{table}\n{end}{rest.split(end, 1)[1]}")


def main() -> None:
    """Runs the suite (or ``--only`` some of it) and prints the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(SUITE), default=list(SUITE))
    parser.add_argument("--device", default="cpu", help="cpu or cuda: where the models and kernels run")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    parser.add_argument("--docs", action="store_true", help="rewrite the benchmark table of docs/performance.md")
    parser.add_argument(
        "--machine-name",
        default=f"{platform.machine()}, {os.cpu_count()} CPU cores",
        help="how the table names the machine (e.g. 'the 2-core CI machine', 'one NVIDIA H100')",
    )
    parser.add_argument(
        "--earlier", type=Path, nargs="+", default=[], help="JSON reports of earlier runs (--out), for the spread"
    )
    args = parser.parse_args()
    earlier = [read_report(path) for path in args.earlier]
    started = time.perf_counter()
    reports = []
    for name in args.only:
        reports.append(run_benchmark(name, SUITE[name].split(), args.device))
        print(f"{name}: {reports[-1]['wall_s']} s", file=sys.stderr)
    figures = [figure for report in reports for figure in report.get("figures", [])]
    suite = {
        "suite_wall_s": round(time.perf_counter() - started, 1),
        "targets_met": sum(figure["met"] for figure in figures),
        "targets": len(figures),
        "failed": [report["benchmark"] for report in reports if "error" in report],
        "reports": reports,
    }
    if earlier:
        suite["spread"] = spread(reports, earlier)
    text = json.dumps(suite, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    if args.docs:
        write_docs_table(markdown(reports, f"{args.machine_name} ({args.device})", suite.get("spread")), args.device)


if __name__ == "__main__":
    main()
