"""Checks a run can record in ``results.json`` (under ``checks``): properties of the trained model, measured."""

from __future__ import annotations

import ctypes
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor

from framework.core.batch import VectorSet
from framework.core.errors import require
from framework.core.spec import Target


def shuffle_within_sets(mask: Tensor, generator: torch.Generator) -> Tensor:
    """``[B, N]`` indices that shuffle each set's real elements among themselves and leave padding in place."""
    index = torch.arange(mask.shape[1], device=mask.device).repeat(mask.shape[0], 1)
    for b in range(mask.shape[0]):
        real = mask[b].nonzero().squeeze(1)
        index[b, real] = real[torch.randperm(len(real), generator=generator).to(mask.device)]
    return index


def permuted_inputs(batch: VectorSet, index: Tensor) -> VectorSet:
    """The batch with each set's input vectors moved by ``index``; positions, mask and grid stay where they are."""
    expanded = index.view(*index.shape, *([1] * (batch.x.dim() - 2))).expand_as(batch.x)
    return replace(batch, x=batch.x.gather(1, expanded))


class PermutationCheck(pl.Callback):
    """After training, shuffles the elements of a few validation sets and compares the model's outputs.

    Self-attention without position vectors is permutation-equivariant: the per-element outputs
    move with the shuffle and a per-set output does not change. Position vectors (kept in place
    while the inputs move) break that. Records ``permutation_equivariant`` and the largest
    deviation from equivariance, relative to the largest output.

    Args:
        sets: validation sets checked.
        tolerance: relative deviation still counted as equivariant (float rounding).
        seed: seeds the shuffles.
    """

    def __init__(self, sets: int = 8, tolerance: float = 1e-4, seed: int = 0) -> None:
        require(sets > 0, "sets", sets, "must be a positive integer")
        require(tolerance > 0, "tolerance", tolerance, "must be positive")
        self.sets, self.tolerance, self.seed = sets, tolerance, seed
        self.outcome: dict[str, Any] = {}

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        batch: VectorSet = next(iter(trainer.datamodule.val_dataloader()))
        if batch.edge_index is not None:  # edges name elements by index; a shuffle would have to relabel them
            self.outcome = {"permutation_equivariant": None}
            return
        keep = slice(0, self.sets)
        batch = replace(
            batch,
            x=batch.x[keep],
            mask=batch.mask[keep],
            y=batch.y[keep],
            pos=None if batch.pos is None else batch.pos[keep],
            subsets=None if batch.subsets is None else batch.subsets[keep],
        ).to(pl_module.device)
        index = shuffle_within_sets(batch.mask, torch.Generator().manual_seed(self.seed))
        was_training = pl_module.training
        pl_module.eval()
        with torch.no_grad():
            out, shuffled = pl_module(batch).float(), pl_module(permuted_inputs(batch, index)).float()
        pl_module.train(was_training)
        if pl_module.spec.target is Target.ELEMENT:
            expected = out.gather(1, index.unsqueeze(-1).expand_as(out))
            deviation = ((shuffled - expected).abs().amax(-1) * batch.mask).amax()
        else:
            deviation = (shuffled - out).abs().amax()
        relative = float(deviation / out.abs().amax().clamp_min(1e-12))
        self.outcome = {"permutation_equivariant": relative <= self.tolerance, "permutation_deviation": relative}

    def checks(self) -> dict[str, Any]:
        """What this check found, for ``results.json``."""
        return self.outcome


def _process_memory_mb(field: str) -> float | None:
    """A memory line of ``/proc/self/status`` (``VmRSS``, ``VmHWM``) in MB; None where there is no such file."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    return int(next(line for line in status.splitlines() if line.startswith(f"{field}:")).split()[1]) / 1024


def peak_memory_mb(device: torch.device) -> float | None:
    """Peak memory since the last :func:`reset_peak_memory`: CUDA allocations, or the peak RSS on CPU (Linux)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return _process_memory_mb("VmHWM")


def reset_peak_memory(device: torch.device) -> None:
    """Starts a new peak: CUDA's allocator statistics, or the kernel's peak-RSS mark (``clear_refs`` 5).

    On CPU, glibc first returns the freed heap to the system (``malloc_trim``): memory that the
    previous steps freed but malloc kept would otherwise absorb the next step's allocations, and
    its peak would read as zero.
    """
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the peak may then be under-read
        pass
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def resident_mb(device: torch.device) -> float | None:
    """Memory in use now (the baseline a step's peak is measured from)."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device) / 2**20
    return _process_memory_mb("VmRSS")


def tiled_set(template: VectorSet, length: int, copies: int) -> VectorSet:
    """``copies`` sets of ``length`` elements made by repeating ``template``'s first set cyclically (sequences only)."""
    real = int(template.mask[0].sum())
    index = torch.arange(length, device=template.x.device) % real

    def tile(t: Tensor) -> Tensor:
        return t[0, index].unsqueeze(0).expand(copies, *t[0, index].shape).contiguous()

    y = tile(template.y) if template.y.dim() == 2 else template.y[:1].expand(copies).contiguous()
    pos = torch.arange(length, device=template.x.device).expand(copies, length).contiguous()
    mask = torch.ones(copies, length, dtype=torch.bool, device=template.x.device)
    return VectorSet(x=tile(template.x), mask=mask, y=y, pos=pos)


