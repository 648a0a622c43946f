"""The speech modality: WAV reading, features, trimming, connected digits, caching, downloads and bad input."""

from __future__ import annotations

import io
import os
import tarfile
import wave
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import DATA_DIR

from framework.core.errors import ConfigError, DataError
from plugins.modalities.speech import SpeechModality, fsdd
from plugins.modalities.speech.connected import SILENCE, connect, group_sizes
from plugins.modalities.speech.features import FRAME, SHIFT, log_mel, num_frames, speech_span

RECORDINGS = DATA_DIR / "fsdd" / "recordings"
OPTIONS = dict(
    name="speech",
    dataset="fsdd",
    task="utterance",
    bands=40,
    normalise="utterance",
    trim_db=30.0,
    min_digits=3,
    max_digits=8,
    min_gap_s=0.1,
    max_gap_s=0.5,
    noise=0.003,
    max_frames=8192,
    data_seed=0,
    attention_scope="window",
    edge_window=8,
    batch_size=16,
    eval_batch_size=64,
    num_workers=0,
    seed=0,
)


def modality(cache: Path, data_dir: Path = DATA_DIR, **overrides) -> SpeechModality:
    return SpeechModality(**{**OPTIONS, **overrides}, data_dir=str(data_dir), cache_dir=str(cache))


def write_wav(path: Path, samples: np.ndarray, rate: int = 8000, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


def test_the_official_split_puts_indices_0_to_4_in_test_and_5_to_9_in_validation():
    splits = [r.split for r in fsdd.recordings(DATA_DIR)]
    assert (splits.count("train"), splits.count("val"), splits.count("test")) == (2400, 300, 300)
    assert all(r.split == "test" for r in fsdd.recordings(DATA_DIR) if r.index < 5)


def test_a_recording_reads_as_8khz_samples_in_the_unit_range():
    samples = fsdd.read_wav(RECORDINGS / "0_george_0.wav")
    assert samples.dtype == np.float32 and len(samples) == 2384 and np.abs(samples).max() <= 1


def test_features_are_log_mel_frames_every_10_ms():
    samples = fsdd.read_wav(RECORDINGS / "0_george_0.wav")
    frames = log_mel(samples, bands=80)
    assert frames.shape == (num_frames(len(samples)), 80) == (1 + (2384 - FRAME) // SHIFT, 80)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: write_wav(p, np.zeros(800), rate=16000), "expected 8000 Hz mono 16-bit PCM, found 16000 Hz"),
        (lambda p: write_wav(p, np.zeros(800), channels=2), "found 8000 Hz, 2 channel"),
        (lambda p: p.write_bytes(b""), "not a readable WAV file"),
        (lambda p: p.write_bytes(write_wav(p, np.zeros(800)).read_bytes()[:900]), "truncated or empty"),
        (lambda p: write_wav(p, np.zeros(0)), "truncated or empty"),
    ],
    ids=["16khz", "stereo", "empty_file", "truncated", "no_samples"],
)
def test_a_bad_wav_is_refused_naming_the_file(tmp_path, make, message):
    path = tmp_path / "3_theo_7.wav"
    make(path)
    with pytest.raises(DataError, match=f"{path}: .*{message}"):
        fsdd.read_wav(path)


def test_a_misnamed_file_in_the_recordings_folder_is_named(tmp_path):
    folder = tmp_path / "fsdd" / "recordings"
    folder.mkdir(parents=True)
    write_wav(folder / "hello.wav", np.zeros(800))
    with pytest.raises(DataError, match="hello.wav: not an FSDD recording name"):
        fsdd.recordings(tmp_path)


def test_trimming_keeps_the_loud_part_of_a_recording():
    signal = np.zeros(8000, dtype=np.float32)
    signal[3000:5000] = np.sin(np.arange(2000) * 0.3)
    start, end = speech_span(
        signal + 1e-4 * np.random.default_rng(0).standard_normal(8000).astype(np.float32), trim_db=30
    )
    assert 3000 - FRAME <= start <= 3000 and 5000 <= end <= 5000 + FRAME


