"""The report's plots (PNG files, drawn on matplotlib's Agg canvas: no display needed)."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from framework.analysis.rows import Row, mean_sd
from framework.viz.figures import new_figure, save_figure

FRACTION_KEY = "modality.train_fraction"


def _mean_sd(values: list[float]) -> tuple[float, float]:
    mean, sd = mean_sd(values)
    return mean, sd or 0.0


def _short(part: str) -> str:
    """``model.layers=2`` → ``layers=2`` (the group is plain from the model column); ``arm=s5_graph/gcn`` → ``gcn``."""
    if part.startswith("arm="):
        return part.rsplit("/", 1)[-1]
    return part.split(".", 1)[1] if part.startswith(("model.", "modality.")) else part


def _label(row: Row, drop: set[str] = frozenset()) -> str:
    """The row's model and the variant parts not in ``drop``."""
    parts = [_short(part) for part in row.variant.split() if part != "default" and part not in drop]
    return " ".join([row.model, *parts])


def accuracy_by_model(rows: list[Row], path: Path) -> Path:
    """Test accuracy per model (and variant) with sd error bars, one panel per (study, modality, dataset)."""
    panels: dict[tuple, list[Row]] = defaultdict(list)
    for row in rows:
        panels[(row.study, row.modality, row.dataset)].append(row)
    columns = min(2, len(panels))
    lines = math.ceil(len(panels) / columns)
    tallest = max(len(members) for members in panels.values())
    figure = new_figure(6.5 * columns, (1.2 + 0.4 * tallest) * lines)
    axes = figure.subplots(lines, columns, squeeze=False)
    for ax, ((study, modality, dataset), members) in zip(axes.flat, panels.items()):
        shared = set.intersection(*(set(row.variant.split()) for row in members)) if len(members) > 1 else set()
        stats = [_mean_sd(row.values("test", "acc")) for row in members]
        ax.barh(range(len(members)), [m for m, _ in stats], xerr=[s for _, s in stats], capsize=3, color="tab:blue")
        ax.set_yticks(range(len(members)), [_label(row, shared) for row in members], fontsize=8)
        ax.invert_yaxis()
        for y, (mean, _) in enumerate(stats):
            ax.text(mean / 2, y, f"{mean:.3f}", va="center", ha="center", color="white", fontsize=8)
        ax.set_title(" · ".join(str(part) for part in (study, modality, dataset) if part), fontsize=9)
        ax.set_xlabel("test accuracy (mean ± sd over seeds)")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    return save_figure(figure, path)


def accuracy_vs_params(rows: list[Row], path: Path) -> Path:
    """Test accuracy against parameter count, one marker per row, coloured by model."""
    figure = new_figure(6, 4)
    ax = figure.subplots()
    colours = {model: f"C{i}" for i, model in enumerate(sorted({row.model for row in rows}))}
    for row in rows:
        params = row.values("params")
        if params:
            mean, sd = _mean_sd(row.values("test", "acc"))
            ax.errorbar(params[0], mean, yerr=sd, fmt="o", color=colours[row.model], capsize=3)
    for model, colour in colours.items():
        ax.plot([], [], "o", color=colour, label=model)
    ax.set_xscale("log")
    ax.set(xlabel="parameters", ylabel="test accuracy")
    ax.legend(fontsize=8)
    return save_figure(figure, path)


def accuracy_vs_fraction(rows: list[Row], path: Path) -> Path | None:
    """Test accuracy against the training-set fraction, one line per model variant; None if no sweep varies it."""
    lines: dict[tuple, list[tuple[float, float, float]]] = defaultdict(list)
    for row in rows:
        fraction = row.swept(FRACTION_KEY)
        if fraction is not None:
            label = _label(row, drop={f"{FRACTION_KEY}={fraction}"})
            lines[(row.modality, row.dataset, label)].append((float(fraction), *_mean_sd(row.values("test", "acc"))))
    if not any(len(points) > 1 for points in lines.values()):
        return None
    figure = new_figure(6, 4)
    ax = figure.subplots()
    for (modality, dataset, label), points in sorted(lines.items()):
        points.sort()
        ax.errorbar(
            [p[0] for p in points],
            [p[1] for p in points],
            yerr=[p[2] for p in points],
            marker="o",
            capsize=3,
            label=f"{modality}/{dataset}: {label}",
        )
    ax.set_xscale("log")
    ax.set(xlabel="training-set fraction", ylabel="test accuracy")
    ax.legend(fontsize=7)
    return save_figure(figure, path)


def step_cost_vs_length(rows: list[Row], path: Path) -> Path | None:
    """Training-step time and peak memory against sequence length (``checks.scaling``); None if no run measured them."""
    curves = {
        f"{row.modality}: {_label(row)}": row.first_check("scaling") for row in rows if row.first_check("scaling")
    }
    if not curves:
        return None
    figure = new_figure(11, 4)
    time_ax, memory_ax = figure.subplots(1, 2)
    for label, curve in sorted(curves.items()):
        lengths = [point["length"] for point in curve]
        time_ax.plot(lengths, [point["step_s"] for point in curve], marker="o", label=label)
        memory_ax.plot(
            lengths,
            [float("nan") if point["peak_extra_mb"] is None else point["peak_extra_mb"] for point in curve],
            marker="o",
            label=label,
        )
    time_ax.set(xscale="log", yscale="log", xlabel="sequence length", ylabel="training step (s)")
    memory_ax.set(xscale="log", xlabel="sequence length", ylabel="peak memory of a step (MB)")
    time_ax.legend(fontsize=7)
    return save_figure(figure, path)


def draw_plots(rows: list[Row], out_dir: Path) -> list[Path]:
    """Draws every plot the rows support into ``out_dir``; returns the files written."""
    plots = [
        accuracy_by_model(rows, out_dir / "accuracy_by_model.png"),
        accuracy_vs_params(rows, out_dir / "accuracy_vs_params.png"),
        accuracy_vs_fraction(rows, out_dir / "accuracy_vs_train_fraction.png"),
        step_cost_vs_length(rows, out_dir / "step_cost_vs_length.png"),
    ]
    return [plot for plot in plots if plot is not None]
