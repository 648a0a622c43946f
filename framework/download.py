"""Verified downloads into the data folder: a file is used only once its checksum matches."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from framework.errors import DataError


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file's bytes with a :mod:`hashlib` ``algorithm`` (``md5``, ``sha256``)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()


_VERIFIED: set[tuple[str, int, int, str]] = set()
"""(path, size, mtime, checksum) of files already verified in this process, so a run hashes each file once."""


def verified(path: Path, checksum: str) -> bool:
    """Whether ``path`` matches ``checksum``, written ``algorithm:hexdigest`` (``sha256:3fb7…``)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, checksum)
    if key in _VERIFIED:
        return True
    algorithm, _, expected = checksum.partition(":")
    if file_digest(path, algorithm) != expected:
        return False
    _VERIFIED.add(key)
    return True


def fetch(path: Path, urls: Sequence[str], checksum: str) -> Path:
    """Returns ``path`` once it holds the file with ``checksum`` (``md5:…`` or ``sha256:…``), downloading it if absent.

    An existing file is only read (so a shared data folder stays untouched); a download goes to
    a temporary name and is moved into place only after its checksum matches, so a truncated or
    wrong download never lands in the data folder. Mirrors in ``urls`` are tried in order.
    """
    from torchvision.datasets.utils import download_url

    if path.exists():
        if not verified(path, checksum):
            raise DataError(f"{path} is corrupt or truncated (checksum differs from {checksum}); delete it and run again to download it afresh")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    failures = []
    for url in urls:
        try:
            download_url(url, root=str(partial.parent), filename=partial.name)
            if not verified(partial, checksum):
                raise DataError(f"the download's checksum differs from {checksum}")
            os.replace(partial, path)
            return path
        except Exception as error:  # noqa: BLE001 - try the next mirror, report all at the end
            failures.append(f"{url}: {error}")
        finally:
            partial.unlink(missing_ok=True)
    raise DataError(f"could not download {path.name} ({'; '.join(failures)}); check the network or place the file at {path}")
