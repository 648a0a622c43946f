"""The Free Spoken Digit Dataset: listing, the official split, verified WAV reading and a verified download."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import wave
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from framework import DataError, check_link, extract, not_a_file, scratch_folder

RELEASE = "v1.0.10"
ARCHIVE_URL = f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/{RELEASE}.tar.gz"
MANIFEST = Path(__file__).with_name(f"fsdd-{RELEASE}.sha256")
"""The release's 3,000 recordings, one ``"<sha256>  <file name>"`` line each (``sha256sum``'s format)."""
MANIFEST_DIGEST = "dbd573d7cafe79c4b49f65718115e1304e24e067fa39eff18a660dc6cb9c360f"
"""SHA-256 over the sorted lines ``"<file name> <sha256>\\n"`` of :data:`MANIFEST`: an edited manifest is no release."""
SHOWN_NAMES = 5
"""Recordings named in a message; more are counted."""
SAMPLE_RATE = 8000
FOLDER = "fsdd"
log = logging.getLogger(__name__)
NAME = re.compile(r"(?P<digit>[0-9])_(?P<speaker>[a-z]+)_(?P<index>[0-9]+)\.wav")


@dataclass(frozen=True)
class Recording:
    """One spoken digit: ``recordings/{digit}_{speaker}_{index}.wav``."""

    path: Path
    digit: int
    speaker: str
    index: int

    @property
    def split(self) -> str:
        """The official split (index 0–4 is test); validation is index 5–9 of the training part."""
        return "test" if self.index < 5 else "val" if self.index < 10 else "train"


def recordings(data_dir: Path) -> list[Recording]:
    """Every recording in ``data_dir/fsdd/recordings``, downloading the release there if the folder is absent.

    The folder must hold exactly the release's recordings (:func:`verify`): missing ones are put
    back, and a changed, extra or unreadable recording is a :class:`DataError` naming it, never a
    slightly different dataset.
    """
    folder = data_dir / FOLDER / "recordings"
    check_link(folder)
    if not folder.exists():
        download(ARCHIVE_URL, folder)
    elif not folder.is_dir():
        raise DataError(
            f"{folder} is not a folder; remove it to download FSDD {RELEASE} there, "
            "or put the recordings folder in its place"
        )
    for path in folder.glob("*.wav"):
        if NAME.fullmatch(path.name) is None:
            raise DataError(
                f"{path}: not an FSDD recording name ({{digit}}_{{speaker}}_{{index}}.wav); remove the file"
            )
    if next(folder.glob("*.wav"), None) is None:
        raise DataError(f"{folder} holds no .wav recordings; delete the folder to download FSDD {RELEASE} again")
    verify(folder, release_files())  # may put back missing recordings, so the list comes after it
    matches = (NAME.fullmatch(path.name) for path in sorted(folder.glob("*.wav")))
    return [Recording(folder / m.string, int(m["digit"]), m["speaker"], int(m["index"])) for m in matches]


def read_manifest(path: Path) -> dict[str, str]:
    """File name → SHA-256 from a ``sha256sum``-style manifest."""
    return {name: digest for digest, name in (line.split() for line in path.read_text().splitlines() if line)}


def summary_digest(hashes: Mapping[str, str]) -> str:
    """One SHA-256 for a whole set of file hashes (the form of :data:`MANIFEST_DIGEST`)."""
    return hashlib.sha256("".join(f"{name} {hashes[name]}\n" for name in sorted(hashes)).encode()).hexdigest()


_RELEASE: dict[str, str] = {}


def release_files() -> dict[str, str]:
    """The release's recordings, file name → SHA-256, read once from :data:`MANIFEST` and checked."""
    if not _RELEASE:
        hashes = read_manifest(MANIFEST)
        if summary_digest(hashes) != MANIFEST_DIGEST:
            raise DataError(f"{MANIFEST} is not the manifest of FSDD {RELEASE}; reinstall the arena")
        _RELEASE.update(hashes)
    return _RELEASE


_VERIFIED: set[tuple] = set()
"""(folder, its WAVs' names, sizes and mtimes, expected hashes) already verified in this process: a run hashes a
folder once."""


def verify(folder: Path, expected: Mapping[str, str], url: str | None = None) -> None:
    """Checks that the WAVs in ``folder`` are exactly ``expected`` (file name → SHA-256).

    Recordings that are missing, and only missing, are put back from the release archive at ``url``
    (:data:`ARCHIVE_URL` by default), each checked against its hash. A changed recording or one that
    is no part of the release is a :class:`DataError` naming those files alone.
    """
    try:
        stats = [(path.name, path.stat()) for path in sorted(folder.glob("*.wav"))]
        names = tuple((name, stat.st_size, stat.st_mtime_ns) for name, stat in stats)
        key = (str(folder.resolve()), names, summary_digest(expected))
    except OSError:  # a link to nothing: file_hashes names it
        key = None
    if key is not None and key in _VERIFIED:
        return
    found = file_hashes(folder)
    changed = sorted(name for name in found.keys() & expected.keys() if found[name] != expected[name])
    extra = sorted(found.keys() - expected.keys())
    missing = sorted(expected.keys() - found.keys())
    if changed or extra:
        kinds = [f"changed: {named(changed)}"] * bool(changed) + [f"not in the release: {named(extra)}"] * bool(extra)
        raise DataError(
            f"{folder}: {len(changed) + len(extra)} recording(s) differ from FSDD {RELEASE} ({'; '.join(kinds)}); "
            "delete those files, and the next run puts back the release's copies of the changed ones"
        )
    if missing:
        restore(url or ARCHIVE_URL, folder, {name: expected[name] for name in missing})
    _VERIFIED.add(key)


