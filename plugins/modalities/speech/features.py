"""Log-mel filterbank frames (25 ms windows every 10 ms) and the energy rule that trims silence."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from plugins.modalities.speech.fsdd import SAMPLE_RATE

FRAME_MS, SHIFT_MS = 25, 10
FRAME = SAMPLE_RATE * FRAME_MS // 1000  # 200 samples
SHIFT = SAMPLE_RATE * SHIFT_MS // 1000  # 80 samples


def num_frames(samples: int) -> int:
    """Frames Kaldi-style framing (``snip_edges``) yields for ``samples`` samples."""
    return 0 if samples < FRAME else 1 + (samples - FRAME) // SHIFT


def log_mel(samples: np.ndarray, bands: int) -> Tensor:
    """``[frames, bands]`` log-mel filterbank energies of an 8 kHz signal (torchaudio's Kaldi-compatible fbank)."""
    from torchaudio.compliance.kaldi import fbank

    waveform = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)).unsqueeze(0)
    return fbank(
        waveform,
        sample_frequency=SAMPLE_RATE,
        num_mel_bins=bands,
        frame_length=FRAME_MS,
        frame_shift=SHIFT_MS,
        dither=0.0,
        energy_floor=0.0,
        snip_edges=True,
    )


def standardize(frames: Tensor) -> Tensor:
    """Per-utterance mean and variance normalisation of ``[frames, F]``."""
    return (frames - frames.mean(dim=0)) / frames.std(dim=0, unbiased=False).clamp_min(1e-5)


def speech_span(samples: np.ndarray, trim_db: float) -> tuple[int, int]:
    """Sample range ``[start, end)`` from the first to the last frame with energy within ``trim_db`` of the loudest."""
    frames = num_frames(len(samples))
    if frames == 0:
        return 0, len(samples)
    windows = np.lib.stride_tricks.sliding_window_view(samples, FRAME)[::SHIFT][:frames]
    energy_db = 10 * np.log10(np.mean(windows.astype(np.float64) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(energy_db >= energy_db.max() - trim_db)
    return int(loud[0]) * SHIFT, int(loud[-1]) * SHIFT + FRAME
