"""The Free Spoken Digit Dataset: listing, the official split, verified WAV reading and a verified download."""

from __future__ import annotations

import hashlib
import os
import re
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from framework import DataError, check_link, extract, scratch_folder

RELEASE = "v1.0.10"
ARCHIVE_URL = f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/{RELEASE}.tar.gz"
RECORDINGS_DIGEST = "dbd573d7cafe79c4b49f65718115e1304e24e067fa39eff18a660dc6cb9c360f"
"""SHA-256 over the sorted lines ``"<file name> <sha256 of the file>\\n"`` of the release's 3,000 WAVs."""
SAMPLE_RATE = 8000
FOLDER = "fsdd"
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

    The folder must hold exactly the release's recordings (:func:`verify`), so a changed, missing,
    extra or unreadable recording is a :class:`DataError`, never a slightly different dataset.
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
    found = []
    for path in sorted(folder.glob("*.wav")):
        match = NAME.fullmatch(path.name)
        if match is None:
            raise DataError(
                f"{path}: not an FSDD recording name ({{digit}}_{{speaker}}_{{index}}.wav); remove the file"
            )
        found.append(Recording(path, int(match["digit"]), match["speaker"], int(match["index"])))
    if not found:
        raise DataError(f"{folder} holds no .wav recordings; delete the folder to download FSDD {RELEASE} again")
    verify(folder, RECORDINGS_DIGEST)
    return found


_VERIFIED: set[tuple] = set()
"""(folder, its WAVs' names, sizes and mtimes, digest) already verified in this process: a run hashes a folder once."""


def verify(folder: Path, expected: str) -> None:
    """Raises :class:`DataError` unless the WAVs in ``folder`` have the :func:`folder_digest` ``expected``."""
    try:
        stats = [(path.name, path.stat()) for path in sorted(folder.glob("*.wav"))]
        key = (str(folder.resolve()), tuple((name, stat.st_size, stat.st_mtime_ns) for name, stat in stats), expected)
    except OSError:  # a link to nothing: folder_digest names it
        key = None
    if key is not None and key in _VERIFIED:
        return
    if folder_digest(folder) != expected:
        raise DataError(
            f"{folder} does not hold the recordings of FSDD {RELEASE} (their digest differs: a recording is changed, "
            "missing or extra); delete the folder to download them again"
        )
    _VERIFIED.add(key)


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


def folder_digest(folder: Path) -> str:
    """The :data:`RECORDINGS_DIGEST`-style digest of the WAVs in ``folder``; an unreadable WAV is a DataError."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.wav")):
        try:
            data = path.read_bytes()
        except OSError as error:  # a folder in its place, a link to nothing
            raise DataError(
                f"{path}: cannot read it ({error.strerror or error}); delete the folder {folder} to download FSDD again"
            ) from None
        digest.update(f"{path.name} {hashlib.sha256(data).hexdigest()}\n".encode())
    return digest.hexdigest()


def download(url: str, folder: Path, expected: str = RECORDINGS_DIGEST) -> None:
    """Downloads the release archive from ``url`` and puts its ``recordings/`` at ``folder``, only if they verify.

    The archive goes to a temporary folder next to ``folder`` and is unpacked there
    (:func:`~framework.extract`: nothing outside it, no links or devices); the
    recordings move into place only when their digest matches, so a failed, truncated, corrupt
    or unsafe download leaves nothing behind.
    """
    from torchvision.datasets.utils import download_url

    with scratch_folder(folder) as scratch:
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
        try:
            matches = len(found) == 1 and folder_digest(found[0]) == expected
        except DataError:  # an unreadable entry in the archive's recordings
            matches = False
        if not matches:
            raise DataError(
                f"the FSDD download from {url} does not match release {RELEASE} "
                "(recordings digest differs); nothing was kept"
            )
        try:
            os.rename(found[0], folder)  # same file system: the whole folder appears at once
        except OSError:
            if not folder.is_dir():  # else another process put the release in place first
                raise