def test_connected_digit_labels_line_up_with_the_audio():
    rng = np.random.default_rng(0)
    spoken = [(np.full(1000, 0.5, dtype=np.float32), 3), (np.full(600, 0.5, dtype=np.float32), 7)]
    utterance = connect(spoken, rng, min_gap_s=0.05, max_gap_s=0.2, noise=0.0, sample_rate=8000)
    assert np.array_equal(utterance.samples != 0, utterance.sample_labels != SILENCE)
    runs = [
        label for i, label in enumerate(utterance.sample_labels) if i == 0 or label != utterance.sample_labels[i - 1]
    ]
    assert runs == [SILENCE, 3, SILENCE, 7, SILENCE]
    assert (utterance.sample_labels == 3).sum() == 1000 and (utterance.sample_labels == 7).sum() == 600


def test_each_frame_takes_the_label_of_its_centre_sample():
    rng = np.random.default_rng(0)
    utterance = connect([(np.full(1000, 0.5, dtype=np.float32), 4)], rng, 0.1, 0.1, 0.0, 8000)
    labels = utterance.frame_labels()
    centres = np.arange(len(labels)) * SHIFT + FRAME // 2
    assert np.array_equal(labels == 4, (centres >= 800) & (centres < 1800))


def test_group_sizes_cover_every_recording_once_within_the_bounds():
    sizes = group_sizes(100, 3, 8, np.random.default_rng(1))
    assert sum(sizes) == 100 and all(3 <= s <= 8 for s in sizes[:-1])


@pytest.fixture
def small_release(tmp_path, monkeypatch) -> Path:
    """A data folder whose FSDD release is twelve recordings (two digits, each split): features take no time."""
    folder = tmp_path / "data" / "fsdd" / "recordings"
    folder.mkdir(parents=True)
    for name in (f"{digit}_george_{index}.wav" for digit in (0, 1) for index in (0, 1, 5, 6, 10, 11)):
        (folder / name).symlink_to(RECORDINGS / name)
    hashes = fsdd.file_hashes(folder)
    monkeypatch.setattr(fsdd, "release_files", lambda: hashes)
    return tmp_path / "data"


def test_features_are_cached_and_reused(tmp_path, small_release):
    first = modality(tmp_path, small_release)
    first.setup()
    (cached,) = (tmp_path / "fsdd").glob("utterance-*.pt")
    second = modality(tmp_path, small_release)
    second.setup()
    assert torch.equal(second.splits["test"].x, first.splits["test"].x)
    assert cached.stat().st_mtime_ns == next((tmp_path / "fsdd").glob("utterance-*.pt")).stat().st_mtime_ns


def test_a_corrupt_feature_cache_is_rebuilt_not_used(tmp_path, small_release, caplog):
    modality(tmp_path, small_release).setup()
    (cached,) = (tmp_path / "fsdd").glob("utterance-*.pt")
    cached.write_bytes(b"garbage")
    rebuilt = modality(tmp_path, small_release)
    rebuilt.setup()
    assert "unreadable" in caplog.text and len(rebuilt.splits["test"]) == 4


def test_other_feature_settings_use_another_cache_file(tmp_path, small_release):
    modality(tmp_path, small_release).setup()
    modality(tmp_path, small_release, bands=80).setup()
    assert len(list((tmp_path / "fsdd").glob("utterance-*.pt"))) == 2


def test_connected_digit_examples_are_labelled_per_frame_with_silence_as_class_10(tmp_path):
    speech = modality(tmp_path, task="frames")
    speech.setup()
    batch = speech.splits["val"].__getitems__([0, 1])
    assert speech.spec.num_classes == 11 and batch.y.shape == batch.mask.shape
    assert set(batch.y[batch.mask].unique().tolist()) <= set(range(11)) and SILENCE in batch.y


def test_a_max_frames_shorter_than_a_sequence_is_a_config_error(tmp_path, small_release):
    with pytest.raises(ConfigError, match="max_frames=50: is shorter than the longest sequence \\(72 frames\\)"):
        modality(tmp_path, small_release, max_frames=50).setup()


def archive_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


SAMPLE = ["0_george_0.wav", "1_jackson_3.wav", "9_theo_49.wav"]


