"""The image modality: splits, subsets, patches and data files."""

from __future__ import annotations

import hashlib
import io
import pickle
import shutil
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import DATA_DIR

from framework.core.errors import ConfigError, DataError
from plugins.modalities.image import ImageModality
from plugins.modalities.image import files as image_files

LOADER = dict(batch_size=32, eval_batch_size=64, num_workers=0)


def image(tmp_path, **overrides) -> ImageModality:
    options = dict(
        name="image",
        dataset="digits",
        patch=1,
        train_fraction=1.0,
        val_fraction=0.15,
        test_fraction=0.2,
        attention_scope="full",
        edge_neighbours=8,
        seed=0,
        data_dir=str(DATA_DIR),
        cache_dir=str(tmp_path / "cache"),
        **LOADER,
    )
    options.update(overrides)
    return ImageModality(**options)


def loaded(tmp_path, **overrides) -> ImageModality:
    modality = image(tmp_path, **overrides)
    modality.setup("fit")
    return modality


def class_shares(labels: torch.Tensor) -> np.ndarray:
    counts = Counter(labels.tolist())
    return np.array([counts[c] for c in range(10)]) / len(labels)


def test_digits_splits_are_disjoint_and_cover_the_dataset(tmp_path):
    splits = loaded(tmp_path).splits
    sizes = {name: len(split) for name, split in splits.items()}
    assert sum(sizes.values()) == 1797
    rows = torch.cat([split.x.flatten(1) for split in splits.values()])
    assert len(rows) == 1797 and sizes["test"] == 360


def test_digits_splits_are_stratified(tmp_path):
    splits = loaded(tmp_path).splits
    for split in splits.values():
        np.testing.assert_allclose(class_shares(split.y), 0.1, atol=0.01)


def test_the_same_seed_gives_the_same_split_and_another_seed_a_different_one(tmp_path):
    first, again, other = (loaded(tmp_path, seed=s).splits["val"].y for s in (0, 0, 1))
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_train_fraction_keeps_a_stratified_share_of_the_training_split(tmp_path):
    full, tenth = loaded(tmp_path).splits, loaded(tmp_path, train_fraction=0.1).splits
    assert len(tenth["train"]) == pytest.approx(0.1 * len(full["train"]), abs=1)
    np.testing.assert_allclose(class_shares(tenth["train"].y), 0.1, atol=0.02)
    assert torch.equal(tenth["val"].y, full["val"].y) and torch.equal(tenth["test"].y, full["test"].y)


def test_each_pixel_is_one_vector_with_its_row_and_column(tmp_path):
    batch = loaded(tmp_path).splits["train"].__getitems__([0, 1])
    assert batch.x.shape == (2, 64, 1) and batch.grid == (8, 8)
    assert batch.pos[0, 9].tolist() == [1, 1] and bool(batch.mask.all())


def test_patches_become_the_vectors(tmp_path):
    modality = loaded(tmp_path, patch=4)
    batch = modality.splits["train"].__getitems__([0])
    pixels = loaded(tmp_path).splits["train"].x[0].reshape(8, 8)
    assert batch.x.shape == (1, 4, 16) and batch.grid == (2, 2)
    assert batch.x[0, 1].tolist() == pixels[:4, 4:].flatten().float().tolist()
    assert modality.spec.max_positions == (2, 2)


@pytest.mark.parametrize("patch", [3, 0, 5])
def test_a_patch_that_does_not_divide_the_image_is_a_config_error(tmp_path, patch):
    with pytest.raises(ConfigError, match=f"patch={patch}.*allowed values are 1, 2, 4, 8"):
        image(tmp_path, patch=patch)


@pytest.mark.parametrize("fraction", [0.0, 1.5, -0.1])
def test_train_fraction_outside_zero_one_is_a_config_error(tmp_path, fraction):
    with pytest.raises(ConfigError, match=r"train_fraction=.*must be in \(0, 1\]"):
        image(tmp_path, train_fraction=fraction)


def test_unknown_dataset_lists_the_available_ones(tmp_path):
    with pytest.raises(ConfigError, match="allowed values are digits, mnist, cifar10"):
        image(tmp_path, dataset="svhn")


