"""The Planetoid citation graphs (Cora, CiteSeer, PubMed) with their public split, verified file by file."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import torch
import torch_geometric
from torch_geometric.data import Data
from torch_geometric.io import read_txt_array
from torch_geometric.io.planetoid import edge_index_from_dict
from torch_geometric.utils import index_to_mask

from framework import DataError, Stale, cached, fetch, unpickle_data

NAMES = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}
"""Config name → Planetoid's dataset name."""
PARTS = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
GRAPH_KEYS = ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask")
"""The tensors of a parsed graph, all that its cache file holds."""
URL = "https://github.com/kimiyoung/planetoid/raw/master/data"
# SHA-256 of the raw files at kimiyoung/planetoid@af6abf46 (the files PyG downloads).
SHA256 = {
    "cora": {
        "x": "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab",
        "tx": "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a",
        "allx": "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543",
        "y": "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1",
        "ty": "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad",
        "ally": "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71",
        "graph": "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d",
        "test.index": "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875",
    },
    "citeseer": {
        "x": "d20de19150741e555de0ed037195630fc194114ebc7fd72ced62810148aa22f6",
        "tx": "539a8906a2da97628d212f2fdd668c109a8b3f0d36574b59e5d3fd5b5303da21",
        "allx": "2ac30345d95c9ec933a817ee0bdd6a5f077f8c184a20e696910192d534414668",
        "y": "8ba87e515d8e3ee3cf52f6d2c5b86aa73f11ecad825a808455209ec26cd54924",
        "ty": "55e5bd1ba1e733a04598753ad1a8d57957f4b8f89e74519f41f4f4938767e4ce",
        "ally": "f704b2d986dde6c2669934de1f3ae5696a6cf9455c0f6b2646a2d135ea0a1c95",
        "graph": "d79a4ef9d3e7169aee8946145f6b7306e35bc79bffad26346cfb94e10e9912a7",
        "test.index": "2af990671580b6b2df5d158d1038f8292e30c9cd821b5453f399659b25b723d4",
    },
    "pubmed": {
        "x": "fbe9cb5c47200d1b7769a26e579be3b7130b556831f9d850e77c4c74f2599b33",
        "tx": "4eb5f5d0f30f26497eb0ac6ac9719d09c67e284f1ed0385c93f3ef27a671da3d",
        # From the Git LFS pointer of the same file (7,578,385 bytes); not checked against a copy here.
        "allx": "508e538e2abdccdd54c4d3e9f49d638b4af7107d85845f66ddea5a5152658b7e",
        "y": "e6c807633307a07ed659249006536a147c7999c797f11a2560752990181b41b3",
        "ty": "ee2e0d4819d9fbcc403689c3bf2e49face401b605932f093bc58ab6461130fdd",
        "ally": "0c37bbe3b5014ec365e9d393cf4791925e5ed94fb194305d74f064a8d7b50f0e",
        "graph": "5b89f0036ca22909471f1e6558eb42fa06e0c730a577bde5b058b40638f81dc9",
        "test.index": "b101d421688bbaecbd82e8a18f1e282378d6830f3a37666f28ebc47f844341b5",
    },
}


SHAPES = {"cora": (2708, 1433, 7), "citeseer": (3327, 3703, 6), "pubmed": (19717, 500, 3)}
"""Nodes, features per node and classes of each graph.

The public split labels 20 nodes per class; 500 nodes validate, 1,000 test.
"""


def raw_file(name: str, part: str, data_dir: Path) -> Path:
    """One raw file (``part`` of :data:`PARTS`) of ``name``, downloaded if absent, verified.

    It lives under ``data_dir/planetoid/<Name>/raw``.
    """
    path = data_dir / "planetoid" / NAMES[name] / "raw" / f"ind.{name}.{part}"
    return fetch(path, [f"{URL}/{path.name}"], f"sha256:{SHA256[name][part]}")


def raw_files(name: str, data_dir: Path) -> list[Path]:
    """The eight raw files of ``name`` (see :func:`raw_file`)."""
    return [raw_file(name, part, data_dir) for part in PARTS]


def cache_file(name: str, cache_dir: Path) -> Path:
    """Where the parsed graph ``name`` is cached, named by what makes it: the raw files' checksums, PyG's version."""
    key = hashlib.sha256(_made_by(name).encode()).hexdigest()[:16]
    return cache_dir / "planetoid" / NAMES[name] / f"graph-{key}.pt"