def sample_hashes(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "expected"
    folder.mkdir()
    for name in SAMPLE:
        (folder / name).write_bytes((RECORDINGS / name).read_bytes())
    return fsdd.file_hashes(folder)


def test_a_verified_download_puts_the_recordings_in_place(tmp_path, served):
    folder, url = served
    (folder / "fsdd.tar.gz").write_bytes(
        archive_of({f"fsdd-1.0.10/recordings/{n}": (RECORDINGS / n).read_bytes() for n in SAMPLE})
    )
    target = tmp_path / "data" / "fsdd" / "recordings"
    fsdd.download(url + "fsdd.tar.gz", target, expected=sample_hashes(tmp_path))
    assert sorted(p.name for p in target.iterdir()) == sorted(SAMPLE)


def test_a_download_that_does_not_match_the_release_leaves_nothing(tmp_path, served):
    folder, url = served
    files = {f"fsdd-1.0.10/recordings/{n}": (RECORDINGS / n).read_bytes() for n in SAMPLE}
    files[f"fsdd-1.0.10/recordings/{SAMPLE[0]}"] = files[f"fsdd-1.0.10/recordings/{SAMPLE[0]}"][:500]
    (folder / "fsdd.tar.gz").write_bytes(archive_of(files))
    target = tmp_path / "data" / "fsdd" / "recordings"
    with pytest.raises(DataError, match="does not match release v1.0.10"):
        fsdd.download(url + "fsdd.tar.gz", target, expected=sample_hashes(tmp_path))
    assert list(target.parent.iterdir()) == []


def test_an_archive_with_a_path_escaping_its_folder_is_rejected(tmp_path, served):
    folder, url = served
    (folder / "fsdd.tar.gz").write_bytes(archive_of({"../../escaped.wav": b"x"}))
    target = tmp_path / "data" / "fsdd" / "recordings"
    with pytest.raises(DataError, match="could not download FSDD"):
        fsdd.download(url + "fsdd.tar.gz", target)
    assert not (tmp_path / "escaped.wav").exists() and list(target.parent.iterdir()) == []


def release_copy(tmp_path: Path) -> Path:
    """A data folder whose recordings folder links to each shared recording, so that single files can be replaced."""
    folder = tmp_path / "data" / "fsdd" / "recordings"
    folder.mkdir(parents=True)
    for path in RECORDINGS.iterdir():
        (folder / path.name).symlink_to(path)
    return folder


def change_one(folder: Path) -> None:
    path = folder / "4_yweweler_30.wav"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01  # one sample's lowest bit: still a valid WAV
    path.unlink()
    path.write_bytes(bytes(data))


def test_the_manifest_is_the_release_and_the_shared_recordings_match_it():
    assert fsdd.file_hashes(RECORDINGS) == fsdd.release_files() and len(fsdd.release_files()) == 3000


def test_a_changed_recording_is_refused_naming_only_that_file(tmp_path):
    change_one(release_copy(tmp_path))
    with pytest.raises(DataError) as refused:
        fsdd.recordings(tmp_path / "data")
    assert "1 recording(s) differ from FSDD v1.0.10 (changed: 4_yweweler_30.wav); delete those files" in str(
        refused.value
    )


def test_a_recording_that_is_not_in_the_release_is_refused_naming_it(tmp_path):
    folder = release_copy(tmp_path)
    (folder / "7_lucas_50.wav").write_bytes((RECORDINGS / "7_lucas_12.wav").read_bytes())
    with pytest.raises(DataError, match=r"\(not in the release: 7_lucas_50.wav\)"):
        fsdd.recordings(tmp_path / "data")


def test_many_changed_recordings_are_named_up_to_five_and_counted(tmp_path):
    folder = release_copy(tmp_path)
    for path in sorted(folder.iterdir())[:7]:
        path.unlink()
        path.write_bytes(b"RIFF")
    with pytest.raises(DataError, match=r"7 recording\(s\) differ .*0_george_12.wav and 2 more\)"):
        fsdd.recordings(tmp_path / "data")


def test_a_missing_recording_alone_is_put_back_from_the_release(tmp_path, served, monkeypatch, caplog):
    folder = release_copy(tmp_path)
    (folder / "7_lucas_12.wav").unlink()
    archive, url = served
    release = {f"fsdd-1.0.10/recordings/{name}": (RECORDINGS / name).read_bytes() for name in SAMPLE}
    (archive / "fsdd.tar.gz").write_bytes(
        archive_of(release | {"fsdd-1.0.10/recordings/7_lucas_12.wav": (RECORDINGS / "7_lucas_12.wav").read_bytes()})
    )
    monkeypatch.setattr(fsdd, "ARCHIVE_URL", url + "fsdd.tar.gz")
    assert len(fsdd.recordings(tmp_path / "data")) == 3000
    assert (folder / "7_lucas_12.wav").read_bytes() == (RECORDINGS / "7_lucas_12.wav").read_bytes()
    assert (folder / "0_george_0.wav").is_symlink(), "a recording that was in place was replaced"
    assert "lacks 1 recording(s) (7_lucas_12.wav)" in caplog.text


def test_a_missing_recording_with_no_release_to_restore_it_from_is_one_error_naming_it(tmp_path, monkeypatch):
    monkeypatch.setattr(fsdd, "ARCHIVE_URL", "http://127.0.0.1:9/fsdd.tar.gz")
    (release_copy(tmp_path) / "7_lucas_12.wav").unlink()
    with pytest.raises(DataError, match=r"recordings lacks 1 recording\(s\) \(7_lucas_12.wav\): could not download"):
        fsdd.recordings(tmp_path / "data")


def test_a_release_whose_copy_of_a_missing_recording_differs_restores_nothing(tmp_path, served, monkeypatch):
    folder = release_copy(tmp_path)
    (folder / "7_lucas_12.wav").unlink()
    archive, url = served
    (archive / "fsdd.tar.gz").write_bytes(archive_of({"fsdd-1.0.10/recordings/7_lucas_12.wav": b"RIFF"}))
    monkeypatch.setattr(fsdd, "ARCHIVE_URL", url + "fsdd.tar.gz")
    with pytest.raises(DataError, match="does not hold release v1.0.10's 7_lucas_12.wav; nothing was kept"):
        fsdd.recordings(tmp_path / "data")
    assert not (folder / "7_lucas_12.wav").exists() and [p.name for p in folder.parent.iterdir()] == ["recordings"]


@pytest.mark.parametrize(
    ("unreadable", "message"),
    [
        ("folder", "a folder, not a recording"),
        ("named_pipe", "a named pipe, not a recording"),  # reading it would wait for a writer forever
        ("link_to_nothing", "cannot read it"),
    ],
)
def test_an_unreadable_recording_is_refused_naming_it(tmp_path, unreadable, message):
    path = release_copy(tmp_path) / "2_nicolas_8.wav"
    path.unlink()
    if unreadable == "folder":
        path.mkdir()
    elif unreadable == "named_pipe":
        os.mkfifo(path)
    else:
        path.symlink_to(tmp_path / "gone.wav")
    with pytest.raises(DataError, match=f"{path}: {message}"):
        fsdd.recordings(tmp_path / "data")


@pytest.mark.parametrize("thing", ["file", "link_to_nothing"])
def test_something_else_in_place_of_the_recordings_folder_is_refused(tmp_path, thing, monkeypatch):
    monkeypatch.setattr(fsdd, "ARCHIVE_URL", "http://127.0.0.1:9/fsdd.tar.gz")  # a download would be wrong: fail fast
    folder = tmp_path / "fsdd" / "recordings"
    folder.parent.mkdir()
    folder.write_bytes(b"x") if thing == "file" else folder.symlink_to(tmp_path / "moved")
    with pytest.raises(DataError, match=f"{folder} (is not a folder|is a link to .*moved, which does not exist)"):
        fsdd.recordings(tmp_path)


def test_an_error_page_in_place_of_the_archive_leaves_nothing(tmp_path, served):
    folder, url = served
    (folder / "fsdd.tar.gz").write_bytes(b"<html><body>rate limit exceeded</body></html>")
    target = tmp_path / "data" / "fsdd" / "recordings"
    with pytest.raises(DataError, match="could not download FSDD .*the archive is not a tar or zip archive"):
        fsdd.download(url + "fsdd.tar.gz", target)
    assert list(target.parent.iterdir()) == []
