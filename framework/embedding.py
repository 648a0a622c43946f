"""Input encoders shared by modalities whose elements are real-valued feature vectors."""

from __future__ import annotations

from torch import Tensor, nn

from framework.batch import VectorSet


class StandardizedProjection(nn.Module):
    """Standardises each feature with training-set statistics, then projects it to ``dim``.

    Args:
        mean: ``[F]`` per-feature mean over the training elements.
        std: ``[F]`` per-feature standard deviation (clamped away from zero).
        dim: output width.
    """

    def __init__(self, mean: Tensor, std: Tensor, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std.clamp_min(1e-6))
        self.proj = nn.Linear(mean.numel(), dim)

    @classmethod
    def fit(cls, features: Tensor, dim: int) -> StandardizedProjection:
        """Statistics from ``features`` ``[..., F]`` (the training elements, real ones only)."""
        flat = features.reshape(-1, features.shape[-1]).float()
        return cls(flat.mean(dim=0), flat.std(dim=0), dim)

    def forward(self, batch: VectorSet) -> Tensor:
        return self.proj((batch.x - self.mean) / self.std)
