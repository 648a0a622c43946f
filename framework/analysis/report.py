"""Sweep reports: every run's ``results.json`` under a folder → ``report.md``, ``report.csv`` and plots.

``python -m framework.analysis.report multirun/2026-11-25/10-00-00-000000`` writes the report into that
folder (``--out`` elsewhere, ``--wandb`` also uploads it). One row per (study, modality, dataset,
model, variant), where the variant is every override that is not the modality, model, dataset or
seed; mean ± sd over the seeds. Failed jobs are listed with their error, unreadable files with
what is wrong with them, and runs from more than one code version are flagged.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf

from framework.analysis.plots import draw_plots
from framework.analysis.rows import ReportError, Row, Runs, aggregate, collect_runs, mean_sd
from framework.analysis.verdict import Verdict
from framework.analysis.wandb import upload_report
from framework.core.errors import ArenaError
from framework.runs.results import RESULTS_FILE
from framework.runs.selection import SELECT_STAGE


def format_mean_sd(values: Sequence[float], digits: int = 3) -> str:
    mean, sd = mean_sd(values)
    if mean is None:
        return "–"
    return f"{mean:.{digits}f}" if sd is None else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def format_mean(values: Sequence[float], spec: str) -> str:
    mean, _ = mean_sd(values)
    return "–" if mean is None else format(mean, spec)


def markdown_table(rows: list[Row]) -> list[str]:
    """The comparison table; subset metrics (e.g. ``acc_ambiguous``) get their own columns."""
    extra = sorted({m for row in rows for m in row.test_metrics} - {"acc"})
    head = ["modality", "dataset", "model", "variant", "seeds", "test acc", *extra, "params", "elements/s", "wall s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [
            row.modality,
            row.dataset or "",
            row.model,
            f"`{row.variant}`",
            ", ".join(map(str, row.seeds)),
            format_mean_sd(row.values("test", "acc")),
            *(format_mean_sd(row.values("test", m)) for m in extra),
            format_mean(row.values("params"), ",.0f"),
            format_mean(row.values("throughput", "elements_per_s"), ",.0f"),
            format_mean(row.values("wall_time_s"), ".1f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def study_section(rows: list[Row]) -> list[str]:
    """A study's heading, claim, verdict (with the findings and test behind it), results and model selection."""
    info = rows[0].runs[0].results.get("study_info") or {}
    results = [row for row in rows if not row.selecting]
    selection = [row for row in rows if row.selecting]
    lines = ["", f"## Study {rows[0].study} ({info.get('size') or 'unknown size'})", ""]
    if info.get("size") == "quick":
        lines += ["**A quick size: a first look at the mechanics, not evidence for or against the claim.**", ""]
    if info.get("claim"):
        lines += [f"**Claim.** {info['claim']}", ""]
    budgets = sorted({run.results.get("param_budget") or 0 for row in results for run in row.runs})
    if budgets != [0]:
        stated = ", ".join(f"{budget:,}" if budget else "none (the configured width)" for budget in budgets)
        lines += [f"**Parameter budget:** {stated}; a budget is met within ±10 % (the params column).", ""]
    try:
        module, name = info["verdict"].rsplit(".", 1)
        verdict = getattr(importlib.import_module(module), name)(results)
    except Exception as error:  # noqa: BLE001 - a broken verdict must not cost the report
        lines += [f"**Verdict:** not available ({type(error).__name__}: {error}).", ""]
    else:
        lines += [f"**Verdict: {verdict.outcome.value}.** {verdict.reason}", ""] + findings_table(verdict)
    lines += markdown_table(results)
    return lines + selection_table(selection, results)


def findings_table(verdict: Verdict) -> list[str]:
    """What the verdict rests on: each comparison's difference and interval against the range the claim allows."""
    if not verdict.findings:
        return []
    lines = ["| finding | difference | interval | claim allows | outcome |", "|---|---|---|---|---|"]
    for finding in verdict.findings:
        difference, comparison = finding.difference, finding.comparison
        numbers = (
            [f"{difference.estimate:+.3f}", f"[{difference.low:+.3f}, {difference.high:+.3f}]", comparison.allows()]
            if difference is not None and comparison is not None
            else ["", "", ""]
        )
        lines.append(f"| {finding.says} | " + " | ".join(numbers) + f" | {finding.outcome.value} |")
    return lines + (["", f"Test: {verdict.test}.", ""] if verdict.test else [""])


def selection_table(selection: list[Row], results: list[Row]) -> list[str]:
    """The configurations each arm tried on validation (the same number for every arm), the chosen one marked."""
    if not selection:
        return []
    chosen = {row.variant for row in results}
    lines = [
        "",
        "### Model selection",
        "",
        "Each arm tried the same number of configurations, trained on the training split and scored on "
        "validation only; the best one ran over the seeds above.",
        "",
        "| model | configuration | validation acc | chosen |",
        "|---|---|---|---|",
    ]
    for row in selection:
        configuration = " ".join(part for part in row.variant.split() if part != SELECT_STAGE)
        score = format_mean(row.values("best_val", "acc"), ".3f")
        lines.append(f"| {row.model} | `{configuration}` | {score} | {'✓' if configuration in chosen else ''} |")
    return lines


