"""Pictures of attention on speech: the frames × frames weight matrix, both axes in seconds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from framework import matrix_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from torch import Tensor


def attention_figure(weights: Tensor, length: int, shift_ms: float, title: str) -> Figure:
    """The matrix of ``weights`` over the first ``S`` frames, both axes in seconds; the title says when it is cut.

    Args:
        weights: the attention of each shown frame (down) over the shown frames (across).
        length: the whole example's length in frames.
        shift_ms: milliseconds between the starts of consecutive frames (frame ``i`` starts at ``i · shift_ms``).
        title: the figure's title.

    Shapes:
        weights: ``[S, S]``
    """
    shown = len(weights)
    if shown < length:
        title += f"\n(the first {shown} of {length} frames)"
    seconds = shown * shift_ms / 1000
    figure, _ = matrix_figure(
        weights, title, (7, 6), "attended frame (s)", "frame (s)", extent=(0, seconds, seconds, 0)
    )
    return figure
