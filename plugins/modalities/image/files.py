"""The image datasets' files: MNIST's verified raw files decoded through a checked cache, CIFAR-10's verified
archive unpacked safely.

Each function returns ``uint8 [M, H, W, C]`` images and ``int64 [M]`` labels, or one verified
file or folder; anything wrong with a file is a :class:`~framework.DataError` naming it.
"""

from __future__ import annotations

import gzip
import math
import os
from pathlib import Path

import numpy as np

from framework import (
    REFETCH,
    DataError,
    cached,
    check_link,
    extract,
    fetch,
    require_verified,
    scratch_folder,
    unpickle_data,
)

Images = tuple[np.ndarray, np.ndarray]
"""``uint8 [M, H, W, C]`` images and ``int64 [M]`` labels."""
CLASSES = 10


def mnist_file(data_dir: Path, name: str) -> Path:
    """A verified raw MNIST file (``train-images-idx3-ubyte.gz`` ...) in ``data_dir/mnist/MNIST/raw``.

    Downloaded if absent.
    """
    from torchvision.datasets import MNIST

    md5 = dict(MNIST.resources)[name]
    return fetch(
        data_dir / "mnist" / "MNIST" / "raw" / name, [f"{mirror}{name}" for mirror in MNIST.mirrors], f"md5:{md5}"
    )


def mnist_files(data_dir: Path) -> list[Path]:
    """All four raw MNIST files (see :func:`mnist_file`)."""
    from torchvision.datasets import MNIST

    return [mnist_file(data_dir, name) for name, _ in MNIST.resources]


def mnist(data_dir: Path, cache_dir: Path, train: bool) -> Images:
    """MNIST's training (60,000) or test (10,000) images and labels."""
    prefix, count = ("train", 60000) if train else ("t10k", 10000)
    images = mnist_array(data_dir, cache_dir, f"{prefix}-images-idx3-ubyte.gz", (count, 28, 28))
    labels = mnist_array(data_dir, cache_dir, f"{prefix}-labels-idx1-ubyte.gz", (count,))
    return images[..., None], labels.astype(np.int64)


def mnist_array(data_dir: Path, cache_dir: Path, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """The verified raw file ``name`` decoded, through a cache of its decompressed bytes named by its checksum.

    A cached file is used only if it is an IDX array of ``shape`` (with labels 0–9); otherwise it
    is decompressed again.
    """
    from torchvision.datasets import MNIST

    source = mnist_file(data_dir, name)

    def decode(data: bytes) -> bytes:
        array = parse_idx(data, len(shape))
        if array.shape != shape or (len(shape) == 1 and int(array.max()) >= CLASSES):
            raise ValueError(f"it holds an array of shape {array.shape}, expected {shape} from {name}")
        return data

    cache = cache_dir / "mnist" / f"{source.stem}.{dict(MNIST.resources)[name][:16]}"
    return parse_idx(cached(cache, lambda: gzip.decompress(source.read_bytes()), bytes, decode), len(shape))


def parse_idx(data: bytes, dims: int) -> np.ndarray:
    """The array of an IDX file of unsigned bytes with ``dims`` dimensions (MNIST's format).

    Raises ValueError for anything else.
    """
    header = 4 + 4 * dims
    if len(data) < header or int.from_bytes(data[:4], "big") != 0x0800 + dims:
        raise ValueError(f"not an IDX file of {dims}-dimensional unsigned bytes")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    if len(data) - header != math.prod(shape):
        raise ValueError(f"{len(data) - header} bytes of data for an array of shape {shape}")
    return np.frombuffer(bytearray(data), dtype=np.uint8, offset=header).reshape(shape)


def cifar10_folder(data_dir: Path) -> Path:
    """``data_dir/cifar10/cifar-10-batches-py`` with every batch verified; unpacked from the verified archive if absent.

    The archive is unpacked into a temporary folder beside (nothing may land outside it), and the
    batches move into place only once each matches its checksum.
    """
    from torchvision.datasets import CIFAR10

    folder = data_dir / "cifar10" / CIFAR10.base_folder
    batches = CIFAR10.train_list + CIFAR10.test_list
    check_link(folder)
    if not folder.exists():
        archive = fetch(folder.parent / CIFAR10.filename, [CIFAR10.url], f"md5:{CIFAR10.tgz_md5}")
        with scratch_folder(folder) as scratch:
            try:
                extract(archive, scratch)
                for name, md5 in batches:
                    require_verified(
                        scratch / CIFAR10.base_folder / name,
                        f"md5:{md5}",
                        fix="the archive does not hold the CIFAR-10 release",
                    )
            except DataError as error:
                raise DataError(f"cannot unpack {archive}: {error}; {REFETCH}") from None
            os.rename(scratch / CIFAR10.base_folder, folder)
    elif not folder.is_dir():
        raise DataError(f"{folder} is not a folder; remove it to unpack CIFAR-10 there")
    for name, md5 in batches:
        require_verified(folder / name, f"md5:{md5}", fix=f"delete the folder {folder} to unpack it again")
    return folder


def cifar10(data_dir: Path, train: bool) -> Images:
    """CIFAR-10's training (50,000) or test (10,000) images and labels."""
    from torchvision.datasets import CIFAR10

    folder = cifar10_folder(data_dir)
    # Verified against the release's checksums (cifar10_folder), and unpickled without running code all the same.
    batches = [unpickle_data(folder / name) for name, _ in (CIFAR10.train_list if train else CIFAR10.test_list)]
    images = np.concatenate([batch["data"] for batch in batches]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), np.concatenate([batch["labels"] for batch in batches]).astype(np.int64)
