"""Attention maps: after training, pictures of what each attention layer attends to on a few validation sets.

Nothing is captured while training. At the end of fitting, each chosen validation set runs once
through the model with forward hooks that record every attention layer's input; the weights are
then recomputed from the layer's own projections by the dense reference
(:meth:`~framework.nn.attention.MultiHeadSelfAttention.attention_weights`), only for the query rows a
picture shows. Each modality draws its own picture (:meth:`~framework.core.modality.Modality.draw_attention`).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import WandbLogger
from torch import Tensor, nn

from framework.core.batch import VectorSet
from framework.core.errors import require
from framework.core.modality import Modality
from framework.core.sizes import physical_memory
from framework.nn.attention import MultiHeadSelfAttention

log = logging.getLogger(__name__)


@dataclass
class LayerInput:
    """What one attention layer received in a recorded forward pass."""

    layer: MultiHeadSelfAttention
    h: Tensor
    batch: VectorSet

    def weights(self, queries: Tensor | None = None) -> Tensor:
        """The weights ``[B, H, Q, N]`` the layer gives this input (all queries, or the positions ``queries``).

        Computed outside any autocast, in the dtype of the layer's parameters (a mixed-precision
        forward may have handed the layer a lower-precision input).
        """
        with torch.no_grad():
            return self.layer.attention_weights(self.h.to(self.layer.qkv.weight.dtype), self.batch, queries)


def attention_layers(model: nn.Module) -> list[MultiHeadSelfAttention]:
    """Every attention layer of ``model``, in module order."""
    return [module for module in model.modules() if isinstance(module, MultiHeadSelfAttention)]


def record_attention_inputs(model: nn.Module, forward: Callable[[], object]) -> list[LayerInput]:
    """Runs ``forward()`` once without gradients and returns what each attention layer of ``model`` received.

    The hooks are removed afterwards; a layer called more than once keeps its last call.
    """
    recorded: dict[int, LayerInput] = {}

    def record(index: int, layer: MultiHeadSelfAttention, args: tuple, kwargs: dict, output: Tensor) -> None:
        received = inspect.signature(layer.forward).bind(*args, **kwargs).arguments
        recorded[index] = LayerInput(layer, received["h"], received["batch"])

    handles = [
        layer.register_forward_hook(partial(record, index), with_kwargs=True)
        for index, layer in enumerate(attention_layers(model))
    ]
    try:
        with torch.no_grad():
            forward()
    finally:
        for handle in handles:
            handle.remove()
    return [recorded[index] for index in sorted(recorded)]


def mean_rows(recorded: LayerInput, elements: int, positions: Tensor) -> Tensor:
    """Head-averaged weights ``[Q, elements]`` of the set's elements at ``positions``, on the CPU.

    A model may put tokens of its own before the set's elements (a class token); their rows and
    columns are left out, so a row sums to 1 minus the weight those tokens receive.
    """
    extra = recorded.h.shape[1] - elements
    weights = recorded.weights(positions.to(recorded.h.device) + extra)[0].mean(dim=0)
    return weights[:, extra:].float().cpu()


class AttentionMaps(pl.Callback):
    """Draws the attention of the first ``examples`` validation sets, one picture per (set, layer), when fitting ends.

    PNGs go to ``dirpath/example<i>-layer<l>.png`` and, with a W&B logger, to its ``attention/layer<l>``
    images. A model without attention layers, or a modality that draws nothing, writes nothing.

    Args:
        dirpath: folder for the PNG files (created on the first picture).
        examples: validation sets drawn (fewer if the split has fewer; a graph is one set).
        queries: query elements shown by pictures of a few queries (image pixels, graph nodes).
        max_elements: most elements drawn along one axis (text words, speech frames, a node's neighbours).
        dpi: resolution of the PNG files.
    """

    def __init__(self, dirpath: str, examples: int, queries: int, max_elements: int, dpi: int) -> None:
        require(
            examples >= 1, "examples", examples, "must be 1 or more (callbacks.attention_maps=null turns the maps off)"
        )
        require(queries >= 1, "queries", queries, "must be 1 or more")
        require(max_elements >= 1, "max_elements", max_elements, "must be 1 or more")
        # a picture is at most about 20×20 inches: its RGBA pixels must fit in memory
        need = 4 * (20 * dpi) ** 2
        require(
            dpi >= 1 and need <= physical_memory(),
            "dpi",
            dpi,
            f"must be a positive integer whose pictures fit in memory (at {dpi} dpi one would need about "
            f"{need / 2**30:,.0f} GiB, this machine has {physical_memory() // 2**30} GiB)",
        )
        self.dirpath, self.examples, self.queries, self.max_elements, self.dpi = (
            Path(dirpath),
            examples,
            queries,
            max_elements,
            dpi,
        )

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero and attention_layers(pl_module):
            self.write(trainer, pl_module)

    def write(self, trainer: pl.Trainer, model: pl.LightningModule) -> list[Path]:
        """Draws and saves every picture (logging them to each W&B logger); returns the files written."""
        pictures: dict[int, list[tuple[Path, str]]] = {}  # layer number → (file, caption) per example
        was_training = model.training
        model.eval()
        try:
            for index in range(min(self.examples, len(trainer.datamodule.splits["val"]))):
                for number, path in self._draw_example(trainer, model, index):
                    pictures.setdefault(number, []).append((path, f"validation example {index}"))
        finally:
            model.train(was_training)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                for number, items in pictures.items():
                    logger.log_image(
                        f"attention/layer{number}", [str(path) for path, _ in items], caption=[c for _, c in items]
                    )
        written = [path for items in pictures.values() for path, _ in items]
        if written:
            log.info("%d attention maps in %s", len(written), self.dirpath)
        return written

    def _draw_example(self, trainer: pl.Trainer, model: pl.LightningModule, index: int) -> list[tuple[int, Path]]:
        modality: Modality = trainer.datamodule
        example = modality.example("val", index)
        precision = trainer.precision_plugin  # the forward runs in the dtype training used (e.g. bf16-true)
        model_input = precision.convert_input(example.to(model.device))

        def forward() -> None:
            with precision.forward_context():
                model(model_input)

        recorded = record_attention_inputs(model, forward)
        written = []
        for number, layer_input in enumerate(recorded, start=1):
            layer = layer_input.layer
            title = (
                f"{modality.name}: validation example {index}, layer {number} of {len(recorded)} "
                f"({layer.scope} attention, mean of {layer.heads} heads)"
            )
            rows = partial(mean_rows, layer_input, example.mask.shape[1])
            figure = modality.draw_attention(example, rows, title, self.queries, self.max_elements)
            if figure is None:
                continue
            path = self.dirpath / f"example{index}-layer{number}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            figure.savefig(path, dpi=self.dpi)
            written.append((number, path))
        return written
