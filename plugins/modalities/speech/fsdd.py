"""The Free Spoken Digit Dataset: listing, the official split, verified WAV reading and a verified download."""

from __future__ import annotations

import hashlib
import re
import shutil
import tarfile
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from framework.errors import DataError

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
    """Every recording in ``data_dir/fsdd/recordings``, downloading the release there if the folder is absent."""
    folder = data_dir / FOLDER / "recordings"
    if not folder.is_dir():
        download(ARCHIVE_URL, folder)
    found = []
    for path in sorted(folder.glob("*.wav")):
        match = NAME.fullmatch(path.name)
        if match is None:
            raise DataError(f"{path}: not an FSDD recording name ({{digit}}_{{speaker}}_{{index}}.wav); remove the file")
        found.append(Recording(path, int(match["digit"]), match["speaker"], int(match["index"])))
    if not found:
        raise DataError(f"{folder} holds no .wav recordings; delete the folder to download FSDD {RELEASE} again")
    return found


def read_wav(path: Path) -> np.ndarray:
    """A recording's samples as float32 in [-1, 1]; anything but a complete 8 kHz mono 16-bit PCM WAV is a DataError."""
    try:
        with wave.open(str(path), "rb") as f:
            rate, channels, width, frames = f.getframerate(), f.getnchannels(), f.getsampwidth(), f.getnframes()
            data = f.readframes(frames)
    except (OSError, EOFError, wave.Error) as error:
        raise DataError(f"{path}: not a readable WAV file ({error or 'empty or truncated'}); delete it and download FSDD again") from None
    if (rate, channels, width) != (SAMPLE_RATE, 1, 2):
        raise DataError(f"{path}: expected 8000 Hz mono 16-bit PCM, found {rate} Hz, {channels} channel(s), {8 * width}-bit")
    if frames == 0 or len(data) != frames * width:
        raise DataError(f"{path}: truncated or empty ({len(data) // width} of {frames} samples present); delete it and download FSDD again")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def folder_digest(folder: Path) -> str:
    """The :data:`RECORDINGS_DIGEST`-style digest of the WAVs in ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.wav")):
        digest.update(f"{path.name} {hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return digest.hexdigest()


def download(url: str, folder: Path, expected: str = RECORDINGS_DIGEST) -> None:
    """Downloads the release archive from ``url`` and puts its ``recordings/`` at ``folder``, only if they verify.

    The archive is extracted with tarfile's ``data`` filter (no paths outside the target, no
    links or devices) into a temporary folder next to ``folder``, and moved into place only
    when the recordings' digest matches; otherwise nothing is left behind.
    """
    from torchvision.datasets.utils import download_url

    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".download-") as scratch:
        scratch_dir = Path(scratch)
        try:
            download_url(url, root=scratch, filename="fsdd.tar.gz")
            with tarfile.open(scratch_dir / "fsdd.tar.gz") as archive:
                archive.extractall(scratch_dir / "x", filter="data")
        except Exception as error:  # noqa: BLE001 - network, HTTP, gzip and tar failures all mean "no usable download"
            raise DataError(f"could not download FSDD from {url} ({error}); check the network or place the recordings in {folder}") from None
        found = sorted((scratch_dir / "x").glob("*/recordings"))
        if len(found) != 1 or folder_digest(found[0]) != expected:
            raise DataError(f"the FSDD download from {url} does not match release {RELEASE} (recordings digest differs); nothing was kept")
        shutil.move(str(found[0]), str(folder))
