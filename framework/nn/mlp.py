"""The hidden stack of a fully connected network, shared by the models that apply one to each element."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn


def hidden_layers(
    width_in: int, hidden: int, layers: int, activation: Callable[[], nn.Module], dropout: float
) -> list[nn.Module]:
    """``layers`` times ``Linear → activation → Dropout``, from ``width_in`` to ``hidden`` wide.

    A list, so a model can put its own output layer after it in one ``nn.Sequential``.

    Shapes:
        input: ``[..., width_in]``
        output: ``[..., hidden]``
    """
    widths = [width_in] + [hidden] * layers
    stack: list[nn.Module] = []
    for reads, writes in zip(widths, widths[1:]):
        stack += [nn.Linear(reads, writes), activation(), nn.Dropout(dropout)]
    return stack
