"""The interface every model plugin implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import replace
from typing import Any, ClassVar

from torch import Tensor, nn

from framework.core.batch import VectorSet
from framework.core.errors import one_of
from framework.core.spec import ModalitySpec, ModelRequirement

INPUTS = ("shared", "raw")
"""Values of a model's ``inputs`` option: the modality's shared encoding to ``dim``, or its raw features."""
OUTPUTS = ("vector", "classes")
"""Values of a model's ``output`` option: ``dim`` values per element (then the run's head), or the class scores."""


def masked_mean(h: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``h`` ``[B, N, D]`` over the real elements of each set → ``[B, D]``."""
    weights = mask.unsqueeze(-1).to(h.dtype)
    return (h * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


class Encoder(nn.Module, ABC):
    """A model family: maps embedded vector sets ``[B, N, D]`` to contextual vectors ``[B, N, D]``.

    A subclass declares what it needs in :attr:`requires` (checked against the modality before
    it is built or any data loads) and which of its config values is its width in
    :attr:`width_key`, and is then constructed with the modality's ``spec`` plus its own config
    values. Outputs at real elements must not depend on padded elements.

    Args:
        spec: the modality this encoder is built for (layout, classes, sizes).
        dim: width ``D`` of the vectors it consumes and produces.
    """

    requires: ClassVar[ModelRequirement]
    width_key: ClassVar[str]
    """The config key that sets this family's width; ``model.param_budget`` scales it."""
    classifies: bool = False
    """Whether the outputs are already class scores (width ``spec.num_classes``), so the run adds no head."""

    def __init__(self, spec: ModalitySpec, dim: int) -> None:
        super().__init__()
        self.spec, self.dim = spec, dim

    @classmethod
    def requirement(cls, **options: Any) -> ModelRequirement:
        """What this model needs with ``options``: :attr:`requires`, and raw inputs for ``inputs=raw``."""
        return replace(cls.requires, raw_inputs=cls.requires.raw_inputs or options.get("inputs") == "raw")

    def end_widths(self, inputs: str, output: str) -> tuple[int, int]:
        """The widths the first layer reads and the last layer writes, for the ``inputs`` and ``output`` options.

        ``inputs``: ``shared`` (``dim``) or ``raw`` (``spec.raw_features``); ``output``: ``vector``
        (``dim``) or ``classes`` (``spec.num_classes``, and the model then :attr:`classifies`).
        """
        one_of("inputs", inputs, INPUTS)
        one_of("output", output, OUTPUTS)
        self.classifies = output == "classes"
        return (
            self.spec.raw_features if inputs == "raw" else self.dim,
            self.spec.num_classes if self.classifies else self.dim,
        )

    @abstractmethod
    def forward(self, h: Tensor, batch: VectorSet) -> Tensor:
        """Per-element outputs for inputs ``h``.

        Shapes:
            h: ``[B, N, D]``, or ``[B, N, F]`` for a model that reads raw features
            output: ``[B, N, D]``, or ``[B, N, C]`` for a model that classifies
        """

    def forward_set(self, h: Tensor, batch: VectorSet) -> Tensor:
        """One vector per set ``[B, D]``; the mean over real elements unless a model overrides it."""
        return masked_mean(self(h, batch), batch.mask)
