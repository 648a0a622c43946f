"""Pickled data releases: arrays, sparse matrices and containers come back; a pickle that names anything else
is refused before it runs."""

from __future__ import annotations

import pickle
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

from framework.io.data_pickle import unpickle_data


class RunsCode:
    """Unpickled, it creates the file ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_arrays_sparse_matrices_and_containers_come_back_as_they_were_pickled(tmp_path, protocol):
    graph = defaultdict(list, {0: [1, 2], 1: [0]})
    data = {"x": np.arange(6, dtype=np.float32).reshape(2, 3), "m": scipy.sparse.csr_matrix(np.eye(3)), "g": graph}
    (tmp_path / "release").write_bytes(pickle.dumps(data, protocol=protocol))

    back = unpickle_data(tmp_path / "release")

    assert np.array_equal(back["x"], data["x"]) and back["x"].dtype == np.float32
    assert np.array_equal(back["m"].todense(), np.eye(3))
    assert back["g"] == graph and back["g"]["absent"] == []


def test_a_pickle_that_names_a_callable_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "the-payload-ran"
    (tmp_path / "release").write_bytes(pickle.dumps({"x": np.zeros(2), "payload": RunsCode(marker)}))

    with pytest.raises(pickle.UnpicklingError, match="names pathlib.Path.touch, which is not an array"):
        unpickle_data(tmp_path / "release")
    assert not marker.exists()