def _made_by(name: str) -> str:
    """What a cached graph of ``name`` is made from, stored in the file and compared when it is read."""
    return json.dumps({"raw": SHA256[name], "torch_geometric": torch_geometric.__version__}, sort_keys=True)


def load(name: str, data_dir: Path, cache_dir: Path) -> Data:
    """The whole graph with the public split masks (20 labels per class, 500 validation, 1,000 test nodes).

    The raw files (pickles, as the Planetoid release ships them) are verified by SHA-256, then read
    by :func:`~framework.unpickle_data`, which runs no code. The parsed graph is cached as tensors
    alone, read back with ``weights_only=True``: a cache file that holds anything else, was made
    from other files, or holds another graph than :data:`SHAPES` says is rebuilt, never run. (PyG's
    own processed file is not used: PyG retries a file that the safe load refuses with the unsafe one.)
    """
    raw_files(name, data_dir)
    made_by = _made_by(name)

    def build() -> Data:
        try:
            return _checked(name, parse(name, data_dir / "planetoid" / NAMES[name] / "raw"))
        except Exception as error:  # noqa: BLE001 - surface any parse failure as a data error naming the folder
            raise DataError(f"could not read the {NAMES[name]} files in {data_dir / 'planetoid'}: {error}") from None

    def encode(data: Data) -> bytes:
        buffer = io.BytesIO()
        torch.save({"made_by": made_by, "graph": {key: data[key] for key in GRAPH_KEYS}}, buffer)
        return buffer.getvalue()

    def decode(stored: bytes) -> Data:
        cache = torch.load(io.BytesIO(stored), weights_only=True)
        if cache["made_by"] != made_by:
            raise Stale(f"made by {cache['made_by']}")
        return _checked(name, Data(**{key: cache["graph"][key] for key in GRAPH_KEYS}))

    return cached(cache_file(name, cache_dir), build, encode, decode)


def parse(name: str, raw: Path) -> Data:
    """The graph ``name`` from its raw files in ``raw``, as PyG's ``read_planetoid_data`` builds it.

    The same steps, with each pickled part read by :func:`~framework.unpickle_data`.
    """
    x, tx, allx, y, ty, ally = (_matrix(raw / f"ind.{name}.{part}") for part in ("x", "tx", "allx", "y", "ty", "ally"))
    graph = unpickle_data(raw / f"ind.{name}.graph")
    test_index = read_txt_array(str(raw / f"ind.{name}.test.index"), dtype=torch.long)
    sorted_test_index = test_index.sort()[0]
    if name == "citeseer":  # isolated test nodes have no row in tx and ty: give them zero rows
        span = int(test_index.max() - test_index.min()) + 1
        tx_ext, ty_ext = tx.new_zeros(span, tx.size(1)), ty.new_zeros(span, ty.size(1))
        tx_ext[sorted_test_index - test_index.min()], ty_ext[sorted_test_index - test_index.min()] = tx, ty
        tx, ty = tx_ext, ty_ext
    x = torch.cat([allx, tx])
    x[test_index] = x[sorted_test_index]
    labels = torch.cat([ally, ty]).max(dim=1)[1]
    labels[test_index] = labels[sorted_test_index]
    nodes = labels.size(0)
    return Data(
        x=x,
        edge_index=edge_index_from_dict(graph, num_nodes=nodes),
        y=labels,
        train_mask=index_to_mask(torch.arange(y.size(0)), size=nodes),
        val_mask=index_to_mask(torch.arange(y.size(0), y.size(0) + 500), size=nodes),
        test_mask=index_to_mask(test_index, size=nodes),
    )


def _matrix(path: Path) -> torch.Tensor:
    """A pickled feature or one-hot label matrix (dense or SciPy sparse) as a float tensor."""
    matrix = unpickle_data(path)
    return torch.from_numpy(matrix.todense() if hasattr(matrix, "todense") else matrix).to(torch.float)


def _checked(name: str, data: Data) -> Data:
    """``data`` if it is the graph ``name``: its node, feature, class and split sizes; ValueError otherwise."""
    nodes, features, classes = SHAPES[name]
    expected = (nodes, features, classes, 20 * classes, 500, 1000)
    found = (
        data.num_nodes,
        data.num_features,
        int(data.y.max()) + 1,
        *(int(m.sum()) for m in (data.train_mask, data.val_mask, data.test_mask)),
    )
    if found != expected:
        raise ValueError(
            f"it holds a graph of (nodes, features, classes, train, val, test) = {found}, expected {expected}"
        )
    return data
