"""Speech modality: spoken digits as sequences of log-mel frames (25 ms windows every 10 ms)."""

from __future__ import annotations

import functools
import hashlib
import io
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from framework import (
    AttentionRows,
    ConfigError,
    Layout,
    Modality,
    ModalitySpec,
    SequenceSets,
    Stale,
    StandardizedProjection,
    Target,
    VectorSet,
    band_edges,
    cached,
    one_of,
    require,
)
from plugins.modalities.speech import fsdd
from plugins.modalities.speech.connected import SILENCE, connect, group_sizes
from plugins.modalities.speech.draw import attention_figure
from plugins.modalities.speech.features import SHIFT_MS, log_mel, speech_span, standardize

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TASKS = ("frames", "utterance")
SPLITS = ("train", "val", "test")
Arrays = dict[str, Tensor]
"""One split's flat tensors: ``x`` ``[T, bands]``, ``y`` (per frame or per recording), ``lengths`` ``[M]``."""


class SpeechModality(Modality):
    """Spoken digits (FSDD, 8 kHz) as frame sequences, classified whole or labelled frame by frame.

    Args:
        dataset: ``fsdd`` (the Free Spoken Digit Dataset, official split; validation is
            recording index 5–9 of the training part).
        task: ``utterance`` (one digit per recording) or ``frames`` (connected digits: every
            frame labelled with its digit or silence).
        bands: mel bands per frame.
        normalise: ``utterance`` (each sequence to zero mean, unit variance) or ``global``
            (training-set statistics only, applied by the input encoder in both cases).
        trim_db: ``frames`` only: a recording's speech runs from its first to its last frame
            within this many dB of its loudest frame; the rest is trimmed as silence.
        min_digits, max_digits: ``frames`` only: recordings joined per example.
        min_gap_s, max_gap_s: ``frames`` only: length range of each silent gap.
        noise: ``frames`` only: standard deviation of the background noise (full scale = 1).
        max_frames: longest sequence accepted; also sizes learned position tables.
        data_seed: fixes how recordings are grouped into connected examples.
        attention_scope: the scope attending models use on speech (``window``, ``full`` or ``graph``).
        edge_window: the derived graph joins each frame to the frames within ``±edge_window``.
        **loader: see :class:`~framework.Modality`.
    """

    def __init__(
        self,
        name: str,
        dataset: str,
        task: str,
        bands: int,
        normalise: str,
        trim_db: float,
        min_digits: int,
        max_digits: int,
        min_gap_s: float,
        max_gap_s: float,
        noise: float,
        max_frames: int,
        data_seed: int,
        attention_scope: str,
        edge_window: int,
        **loader,
    ) -> None:
        super().__init__(name=name, **loader)
        one_of("dataset", dataset, ("fsdd",))
        one_of("task", task, TASKS)
        require(8 <= bands <= 128, "bands", bands, "must be between 8 and 128 (40 or 80 are usual)")
        one_of("normalise", normalise, ("utterance", "global"))
        require(trim_db > 0, "trim_db", trim_db, "must be a positive number of dB")
        require(
            1 <= min_digits <= max_digits, "min_digits", min_digits, f"must be between 1 and max_digits={max_digits}"
        )
        require(0 <= min_gap_s <= max_gap_s, "min_gap_s", min_gap_s, f"must be between 0 and max_gap_s={max_gap_s}")
        require(noise >= 0, "noise", noise, "must be 0 or more")
        require(max_frames > 0, "max_frames", max_frames, "must be a positive integer")
        require(edge_window >= 1, "edge_window", edge_window, "must be 1 or more (frames on each side)")
        self.dataset, self.task, self.bands, self.normalise, self.trim_db = dataset, task, bands, normalise, trim_db
        self.min_digits, self.max_digits, self.min_gap_s, self.max_gap_s = min_digits, max_digits, min_gap_s, max_gap_s
        self.noise, self.max_frames, self.data_seed, self.attention_scope = (
            noise,
            max_frames,
            data_seed,
            attention_scope,
        )
        self.edge_window = edge_window

    @property
    def spec(self) -> ModalitySpec:
        frames = self.task == "frames"
        return ModalitySpec(
            name=self.name,
            dataset=self.dataset,
            layout=Layout.SEQUENCE,
            target=Target.ELEMENT if frames else Target.SET,
            num_classes=SILENCE + 1 if frames else 10,
            scopes=("full", "window", "graph"),
            max_positions=self.max_frames,
            has_edges=True,
            element="frame",
            class_names=(*map(str, range(SILENCE)), "silence") if frames else (),
        )

    def prepare_data(self) -> None:
        fsdd.recordings(self.data_dir)

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        arrays = self._cached_arrays()
        longest = max(int(a["lengths"].max()) for a in arrays.values())
        if longest > self.max_frames:
            raise ConfigError(
                "max_frames", self.max_frames, f"is shorter than the longest sequence ({longest} frames); raise it"
            )
        target = self.spec.target
        self.splits = {split: SequenceSets(a["x"], a["lengths"], a["y"], target) for split, a in arrays.items()}

    @functools.cached_property
    def recording_names(self) -> dict[str, list[str]]:
        """Each split's recordings by file name, in the order their features were computed (one set each)."""
        every = fsdd.recordings(self.data_dir)
        return {split: [r.path.name for r in every if r.split == split] for split in SPLITS}

    def describe(self, split: str, index: int) -> dict[str, Any]:
        """Utterances: the recording's file name; connected digits: the time (seconds) at which each frame starts."""
        if self.task == "utterance":
            return {"recording": self.recording_names[split][index]}
        frames = int(self.splits[split].lengths[index])
        return {"time_s": [round(frame * SHIFT_MS / 1000, 3) for frame in range(frames)]}

    def edges(self, batch: VectorSet) -> Tensor:
        """Each frame joined to the frames within ``±edge_window`` (the band the window scope attends over)."""
        return band_edges(batch.mask, self.edge_window)

    def input_encoder(self, dim: int) -> nn.Module:
        return StandardizedProjection.fit(self.splits["train"].x, dim)

    def draw_attention(
        self, example: VectorSet, rows: AttentionRows, title: str, queries: int, max_elements: int
    ) -> Figure:
        """The frames × frames weight matrix of the example's first ``max_elements`` frames, both axes in seconds."""
        length = int(example.mask[0].sum())
        shown = min(length, max_elements)
        return attention_figure(rows(torch.arange(shown))[:, :shown], length, SHIFT_MS, title)

    def _settings(self, recordings: list[fsdd.Recording]) -> dict:
        """Everything the features depend on, including which files (and sizes) they come from."""
        settings = {"task": self.task, "bands": self.bands, "normalise": self.normalise}
        if self.task == "frames":
            settings |= {
                "trim_db": self.trim_db,
                "digits": [self.min_digits, self.max_digits],
                "gap_s": [self.min_gap_s, self.max_gap_s],
                "noise": self.noise,
                "data_seed": self.data_seed,
            }
        settings["files"] = hashlib.sha256(
            "".join(f"{r.path.name}:{r.path.stat().st_size};" for r in recordings).encode()
        ).hexdigest()
        return settings

    def _cached_arrays(self) -> dict[str, Arrays]:
        """Features from ``cache_dir`` when they were computed with these settings; computed (and cached) otherwise.

        The file is named by a hash of the settings, which are also stored inside and compared; a
        file that does not load, or whose tensors do not fit together, is recomputed.
        """
        recordings = fsdd.recordings(self.data_dir)
        settings = json.dumps(self._settings(recordings), sort_keys=True)
        path = self.cache_dir / fsdd.FOLDER / f"{self.task}-{hashlib.sha256(settings.encode()).hexdigest()[:16]}.pt"

        def encode(splits: dict[str, Arrays]) -> bytes:
            buffer = io.BytesIO()
            torch.save({"settings": settings, "splits": splits}, buffer)
            return buffer.getvalue()

        def decode(data: bytes) -> dict[str, Arrays]:
            cache = torch.load(io.BytesIO(data), weights_only=True)
            if cache["settings"] != settings:
                raise Stale(f"computed with {cache['settings']}")
            splits = cache["splits"]
            self._check_arrays(splits)
            return splits

        return cached(path, lambda: self._compute(recordings), encode, decode)

    def _check_arrays(self, splits: dict[str, Arrays]) -> None:
        """Raises ValueError unless ``splits`` holds every split's features, labels and lengths, fitting together."""
        if sorted(splits) != sorted(SPLITS):
            raise ValueError(f"splits {sorted(splits)}, expected {sorted(SPLITS)}")
        for split, a in splits.items():
            x, y, lengths = a["x"], a["y"], a["lengths"]
            labelled = len(x) if self.task == "frames" else len(lengths)
            if (
                x.ndim != 2
                or x.shape[1] != self.bands
                or len(lengths) == 0
                or int(lengths.sum()) != len(x)
                or len(y) != labelled
            ):
                raise ValueError(f"the {split} split's features, labels and lengths do not fit together")

    def _compute(self, recordings: list[fsdd.Recording]) -> dict[str, Arrays]:
        by_split = {split: [r for r in recordings if r.split == split] for split in SPLITS}
        compute = self._utterances if self.task == "utterance" else self._connected
        return {split: compute(split, items) for split, items in by_split.items()}

    def _frames(self, samples: np.ndarray) -> Tensor:
        frames = log_mel(samples, self.bands)
        return standardize(frames) if self.normalise == "utterance" else frames

    def _utterances(self, split: str, items: list[fsdd.Recording]) -> Arrays:
        frames = [self._frames(fsdd.read_wav(r.path)) for r in items]
        return {
            "x": torch.cat(frames),
            "y": torch.tensor([r.digit for r in items]),
            "lengths": torch.tensor([len(f) for f in frames]),
        }

    def _connected(self, split: str, items: list[fsdd.Recording]) -> Arrays:
        rng = np.random.default_rng([self.data_seed, SPLITS.index(split)])
        order = rng.permutation(len(items))
        trimmed = []
        for i in order:
            samples = fsdd.read_wav(items[i].path)
            start, end = speech_span(samples, self.trim_db)
            trimmed.append((samples[start:end], items[i].digit))
        xs, ys = [], []
        offset = 0
        for size in group_sizes(len(trimmed), self.min_digits, self.max_digits, rng):
            utterance = connect(
                trimmed[offset : offset + size], rng, self.min_gap_s, self.max_gap_s, self.noise, fsdd.SAMPLE_RATE
            )
            offset += size
            xs.append(self._frames(utterance.samples))
            ys.append(torch.from_numpy(utterance.frame_labels()))
        return {"x": torch.cat(xs), "y": torch.cat(ys), "lengths": torch.tensor([len(x) for x in xs])}