def problems(runs: Runs) -> list[str]:
    """The report's warnings section: failed jobs, unreadable files, mixed code versions."""
    lines = []
    failed = [run for run in runs.runs if not run.ok]
    if failed:
        lines += ["", "## Failed jobs", "", "| job | model | variant | seed | error |", "|---|---|---|---|---|"]
        lines += [
            f"| {run.folder.relative_to(runs.root)} | {run.results['model']} | `{run.variant}` | "
            f"{run.results['seed']} | {run.results.get('error', 'unknown error')} |"
            for run in failed
        ]
    if runs.unreadable:
        lines += ["", "## Unreadable results", ""]
        lines += [f"- `{path.relative_to(runs.root)}`: {reason}" for path, reason in runs.unreadable]
    if len(runs.code_versions) > 1:
        lines += [
            "",
            f"**Warning:** these runs come from {len(runs.code_versions)} code versions "
            f"({', '.join(sorted(runs.code_versions))}); numbers may not be comparable.",
        ]
    return lines


def render_markdown(runs: Runs, rows: list[Row], plots: list[Path]) -> str:
    """The whole ``report.md``: one section per study (or one table), problems, then the plots."""
    ok = sum(run.ok for run in runs.runs)
    compute = sum(run.results.get("wall_time_s") or 0.0 for run in runs.runs) / 60
    lines = [
        f"# Report: {runs.root.name}",
        "",
        f"{ok} finished runs, {len(runs.runs) - ok} failed, {len(runs.unreadable)} unreadable; "
        f"code {', '.join(sorted(runs.code_versions))}; {compute:,.1f} min of compute in all. Mean ± sd over seeds.",
    ]
    if (command := sweep_command(runs.root)) is not None:
        lines += ["", f"Command: `{command}`"]
    for study in sorted({row.study for row in rows}, key=str):
        members = [row for row in rows if row.study == study]
        lines += study_section(members) if study else ["", "## Results", "", *markdown_table(members)]
    lines += problems(runs)
    if plots:
        lines += ["", "## Plots", ""] + [f"![{plot.stem}]({plot.name})" for plot in plots]
    return "\n".join(lines) + "\n"


def sweep_command(root: Path) -> str | None:
    """The command that ran the sweep in ``root``, from the ``multirun.yaml`` Hydra saved there."""
    path = root / "multirun.yaml"
    if not path.is_file():
        return None
    overrides = OmegaConf.select(OmegaConf.load(path), "hydra.overrides.task", default=None)
    return None if overrides is None else " ".join(["python run.py -m", *overrides])


def write_csv(rows: list[Row], path: Path) -> None:
    """``report.csv``: one line per row, mean and sd of every test metric, sizes and speeds."""
    metrics = sorted({m for row in rows for m in row.test_metrics})
    fields = [
        "study",
        "modality",
        "dataset",
        "model",
        "variant",
        "n",
        "seeds",
        *(f"test_{m}_{stat}" for m in metrics for stat in ("mean", "sd")),
        "best_val_acc_mean",
        "params",
        "elements_per_s",
        "samples_per_s",
        "wall_time_s",
    ]
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fields)
        writer.writeheader()
        for row in rows:
            record = {
                "study": row.study or "",
                "modality": row.modality,
                "dataset": row.dataset or "",
                "model": row.model,
                "variant": row.variant,
                "n": len(row.runs),
                "seeds": " ".join(map(str, row.seeds)),
                "best_val_acc_mean": mean_sd(row.values("best_val", "acc"))[0],
                "params": mean_sd(row.values("params"))[0],
                "elements_per_s": mean_sd(row.values("throughput", "elements_per_s"))[0],
                "samples_per_s": mean_sd(row.values("throughput", "samples_per_s"))[0],
                "wall_time_s": mean_sd(row.values("wall_time_s"))[0],
            }
            for m in metrics:
                record[f"test_{m}_mean"], record[f"test_{m}_sd"] = mean_sd(row.values("test", m))
            writer.writerow(record)


def write_report(runs: Runs, out_dir: Path) -> Path:
    """Writes ``report.md``, ``report.csv`` and the plots into ``out_dir``; returns the Markdown file."""
    rows = aggregate(runs.runs)
    if not rows:
        raise ReportError(
            f"no finished run under {runs.root} ({len(runs.runs)} failed, {len(runs.unreadable)} unreadable)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = draw_plots([row for row in rows if not row.selecting], out_dir)
    write_csv(rows, out_dir / "report.csv")
    markdown = out_dir / "report.md"
    markdown.write_text(render_markdown(runs, rows, plots))
    return markdown


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m framework.analysis.report FOLDER [--out DIR] [--wandb]``."""
    parser = argparse.ArgumentParser(prog="python -m framework.analysis.report", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a multirun folder (or any folder holding run folders)")
    parser.add_argument("--out", type=Path, help="where to write the report (default: the folder itself)")
    parser.add_argument(
        "--wandb",
        metavar="PROJECT",
        nargs="?",
        const="attention-arena",
        help="also upload the table and plots to this W&B project (offline without an API key)",
    )
    args = parser.parse_args(argv)
    try:
        runs = collect_runs(args.folder)
        if not runs.runs and not runs.unreadable:
            raise ReportError(f"no {RESULTS_FILE} under {args.folder}; give the folder of a multirun")
        markdown = write_report(runs, args.out or args.folder)
    except ArenaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path, reason in runs.unreadable:
        print(f"warning: skipped {path}: {reason}", file=sys.stderr)
    if args.wandb:
        upload_report(markdown.parent, args.wandb, name=f"report-{args.folder.resolve().name}")
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
