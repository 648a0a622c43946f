"""Matplotlib figures without pyplot: drawn on the Agg canvas, so no display is needed and nothing global changes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def new_figure(width: float, height: float) -> Figure:
    """A matplotlib figure of ``width × height`` inches on the Agg canvas, laid out by the constrained layout."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, path: Path, dpi: int = 110) -> Path:
    """Writes ``figure`` as a PNG to ``path`` and returns the path."""
    figure.savefig(path, dpi=dpi)
    return path
