"""Input encoders shared by modalities whose elements are real-valued feature vectors."""

from __future__ import annotations

from torch import Tensor, nn

from framework.core.batch import VectorSet


class StandardizedProjection(nn.Module):
    """Standardises each feature with training-set statistics, then projects it to ``dim``.

    Args:
        mean: per-feature mean over the training elements.
        std: per-feature standard deviation (clamped away from zero).
        dim: output width.

    Shapes:
        mean, std: ``[F]``
    """

    def __init__(self, mean: Tensor, std: Tensor, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std.clamp_min(1e-6))
        self.proj = nn.Linear(mean.numel(), dim)

    @classmethod
    def fit(cls, features: Tensor, dim: int) -> StandardizedProjection:
        """Statistics from ``features``, the training elements (real ones only).

        Shapes:
            features: ``[..., F]``
        """
        flat = features.reshape(-1, features.shape[-1]).float()  # [*, F]
        return cls(flat.mean(dim=0), flat.std(dim=0), dim)

    def forward(self, batch: VectorSet) -> Tensor:
        """The standardised features of ``batch``, projected.

        Shapes:
            batch.x: ``[B, N, F]``
            output: ``[B, N, dim]``
        """
        return self.proj((batch.x - self.mean) / self.std)
