"""Data releases that ship as pickles (Planetoid, CIFAR-10), read without ever running code from them.

A pickle names the callables that rebuild its objects, and ``pickle.load`` calls whatever it names.
:func:`unpickle_data` calls only those that rebuild arrays, sparse matrices and containers, so a
file that names anything else (``os.system``, ``subprocess.Popen``) is refused before it runs.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

ALLOWED = frozenset(
    {
        *((module, "list") for module in ("builtins", "__builtin__")),
        ("_codecs", "encode"),  # how Python 3 writes bytes at pickle protocol 2
        ("collections", "defaultdict"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        *((module, "_reconstruct") for module in ("numpy.core.multiarray", "numpy._core.multiarray")),
        *((module, "_frombuffer") for module in ("numpy.core.numeric", "numpy._core.numeric")),
        *((module, "csr_matrix") for module in ("scipy.sparse.csr", "scipy.sparse._csr")),
    }
)
"""(module, name) of every callable a data pickle may name: what numpy arrays, SciPy CSR matrices,
bytes and ``defaultdict(list)`` are rebuilt with (the names as Python 2 and 3, numpy 1 and 2 write them)."""


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which is not an array, matrix or container")
        with warnings.catch_warnings():  # numpy.core and scipy.sparse.csr are deprecated aliases, still the names
            warnings.simplefilter("ignore", DeprecationWarning)
            return super().find_class(module, name)


def unpickle_data(path: Path) -> Any:
    """The arrays, matrices and containers pickled in ``path`` (Python 2 pickles included).

    Raises:
        pickle.UnpicklingError: the file names a callable outside :data:`ALLOWED`; nothing of it ran.
    """
    with path.open("rb") as file:
        return _DataUnpickler(file, encoding="latin1").load()
