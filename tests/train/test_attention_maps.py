"""Attention maps: the weights drawn are those each layer uses, and every modality draws its picture after training."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.image import imread

from framework.core.batch import IGNORE_INDEX, VectorSet
from framework.core.errors import ConfigError
from framework.core.spec import Layout, ModalitySpec, Target
from framework.nn.attention import MultiHeadSelfAttention
from framework.nn.edges import band_edges
from framework.train.attention_maps import attention_layers, record_attention_inputs
from framework.train.build import build_parts
from framework.train.run import run
from framework.viz.figures import new_figure
from plugins.modalities.graph.modality import first_of_each_class
from plugins.modalities.text import ambiguity
from plugins.models.attn import AttentionEncoder

SCOPES = ("full", "window", "graph")
SEQUENCE = ModalitySpec(
    "toy", "toy", Layout.SEQUENCE, Target.ELEMENT, 5, scopes=SCOPES, max_positions=40, has_edges=True
)
DIM, HEADS, WINDOW = 16, 4, 3


def padded_batch(lengths: tuple[int, ...] = (40, 33, 7)) -> VectorSet:
    """Several window blocks, padding, and a band graph (so every scope has something to restrict)."""
    mask = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    return VectorSet(
        x=torch.randn(len(lengths), max(lengths), DIM),
        mask=mask,
        y=torch.zeros(len(lengths), dtype=torch.long),
        edge_index=band_edges(mask, 2),
    )


def softmax_rows(elements: int):
    """A stand-in for a layer's weights: fixed random rows that sum to 1, ``positions [Q]`` → ``[Q, elements]``."""
    weights = torch.softmax(torch.randn(elements, elements, generator=torch.Generator().manual_seed(0)), dim=-1)
    return lambda positions: weights[positions]


def modality_from(make_config, *overrides: str):
    return build_parts(make_config(*overrides)).modality


