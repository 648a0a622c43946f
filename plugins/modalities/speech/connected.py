"""Connected digits: recordings of one split joined with noisy silence, labelled frame by frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plugins.modalities.speech.features import FRAME, SHIFT, num_frames

SILENCE = 10
"""Frame label of the gaps between (and around) the digits."""


@dataclass(frozen=True)
class Utterance:
    """One connected-digit example: the signal and the label of every sample."""

    samples: np.ndarray
    sample_labels: np.ndarray

    def frame_labels(self) -> np.ndarray:
        """The label of each 25 ms frame: the label of the sample at its centre."""
        centres = np.arange(num_frames(len(self.samples))) * SHIFT + FRAME // 2
        return self.sample_labels[centres]


def connect(
    spoken: list[tuple[np.ndarray, int]],
    rng: np.random.Generator,
    min_gap_s: float,
    max_gap_s: float,
    noise: float,
    sample_rate: int,
) -> Utterance:
    """Joins the trimmed recordings ``spoken`` (samples, digit) with silent gaps of random length, then adds noise.

    Every gap (before, between and after the digits) lasts between ``min_gap_s`` and
    ``max_gap_s`` seconds; Gaussian background noise of standard deviation ``noise`` covers
    the whole signal, so silence is not simply zero.
    """
    pieces, labels = [], []

    def gap() -> None:
        length = int(rng.uniform(min_gap_s, max_gap_s) * sample_rate)
        pieces.append(np.zeros(length, dtype=np.float32))
        labels.append(np.full(length, SILENCE, dtype=np.int64))

    gap()
    for samples, digit in spoken:
        pieces.append(samples.astype(np.float32))
        labels.append(np.full(len(samples), digit, dtype=np.int64))
        gap()
    signal = np.concatenate(pieces)
    signal = signal + rng.normal(0.0, noise, size=len(signal)).astype(np.float32)
    return Utterance(signal, np.concatenate(labels))


def group_sizes(count: int, min_size: int, max_size: int, rng: np.random.Generator) -> list[int]:
    """Cuts ``count`` items into consecutive groups of ``min_size``..``max_size`` (the last may be smaller)."""
    sizes = []
    while count > 0:
        size = min(count, int(rng.integers(min_size, max_size + 1)))
        sizes.append(size)
        count -= size
    return sizes