class ScalingProbe(pl.Callback):
    """After training, times one training step (forward + backward) as the sequence grows, with its peak memory.

    Sets of each length are built by repeating a validation sequence, so every model sees the same
    data; each length is timed ``repeats`` times after a warm-up (median). Lengths stop growing
    once a step takes longer than ``max_step_s`` or four times its peak would pass ``max_memory_mb``
    (a quadratic model doubles its length at four times the memory). Sequence modalities only.

    Args:
        lengths: sequence lengths to time, ascending.
        copies: sets per step.
        repeats: timed steps per length.
        max_step_s: stop growing after a step this slow.
        max_memory_mb: stop growing before a step could need this much.
        threads: on CPU, also time each length with each of these thread counts (``step_s_by_threads``):
            how much a model gains from more cores at one sequence is how parallel its computation is.
    """

    unbounded = ("max_step_s", "max_memory_mb")
    """Options that may be ``inf``: no limit (the config check refuses infinities elsewhere)."""

    def __init__(
        self,
        lengths: list[int],
        copies: int = 1,
        repeats: int = 3,
        max_step_s: float = 20.0,
        max_memory_mb: float = 8192.0,
        threads: list[int] | None = None,
    ) -> None:
        require(
            len(lengths) > 0 and all(n > 0 for n in lengths), "lengths", lengths, "must be positive sequence lengths"
        )
        require(copies > 0 and repeats > 0, "repeats", repeats, "copies and repeats must be positive")
        require(threads is None or all(t > 0 for t in threads), "threads", threads, "must be positive thread counts")
        require(max_step_s > 0, "max_step_s", max_step_s, "must be positive seconds (inf: no limit)")
        require(max_memory_mb > 0, "max_memory_mb", max_memory_mb, "must be positive megabytes (inf: no limit)")
        self.lengths, self.copies, self.repeats = sorted(lengths), copies, repeats
        self.max_step_s, self.max_memory_mb = max_step_s, max_memory_mb
        self.threads = list(threads or [])
        self.outcome: dict[str, Any] = {}

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        template: VectorSet = next(iter(trainer.datamodule.val_dataloader())).to(pl_module.device)
        if template.pos is None or template.pos.dim() != 2 or template.edge_index is not None:
            self.outcome = {"scaling": None}
            return
        device, measured = pl_module.device, []
        for length in self.lengths:
            if length > pl_module.spec.max_positions:
                break
            batch = tiled_set(template, length, self.copies)
            self._step(pl_module, batch)  # warm-up
            reset_peak_memory(device)
            baseline = resident_mb(device)
            seconds = self._median_step(pl_module, batch)
            peak = peak_memory_mb(device)
            extra = None if peak is None or baseline is None else round(peak - baseline, 1)
            point = {
                "length": length,
                "step_s": round(seconds, 5),
                "elements_per_s": round(length * self.copies / seconds, 1),
                "peak_extra_mb": extra,
            }
            if self.threads and device.type == "cpu":
                point["step_s_by_threads"] = {
                    str(count): self._threaded(count, pl_module, batch) for count in self.threads
                }
            measured.append(point)
            if seconds > self.max_step_s or (extra is not None and 4 * extra > self.max_memory_mb):
                break
        pl_module.zero_grad(set_to_none=True)
        self.outcome = {"scaling": measured}

    def _median_step(self, pl_module: pl.LightningModule, batch: VectorSet) -> float:
        """The median of ``repeats`` timed steps."""
        return statistics.median(self._step(pl_module, batch) for _ in range(self.repeats))

    def _threaded(self, count: int, pl_module: pl.LightningModule, batch: VectorSet) -> float:
        """The median step with ``count`` CPU threads (after a warm-up with them), in seconds."""
        before = torch.get_num_threads()
        torch.set_num_threads(count)
        try:
            self._step(pl_module, batch)
            return round(self._median_step(pl_module, batch), 5)
        finally:
            torch.set_num_threads(before)

    @staticmethod
    def _step(pl_module: pl.LightningModule, batch: VectorSet) -> float:
        """Seconds for one forward and backward pass (gradients are discarded; no optimizer step)."""
        if batch.x.is_cuda:
            torch.cuda.synchronize()
        started = time.perf_counter()
        logits = pl_module(batch)
        labels = batch.y if logits.dim() == 2 else batch.y.flatten()
        F.cross_entropy(logits.flatten(0, -2) if logits.dim() == 3 else logits, labels.clamp_min(0)).backward()
        if batch.x.is_cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - started

    def checks(self) -> dict[str, Any]:
        """The measured steps, for ``results.json``."""
        return self.outcome
