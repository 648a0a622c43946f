"""Verified downloads into the data folder: a file is used only once its checksum matches; archives unpack safely."""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

from framework.core.errors import DataError
from framework.io.atomic import replace_durably
from framework.io.file_kind import not_a_file

REFETCH = "delete it and run again to download it afresh"
"""How to fix a bad file that :func:`fetch` would download again once it is gone."""


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


def check_link(path: Path) -> None:
    """Raises :class:`DataError` when ``path`` is a symbolic link to nothing (a moved or deleted data folder)."""
    if path.is_symlink() and not path.exists():
        raise DataError(f"{path} is a link to {os.readlink(path)}, which does not exist; fix the link or remove it")


def require_verified(path: Path, checksum: str, fix: str = REFETCH) -> Path:
    """Returns ``path`` if it is a readable file matching ``checksum``; else a :class:`DataError` saying ``fix``."""
    check_link(path)
    if kind := not_a_file(path):  # reading it would wait for a writer (a pipe) or never end (/dev/zero)
        raise DataError(f"{path} is {kind}, not a file; {fix}")
    try:
        matches = verified(path, checksum)
    except OSError as error:  # a folder in its place, a missing file, a read error
        raise DataError(f"cannot read {path} ({error.strerror or error}); {fix}") from None
    if not matches:
        raise DataError(f"{path} is corrupt or truncated (checksum differs from {checksum}); {fix}")
    return path


def fetch(path: Path, urls: Sequence[str], checksum: str) -> Path:
    """Returns ``path`` once it holds the file with ``checksum`` (``md5:…`` or ``sha256:…``), downloading it if absent.

    An existing file is only read (so a shared data folder stays untouched); a download goes to
    a fresh temporary folder next to ``path`` and is moved into place only after its checksum
    matches, so a truncated or wrong download never lands in the data folder, and neither a
    download left over by an interrupted run nor one running in another process is ever taken
    for this one. Mirrors in ``urls`` are tried in order.
    """
    from torchvision.datasets.utils import download_url

    check_link(path)
    if path.exists():
        return require_verified(path, checksum)
    failures = []
    for url in urls:
        with scratch_folder(path) as scratch:
            partial = scratch / path.name
            try:
                download_url(url, root=str(scratch), filename=partial.name)
                if not verified(partial, checksum):
                    raise DataError(f"the download's checksum differs from {checksum}")
            except Exception as error:  # noqa: BLE001 - try the next mirror, report all at the end
                failures.append(f"{url}: {error}")
                continue
            replace_durably(partial, path)
            return path
    raise DataError(
        f"could not download {path.name} ({'; '.join(failures)}); check the network or place the file at {path}"
    )


class _ScratchFolder(tempfile.TemporaryDirectory):
    """A temporary folder whose ``with`` value is its :class:`Path`."""

    def __enter__(self) -> Path:  # type: ignore[override]
        return Path(self.name)


def scratch_folder(target: Path) -> _ScratchFolder:
    """A fresh hidden folder next to ``target``, removed on exit.

    It is on the same file system, so a rename moves a result into place.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return _ScratchFolder(dir=target.parent, prefix=f".{target.name}.")
    except OSError as error:
        raise DataError(
            f"cannot write to {target.parent} ({error.strerror or error}); "
            "make it a writable folder or choose another data_dir"
        ) from None


def extract(archive: Path, into: Path, label: str | None = None) -> None:
    """Unpacks the tar (plain, gz, bz2 or xz) or zip ``archive`` into the folder ``into``.

    Nothing may land outside ``into``: tar members go through tarfile's ``data`` filter (no
    absolute or ``..`` paths, no links leading out, no devices), and every zip member's resolved
    path is checked before anything is written. A file that is no such archive, one that is
    corrupt or cut short, and one with a member escaping the folder are :class:`DataError` s
    naming the archive (as ``label``, its path by default); the caller adds what to do. On an
    error ``into`` may hold part of the archive: unpack into a :func:`scratch_folder`, verify,
    and only then move the result into place.
    """
    label = label or str(archive)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zipped:
                root = into.resolve()
                for member in zipped.infolist():
                    if not (root / member.filename).resolve().is_relative_to(root):
                        raise DataError(
                            f"{label} is unsafe: its member {member.filename!r} "
                            "would be written outside the folder it is unpacked into"
                        )
                zipped.extractall(into)
            return
        opened = tarfile.open(archive)
    except tarfile.ReadError:
        raise DataError(f"{label} is not a tar or zip archive (an error page, or the wrong file?)") from None
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as error:
        raise DataError(f"{label} is corrupt or cut short ({error})") from None
    with opened:
        try:
            opened.extractall(into, filter="data")
        except tarfile.FilterError as error:
            raise DataError(f"{label} is unsafe: {error}") from None
        except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
            raise DataError(f"{label} is corrupt or cut short ({error})") from None
