"""Pictures of attention on text: the words × words weight matrix of a sentence, the words on both axes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from framework import matrix_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from torch import Tensor


def attention_figure(weights: Tensor, words: list[str], length: int, title: str) -> Figure:
    """The matrix of ``weights`` with ``words`` on both axes; the title says when the sentence is cut.

    Args:
        weights: the attention of each shown word (down) over the shown words (across).
        words: the shown words, the sentence's first ``S``.
        length: the whole sentence's length in words.
        title: the figure's title.

    Shapes:
        weights: ``[S, S]``
    """
    shown = len(words)
    if shown < length:
        title += f"\n(the first {shown} of {length} words)"
    side = min(3.5 + 0.18 * shown, 16)
    figure, axes = matrix_figure(weights, title, (side + 1, side), "attended word", "word")
    fontsize = max(4, 9 - shown // 20)
    axes.set_xticks(range(shown), words, rotation=90, fontsize=fontsize)
    axes.set_yticks(range(shown), words, fontsize=fontsize)
    return figure
