"""The graph modality, the sparse graph attention scope, derived edges and the GNN baseline."""

from __future__ import annotations

import shutil

import pytest
import torch
from conftest import DATA_DIR
from torch_geometric.io import read_planetoid_data

from framework.core.batch import VectorSet
from framework.core.errors import ConfigError, DataError
from framework.nn.attention import attend, reference_attention
from framework.nn.edges import band_edges, grid_edges, normalize_edges
from framework.train.run import run
from plugins.modalities.graph import planetoid
from plugins.modalities.graph.modality import checked
from plugins.modalities.graph.sbm import generate

SBM = dict(blocks=3, block_size=40, p_in=0.2, p_out=0.02, features=8, signal=0.3, train_per_class=5, val_fraction=0.3)


def as_pairs(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return set(map(tuple, edge_index.t().tolist()))


# --- the graph scope ---------------------------------------------------------------------------


def random_graph_batch(lengths: list[int], edges_per_node: int, seed: int = 0) -> VectorSet:
    """Random directed edges inside each set, self-loops and repeats removed; a few nodes stay isolated."""
    generator = torch.Generator().manual_seed(seed)
    n = max(lengths)
    mask = torch.arange(n)[None, :] < torch.tensor(lengths)[:, None]
    pairs = []
    for b, length in enumerate(lengths):
        linked = max(length - 2, 1)  # the last two nodes of each set get no edge at all
        pairs.append(torch.randint(0, linked, (2, edges_per_node * length), generator=generator) + b * n)
    edge_index = normalize_edges(torch.cat(pairs, dim=1), len(lengths) * n)
    return VectorSet(
        x=torch.zeros(len(lengths), n, 1), mask=mask, y=torch.zeros(len(lengths), n), edge_index=edge_index
    )


@pytest.mark.parametrize("lengths", [[9, 9], [9, 5, 3]], ids=["no_padding", "padding"])
def test_graph_scope_equals_dense_masked_reference_attention_with_gradients(lengths):
    batch = random_graph_batch(lengths, edges_per_node=2)
    torch.manual_seed(0)
    q, k, v = (torch.randn(len(lengths), 2, max(lengths), 4, dtype=torch.float64, requires_grad=True) for _ in range(3))
    ours = attend(q, k, v, batch, scope="graph")
    expected = reference_attention(q, k, v, batch.mask, edge_index=batch.edge_index)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)
    weights = torch.randn_like(ours)
    grads = torch.autograd.grad((ours * weights).sum(), (q, k, v))
    expected_grads = torch.autograd.grad((expected * weights).sum(), (q, k, v))
    for grad, expected_grad in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected_grad, atol=1e-5, rtol=1e-5)


def test_an_isolated_node_attends_only_to_itself():
    batch = random_graph_batch([6], edges_per_node=2)
    isolated = 5
    assert isolated not in batch.edge_index[1].tolist()
    q, k, v = torch.randn(3, 1, 1, 6, 4).unbind(0)
    torch.testing.assert_close(attend(q, k, v, batch, scope="graph")[0, 0, isolated], v[0, 0, isolated])


def test_repeated_edges_and_self_loops_are_counted_once():
    edge_index = torch.tensor([[0, 0, 1, 2, 2], [1, 1, 0, 2, 1]])
    assert as_pairs(normalize_edges(edge_index, 3)) == {(0, 1), (1, 0), (2, 1)}
    assert normalize_edges(edge_index, 3).shape[1] == 3


# --- derived edges -----------------------------------------------------------------------------


def test_band_edges_join_each_real_element_to_its_neighbours_within_the_width_of_its_own_set():
    mask = torch.tensor([[True, True, True, False], [True, True, False, False]])
    assert as_pairs(band_edges(mask, 1)) == {(1, 0), (0, 1), (2, 1), (1, 2), (5, 4), (4, 5)}
    assert as_pairs(band_edges(mask, 2)) == {(1, 0), (2, 0), (0, 1), (2, 1), (0, 2), (1, 2), (5, 4), (4, 5)}