def named(names: list[str]) -> str:
    """``a.wav, b.wav``, or the first :data:`SHOWN_NAMES` and how many more."""
    more = len(names) - SHOWN_NAMES
    return ", ".join(names[:SHOWN_NAMES]) + (f" and {more} more" if more > 0 else "")


def read_wav(path: Path) -> np.ndarray:
    """A recording's samples as float32 in [-1, 1]; anything but a complete 8 kHz mono 16-bit PCM WAV is a DataError."""
    try:
        with wave.open(str(path), "rb") as f:
            rate, channels, width, frames = f.getframerate(), f.getnchannels(), f.getsampwidth(), f.getnframes()
            data = f.readframes(frames)
    except (OSError, EOFError, wave.Error) as error:
        raise DataError(
            f"{path}: not a readable WAV file ({error or 'empty or truncated'}); delete it and download FSDD again"
        ) from None
    if (rate, channels, width) != (SAMPLE_RATE, 1, 2):
        raise DataError(
            f"{path}: expected 8000 Hz mono 16-bit PCM, found {rate} Hz, {channels} channel(s), {8 * width}-bit"
        )
    if frames == 0 or len(data) != frames * width:
        raise DataError(
            f"{path}: truncated or empty ({len(data) // width} of {frames} samples present); "
            "delete it and download FSDD again"
        )
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def file_hashes(folder: Path) -> dict[str, str]:
    """File name → SHA-256 of each WAV in ``folder``; an unreadable WAV is a DataError naming it."""
    hashes = {}
    for path in sorted(folder.glob("*.wav")):
        if kind := not_a_file(path):  # reading it would wait for a writer (a pipe) or never end (a device)
            raise DataError(
                f"{path}: {kind}, not a recording; delete it, and the next run puts back the release's copy"
            )
        try:
            data = path.read_bytes()
        except OSError as error:  # a folder in its place, a link to nothing
            raise DataError(
                f"{path}: cannot read it ({error.strerror or error}); delete it, and the next run puts back "
                "the release's copy"
            ) from None
        hashes[path.name] = hashlib.sha256(data).hexdigest()
    return hashes


def fetch_release(url: str, scratch: Path, folder: Path) -> Path:
    """Downloads the release archive from ``url`` into ``scratch``, unpacks it there and returns its recordings folder.

    :func:`~framework.extract` puts nothing outside ``scratch`` and no links or devices; any
    failure is a :class:`DataError` saying nothing was kept (``scratch`` goes with its context).
    """
    from torchvision.datasets.utils import download_url

    archive = scratch / "fsdd.tar.gz"
    try:
        download_url(url, root=str(scratch), filename=archive.name)
        extract(archive, scratch / "x", label="the archive")
    except Exception as error:  # noqa: BLE001 - network, HTTP and archive failures all mean "no usable download"
        raise DataError(
            f"could not download FSDD from {url} ({error}); nothing was kept; "
            f"check the network or place the recordings in {folder}"
        ) from None
    found = sorted((scratch / "x").glob("*/recordings"))
    if len(found) != 1:
        raise DataError(f"the FSDD download from {url} holds no single recordings folder; nothing was kept")
    return found[0]


def download(url: str, folder: Path, expected: Mapping[str, str] | None = None) -> None:
    """Downloads the release from ``url`` and puts its ``recordings/`` at ``folder``, only if every file verifies.

    ``expected``: file name → SHA-256 (the release's, :func:`release_files`, by default). The
    recordings move into place only when they match, so a failed, truncated, corrupt or unsafe
    download leaves nothing behind.
    """
    expected = release_files() if expected is None else expected
    with scratch_folder(folder) as scratch:
        recordings = fetch_release(url, scratch, folder)
        try:
            matches = file_hashes(recordings) == dict(expected)
        except DataError:  # an unreadable entry in the archive's recordings
            matches = False
        if not matches:
            raise DataError(
                f"the FSDD download from {url} does not match release {RELEASE} "
                "(its recordings differ); nothing was kept"
            )
        try:
            os.rename(recordings, folder)  # same file system: the whole folder appears at once
        except OSError:
            if not folder.is_dir():  # else another process put the release in place first
                raise


def restore(url: str, folder: Path, missing: Mapping[str, str]) -> None:
    """Puts the ``missing`` recordings (file name → SHA-256) back into ``folder`` from the release at ``url``.

    Each is checked against its hash before it moves in; the others in ``folder`` are not touched.
    """
    log.warning(
        "%s lacks %d recording(s) (%s); putting them back from %s", folder, len(missing), named(list(missing)), url
    )
    with scratch_folder(folder) as scratch:
        try:
            recordings = fetch_release(url, scratch, folder)
        except DataError as error:
            raise DataError(f"{folder} lacks {len(missing)} recording(s) ({named(list(missing))}): {error}") from None
        for name, digest in missing.items():
            path = recordings / name
            if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                raise DataError(
                    f"the FSDD download from {url} does not hold release {RELEASE}'s {name}; nothing was kept"
                )
        for name in missing:
            os.replace(recordings / name, folder / name)