# --- the weights ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", SCOPES)
def test_the_weights_times_the_values_are_each_layers_output_before_its_out_projection(scope):
    torch.manual_seed(0)
    encoder = AttentionEncoder(
        SEQUENCE,
        dim=DIM,
        layers=2,
        heads=HEADS,
        ff_mult=2,
        dropout=0.0,
        attention_dropout=0.0,
        scope=scope,
        window=WINDOW,
        residual=True,
        pool="mean",
    ).eval()
    batch = padded_batch()
    before_out = []
    handles = [
        layer.out.register_forward_hook(lambda module, args, out: before_out.append(args[0]))
        for layer in attention_layers(encoder)
    ]
    recorded = record_attention_inputs(encoder, lambda: encoder(batch.x, batch))
    for handle in handles:
        handle.remove()
    assert len(recorded) == len(before_out) == 2
    for layer_input, concatenated_heads in zip(recorded, before_out):
        values = layer_input.layer.project(layer_input.h)[2]
        mixed = (layer_input.weights() @ values).transpose(1, 2).flatten(2)  # [B, N, D], heads side by side
        torch.testing.assert_close(mixed[batch.mask], concatenated_heads[batch.mask], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("scope", SCOPES)
def test_weights_of_chosen_queries_are_those_rows_of_the_whole_matrix(scope):
    torch.manual_seed(0)
    layer = MultiHeadSelfAttention(DIM, HEADS, scope=scope, window=WINDOW).eval()
    batch = padded_batch()
    queries = torch.tensor([20, 0, 6, 39])
    with torch.no_grad():
        torch.testing.assert_close(
            layer.attention_weights(batch.x, batch, queries), layer.attention_weights(batch.x, batch)[:, :, queries]
        )


def test_window_weights_stay_in_the_band_skip_padding_and_sum_to_one():
    torch.manual_seed(0)
    layer = MultiHeadSelfAttention(DIM, HEADS, scope="window", window=WINDOW).eval()
    batch = padded_batch()
    with torch.no_grad():
        weights = layer.attention_weights(batch.x, batch)
    positions = torch.arange(batch.mask.shape[1])
    outside = ((positions[:, None] - positions[None, :]).abs() > WINDOW) | ~batch.mask[:, None, None, :]
    real_queries = batch.mask[:, None, :, None]
    assert torch.all(weights.masked_select(outside & real_queries) == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones_like(weights.sum(-1)))


# --- the pictures, modality by modality ------------------------------------------------------------


def test_pictures_are_drawn_on_the_agg_canvas_without_a_display():
    assert isinstance(new_figure(2, 2).canvas, FigureCanvasAgg)


def test_image_maps_show_the_image_beside_each_query_pixels_weights_on_the_grid(make_config):
    image = modality_from(make_config, "modality=image")
    image.setup()
    example = image.example("val", 0)
    rows = softmax_rows(64)
    figure = image.draw_attention(example, rows, "digits", queries=2, max_elements=200)
    picture, centre, corner = (ax.images[0].get_array() for ax in figure.axes[:3])
    assert picture.tolist() == (example.x[0, :, 0] / example.x.max()).view(8, 8).tolist()
    assert centre.tolist() == rows(torch.tensor([4 * 8 + 4]))[0].view(8, 8).tolist()
    assert corner.tolist() == rows(torch.tensor([0]))[0].view(8, 8).tolist()


def test_text_maps_label_both_axes_with_the_words_of_the_sentence(make_config):
    text = modality_from(make_config, "modality=text", "modality.dataset=ambiguity", "modality.sentences=40")
    text.setup()
    example = text.example("val", 0)
    words = list(
        ambiguity.generate(distance=3, max_clauses=3, sizes={"train": 40, "val": 10, "test": 10}, seed=0)["val"][
            0
        ].words
    )
    figure = text.draw_attention(example, softmax_rows(len(words)), "ambiguity", queries=4, max_elements=200)
    axes = figure.axes[0]
    assert [label.get_text() for label in axes.get_xticklabels()] == words
    assert [label.get_text() for label in axes.get_yticklabels()] == words


def test_speech_maps_draw_at_most_max_elements_frames_with_both_axes_in_seconds(make_config):
    speech = modality_from(make_config, "modality=speech")  # drawing needs no recordings: the example is given
    example = VectorSet(
        x=torch.zeros(1, 300, 40), mask=torch.ones(1, 300, dtype=torch.bool), y=torch.zeros(1, 300, dtype=torch.long)
    )
    figure = speech.draw_attention(example, softmax_rows(300), "frames", queries=4, max_elements=200)
    matrix = figure.axes[0].images[0]
    assert matrix.get_array().shape == (200, 200)
    assert matrix.get_extent() == pytest.approx([0, 2.0, 2.0, 0])
    assert "the first 200 of 300 frames" in figure.get_suptitle()


def test_graph_maps_give_each_chosen_node_a_bar_per_neighbour_labelled_with_its_id_and_class(make_config):
    graph = modality_from(make_config, "modality=graph", "modality.dataset=sbm")
    graph.setup()
    example = graph.example("val", 0)
    node = int(first_of_each_class(example.y[0])[0])
    source, target = example.edge_index
    neighbours = source[target == node].tolist()
    figure = graph.draw_attention(example, softmax_rows(example.mask.shape[1]), "sbm", queries=2, max_elements=200)
    labels = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    assert len(figure.axes) == 2 and len(figure.axes[0].patches) == 1 + len(neighbours)
    assert sorted(labels) == sorted(
        [f"itself {node} ({int(graph.classes[node])})", *(f"{k} ({int(graph.classes[k])})" for k in neighbours)]
    )


def test_graph_maps_take_the_labelled_nodes_in_turns_over_the_classes():
    labels = torch.tensor([IGNORE_INDEX, 2, 2, 0, 1, 0, IGNORE_INDEX])
    assert first_of_each_class(labels).tolist() == [3, 4, 1, 5, 2]


# --- end to end -----------------------------------------------------------------------------------

RUNS = {
    "image": ("modality=image",),
    "text": ("modality=text", "modality.dataset=ambiguity", "modality.sentences=40"),
    "graph": ("modality=graph", "modality.dataset=sbm"),
    "speech": ("modality=speech",),
}


@pytest.mark.parametrize("modality", RUNS)
def test_a_debug_run_of_attention_writes_one_png_per_example_and_layer(make_config, modality):
    cfg = make_config(*RUNS[modality], "model=attn", "model.layers=2", "callbacks.attention_maps.examples=2")
    run(cfg)
    pictures = sorted((Path(cfg.output_dir) / "attention").iterdir())
    examples = 1 if modality == "graph" else 2  # the graph is one set
    assert [path.name for path in pictures] == sorted(
        f"example{i}-layer{layer}.png" for i in range(examples) for layer in (1, 2)
    )
    dpi = cfg.callbacks.attention_maps.dpi
    for path in pictures:
        image = imread(path)  # a PNG: RGBA floats
        assert image.shape[2] == 4 and all(2 * dpi <= side <= 17 * dpi for side in image.shape[:2])
        assert image[..., :3].std() > 0


def test_a_model_without_attention_layers_writes_no_maps(make_config):
    cfg = make_config("modality=image", "model=cnn")
    run(cfg)
    assert not (Path(cfg.output_dir) / "attention").exists()


def test_a_bad_attention_maps_value_is_a_config_error_naming_its_key(make_config):
    with pytest.raises(ConfigError, match=r"callbacks\.attention_maps\.examples=0: must be 1 or more"):
        run(make_config("callbacks.attention_maps.examples=0"))


def test_with_a_wandb_logger_the_maps_are_also_logged_as_wandb_images(make_config):
    cfg = make_config(
        "model=attn",
        "model.layers=1",
        "callbacks.attention_maps.examples=2",
        "logger=wandb",
        "trainer=default",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=1",
        "+trainer.limit_val_batches=1",
        "+trainer.limit_test_batches=1",
        "trainer.log_every_n_steps=1",
    )
    run(cfg)
    (offline_run,) = (Path(cfg.output_dir) / "wandb").glob("offline-run-*")
    assert len(list((offline_run / "files" / "media" / "images" / "attention").glob("layer1_*.png"))) == 2
