"""Verified downloads into the data folder: a file is used only once its checksum matches."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from framework.errors import DataError


def fetch(path: Path, urls: Sequence[str], md5: str) -> Path:
    """Returns ``path`` once it holds the file with checksum ``md5``, downloading it if absent.

    An existing file is only read (so a shared data folder stays untouched); a download goes to
    a temporary name and is moved into place only after its checksum matches. Mirrors in
    ``urls`` are tried in order.
    """
    from torchvision.datasets.utils import check_integrity, download_url

    if path.exists():
        if not check_integrity(str(path), md5):
            raise DataError(f"{path} is corrupt (MD5 differs from {md5}); delete it and run again to download it afresh")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    failures = []
    for url in urls:
        try:
            download_url(url, root=str(partial.parent), filename=partial.name, md5=md5)
            os.replace(partial, path)
            return path
        except Exception as error:  # noqa: BLE001 - try the next mirror, report all at the end
            failures.append(f"{url}: {error}")
        finally:
            partial.unlink(missing_ok=True)
    raise DataError(f"could not download {path.name} ({'; '.join(failures)}); check the network or place the file at {path}")