def test_the_spec_is_known_before_any_data_loads(tmp_path):
    modality = image(tmp_path, dataset="cifar10", patch=4, data_dir=str(tmp_path / "nowhere"))
    assert modality.spec.max_positions == (8, 8) and modality.spec.num_classes == 10
    assert not (tmp_path / "nowhere").exists()


def test_mnist_test_files_are_verified_and_decoded_into_the_cache(tmp_path):
    images, labels = image_files.mnist(DATA_DIR, tmp_path / "cache", train=False)
    assert images.shape == (10000, 28, 28, 1) and labels.shape == (10000,)
    assert [path.name for path in (tmp_path / "cache" / "mnist").glob("t10k-images-idx3-ubyte.*")] == [
        "t10k-images-idx3-ubyte.9fb629c4189551a2"
    ]


def test_a_missing_mnist_file_that_cannot_be_downloaded_names_the_file(tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR / "mnist", data / "mnist")
    monkeypatch.setattr("torchvision.datasets.MNIST.mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(DataError, match="could not download train-images-idx3-ubyte.gz"):
        image(tmp_path, dataset="mnist", data_dir=str(data)).prepare_data()
    assert not list((data / "mnist" / "MNIST" / "raw").glob(".*.part"))


def test_a_corrupt_mnist_file_is_refused(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR / "mnist", data / "mnist")
    labels = data / "mnist" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-100])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz is corrupt"):
        image_files.mnist(data, tmp_path / "cache", train=False)


def cifar_batch(count: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    return pickle.dumps(
        {"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8), "labels": [i % 10 for i in range(count)]}
    )


def serve_cifar10(folder: Path, url: str, monkeypatch, extra: tarfile.TarInfo | None = None) -> None:
    """Serves a small CIFAR-10 release (one training batch and the test batch) and makes it the one CIFAR10 expects."""
    from torchvision.datasets import CIFAR10

    batches = {"data_batch_1": cifar_batch(30, 0), "test_batch": cifar_batch(20, 1)}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in batches.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if extra is not None:
            archive.addfile(extra)
    (folder / "cifar.tar.gz").write_bytes(buffer.getvalue())
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in batches.items()}
    monkeypatch.setattr(CIFAR10, "url", url + "cifar.tar.gz")
    monkeypatch.setattr(CIFAR10, "tgz_md5", hashlib.md5(buffer.getvalue()).hexdigest())
    monkeypatch.setattr(CIFAR10, "train_list", [["data_batch_1", md5["data_batch_1"]]])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])


def test_cifar10_is_unpacked_from_its_verified_archive_into_the_data_folder(tmp_path, served, monkeypatch):
    serve_cifar10(*served, monkeypatch)
    images, labels = image_files.cifar10(tmp_path / "data", train=True)
    assert images.shape == (30, 32, 32, 3) and labels.tolist() == [i % 10 for i in range(30)]
    assert sorted(path.name for path in (tmp_path / "data" / "cifar10").iterdir()) == [
        "cifar-10-batches-py",
        "cifar-10-python.tar.gz",
    ]


def test_a_changed_cifar10_batch_is_refused_naming_it(tmp_path, served, monkeypatch):
    serve_cifar10(*served, monkeypatch)
    image(tmp_path, dataset="cifar10", data_dir=str(tmp_path / "data")).prepare_data()
    batch = tmp_path / "data" / "cifar10" / "cifar-10-batches-py" / "test_batch"
    batch.write_bytes(batch.read_bytes()[:-10])
    with pytest.raises(
        DataError, match=f"{batch} is corrupt or truncated .*delete the folder .*cifar-10-batches-py to unpack it again"
    ):
        image_files.cifar10(tmp_path / "data", train=False)


def test_a_cifar10_archive_with_a_path_escaping_its_folder_is_rejected(tmp_path, served, monkeypatch):
    escaping = tarfile.TarInfo("../../escaped")
    serve_cifar10(*served, monkeypatch, extra=escaping)
    with pytest.raises(DataError, match="cannot unpack .*cifar-10-python.tar.gz: .* is unsafe"):
        image(tmp_path, dataset="cifar10", data_dir=str(tmp_path / "data")).prepare_data()
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "data" / "escaped").exists()
    assert [path.name for path in (tmp_path / "data" / "cifar10").iterdir()] == ["cifar-10-python.tar.gz"]