@pytest.mark.parametrize("neighbours, expected", [(4, 24), (8, 40)])
def test_grid_edges_join_pixels_to_their_grid_neighbours_without_wrapping_rows(neighbours, expected):
    edge_index = grid_edges(torch.ones(1, 9, dtype=torch.bool), (3, 3), neighbours)
    assert edge_index.shape[1] == expected  # directed: 12 (or 20) undirected pairs on a 3×3 grid
    assert (2, 3) not in as_pairs(edge_index)  # the end of row 0 is not next to the start of row 1
    assert ((edge_index[0] // 3 - edge_index[1] // 3).abs() <= 1).all()


# --- datasets ----------------------------------------------------------------------------------


def test_cora_loads_with_the_public_split_and_its_parsed_graph_goes_to_the_cache(tmp_path):
    data = planetoid.load("cora", DATA_DIR, tmp_path)
    assert (data.num_nodes, data.num_features, data.edge_index.shape[1]) == (2708, 1433, 10556)
    assert [int(m.sum()) for m in (data.train_mask, data.val_mask, data.test_mask)] == [140, 500, 1000]
    assert list(tmp_path.rglob("*.pt")) == [planetoid.cache_file("cora", tmp_path)]


def test_the_cached_graph_is_the_one_the_raw_files_hold(tmp_path):
    parsed, cached = planetoid.load("cora", DATA_DIR, tmp_path), planetoid.load("cora", DATA_DIR, tmp_path)
    assert all(torch.equal(parsed[key], cached[key]) for key in planetoid.GRAPH_KEYS)


@pytest.mark.parametrize("name", ["cora", "citeseer"])
def test_the_raw_files_parse_to_the_graph_pyg_reads_from_them(name):
    raw = DATA_DIR / "planetoid" / planetoid.NAMES[name] / "raw"
    ours, pyg = planetoid.parse(name, raw), read_planetoid_data(str(raw), name)
    assert all(torch.equal(ours[key], pyg[key]) for key in planetoid.GRAPH_KEYS)


def copy_raw(name: str, tmp_path):
    raw = tmp_path / "data" / "planetoid" / planetoid.NAMES[name] / "raw"
    shutil.copytree(DATA_DIR / "planetoid" / planetoid.NAMES[name] / "raw", raw)
    for path in raw.iterdir():
        path.chmod(0o644)
    return raw


def test_a_truncated_raw_file_is_reported_by_name(tmp_path):
    raw = copy_raw("cora", tmp_path)
    graph = raw / "ind.cora.graph"
    graph.write_bytes(graph.read_bytes()[:1000])
    with pytest.raises(DataError, match="ind.cora.graph is corrupt or truncated"):
        planetoid.load("cora", tmp_path / "data", tmp_path / "cache")


def test_a_missing_raw_file_is_downloaded_and_verified(tmp_path, served, monkeypatch):
    folder, url = served
    raw = copy_raw("citeseer", tmp_path)
    (raw / "ind.citeseer.ty").rename(folder / "ind.citeseer.ty")
    monkeypatch.setattr(planetoid, "URL", url.rstrip("/"))
    assert planetoid.load("citeseer", tmp_path / "data", tmp_path / "cache").num_nodes == 3327
    assert (raw / "ind.citeseer.ty").is_file()


def test_a_missing_raw_file_that_cannot_be_downloaded_names_where_to_place_it(tmp_path, served, monkeypatch):
    _, url = served  # serves nothing: every download is a 404
    raw = copy_raw("cora", tmp_path)
    (raw / "ind.cora.x").unlink()
    monkeypatch.setattr(planetoid, "URL", url.rstrip("/"))
    with pytest.raises(DataError, match=f"could not download ind.cora.x .* place the file at {raw / 'ind.cora.x'}"):
        planetoid.load("cora", tmp_path / "data", tmp_path / "cache")


def test_edge_indices_out_of_range_are_rejected():
    x, y = torch.zeros(3, 2), torch.zeros(3, dtype=torch.long)
    masks = {"train": torch.tensor([True, False, False])}
    with pytest.raises(DataError, match=r"edge indices must lie in \[0, 3\), found \[0, 3\]"):
        checked(x, y, torch.tensor([[0, 1], [3, 2]]), masks, "toy")


def test_a_split_without_nodes_is_rejected():
    x, y = torch.zeros(3, 2), torch.zeros(3, dtype=torch.long)
    with pytest.raises(DataError, match="the train split has no node"):
        checked(x, y, torch.tensor([[0], [1]]), {"train": torch.zeros(3, dtype=torch.bool)}, "toy")


def test_the_sbm_graph_is_fixed_by_its_seed_and_labelled_by_community():
    first, again, other = generate(**SBM, seed=0), generate(**SBM, seed=0), generate(**SBM, seed=1)
    assert torch.equal(first.edge_index, again.edge_index) and torch.equal(first.x, again.x)
    assert not torch.equal(first.edge_index, other.edge_index)
    assert first.y.tolist() == [c for c in range(3) for _ in range(40)]
    assert not (first.train_mask & first.val_mask).any() and not (first.val_mask & first.test_mask).any()
    assert int(first.train_mask.sum()) == 15


def test_sbm_edges_mostly_join_nodes_of_the_same_community():
    data = generate(**SBM, seed=0)
    source, target = data.edge_index
    assert (data.y[source] == data.y[target]).float().mean() > 0.8


# --- runs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("modality", ["text", "speech", "image"])
def test_gnn_runs_on_derived_edges(make_config, modality):
    results = run(make_config(f"modality={modality}", "model=gnn"))
    assert 0.0 <= results["test"]["acc"] <= 1.0


def test_attention_with_the_graph_scope_runs_on_text_chains(make_config):
    results = run(make_config("modality=text", "model=attn", "model.scope=graph"))
    assert 0.0 <= results["test"]["acc"] <= 1.0


@pytest.mark.parametrize("conv", ["gcn", "gat", "sage"])
def test_every_gnn_layer_type_runs_on_the_sbm_graph(make_config, conv):
    results = run(
        make_config(
            "modality=graph",
            "modality.dataset=sbm",
            "model=gnn",
            f"model.conv={conv}",
            "model.norm=layer",
            "model.residual=true",
        )
    )
    assert results["dataset"] == "sbm" and results["throughput"]["element"] == "node"


def test_attention_on_a_graph_runs_with_the_full_scope(make_config):
    results = run(make_config("modality=graph", "model=attn", "modality.attention_scope=full"))
    assert results["dataset"] == "cora"


def test_a_class_token_needs_the_full_scope(make_config):
    with pytest.raises(ConfigError, match="model.pool='cls'.*cls needs scope=full"):
        run(make_config("modality=speech", "model=attn", "model.pool=cls"))
