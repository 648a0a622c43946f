"""Bad data on every data path: each fault is a one-line DataError naming the file, or a rebuild; never wrong data.

Verified files (every file with a declared checksum), downloads (cut short, seen before they
are verified, left over by an interrupted run), archives (corrupt, escaping their folder) and
the derived caches of each modality (garbage, a folder or a link to nothing in their place,
made from other inputs).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import tarfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import DATA_DIR
from torchvision.datasets import MNIST

from framework.core.errors import DataError
from framework.io.atomic import write_atomic
from framework.io.download import extract, fetch, file_digest
from plugins.modalities.graph import planetoid
from plugins.modalities.image import files as image_files
from plugins.modalities.speech import SpeechModality, fsdd
from plugins.modalities.text import ud_ewt

# --- every verified file -----------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    """A file with a declared checksum: where it lies under the data folder, and the plugin call that reads it."""

    path: str
    checksum: str
    open: Callable[[Path], Path]


def verified_files() -> dict[str, Verified]:
    files = {}
    for split, (name, checksum) in ud_ewt.FILES.items():
        files[f"ewt-{split}"] = Verified(
            f"{ud_ewt.FOLDER}/{name}", checksum, lambda d, split=split: ud_ewt.file(split, d)
        )
    for name, parts in planetoid.SHA256.items():
        for part, sha256 in parts.items():
            path = f"planetoid/{planetoid.NAMES[name]}/raw/ind.{name}.{part}"
            files[f"{name}-{part}"] = Verified(
                path, f"sha256:{sha256}", lambda d, name=name, part=part: planetoid.raw_file(name, part, d)
            )
    for name, md5 in MNIST.resources:
        files[f"mnist-{name}"] = Verified(
            f"mnist/MNIST/raw/{name}", f"md5:{md5}", lambda d, name=name: image_files.mnist_file(d, name)
        )
    return {
        key: file for key, file in files.items() if (DATA_DIR / file.path).is_file()
    }  # PubMed's allx and MNIST's training images are not in the snapshot


VERIFIED = verified_files()


@pytest.mark.parametrize("key", VERIFIED)
def test_every_declared_checksum_matches_the_shared_copy(key):
    file = VERIFIED[key]
    algorithm, _, digest = file.checksum.partition(":")
    assert file_digest(DATA_DIR / file.path, algorithm) == digest


@pytest.mark.parametrize("key", VERIFIED)
def test_a_verified_file_with_one_byte_changed_is_refused_naming_it(tmp_path, key):
    file = VERIFIED[key]
    changed = bytearray((DATA_DIR / file.path).read_bytes())
    changed[len(changed) // 2] ^= 0x01
    target = tmp_path / "data" / file.path
    target.parent.mkdir(parents=True)
    target.write_bytes(bytes(changed))
    with pytest.raises(DataError, match=f"{re.escape(str(target))} is corrupt or truncated .*delete it and run again"):
        file.open(tmp_path / "data")


SOURCES = {"ewt": "ewt-val", "planetoid": "cora-graph", "mnist": "mnist-t10k-labels-idx1-ubyte.gz"}
"""One verified file of each data source."""


@pytest.mark.parametrize("source", SOURCES)
def test_a_folder_in_place_of_a_verified_file_is_refused_naming_it(tmp_path, source):
    file = VERIFIED[SOURCES[source]]
    (tmp_path / "data" / file.path).mkdir(parents=True)
    with pytest.raises(
        DataError, match=f"{re.escape(str(tmp_path / 'data' / file.path))} is a folder, not a file; delete it"
    ):
        file.open(tmp_path / "data")


@pytest.mark.parametrize("source", SOURCES)
def test_a_link_to_nothing_in_place_of_a_verified_file_is_refused_naming_it(tmp_path, source):
    file = VERIFIED[SOURCES[source]]
    link = tmp_path / "data" / file.path
    link.parent.mkdir(parents=True)
    link.symlink_to(tmp_path / "moved" / link.name)
    with pytest.raises(
        DataError, match=f"{re.escape(str(link))} is a link to .*moved/{re.escape(link.name)}, which does not exist"
    ):
        file.open(tmp_path / "data")


# --- downloads ---------------------------------------------------------------------------------


class Sender(BaseHTTPRequestHandler):
    """Sends half a file's body; then stops (``cut``), or records the server's ``midway()``, then sends the rest."""

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        body = self.server.files.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        half = len(body) // 2
        try:
            self.wfile.write(body[:half])
            self.wfile.flush()
            if self.server.cut:
                return
            self.server.seen.append(self.server.midway())
            self.wfile.write(body[half:])
        except (BrokenPipeError, ConnectionResetError):  # torchvision's redirect probe reads the headers only
            pass

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def sender():
    """Starts loopback HTTP servers of :class:`Sender`.

    ``sender(files, cut=..., midway=...)`` returns the server and its URL.
    """
    servers = []

    def start(
        files: dict[str, bytes], cut: bool = False, midway: Callable[[], object] = lambda: None
    ) -> tuple[ThreadingHTTPServer, str]:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Sender)
        server.files, server.cut, server.midway, server.seen = files, cut, midway, []
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server, f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


PAYLOAD = bytes(range(256)) * 800
"""200 kB to download."""
PAYLOAD_SHA256 = "sha256:" + hashlib.sha256(PAYLOAD).hexdigest()
SAMPLE = ["0_george_0.wav", "1_jackson_3.wav", "9_theo_49.wav"]


def fsdd_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in SAMPLE:
            archive.add(DATA_DIR / "fsdd" / "recordings" / name, arcname=f"fsdd-1.0.10/recordings/{name}")
    return buffer.getvalue()


def sample_hashes(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "expected"
    folder.mkdir()
    for name in SAMPLE:
        (folder / name).symlink_to(DATA_DIR / "fsdd" / "recordings" / name)
    return fsdd.file_hashes(folder)


def test_a_file_download_cut_short_is_refused_and_nothing_is_kept(tmp_path, sender):
    _, url = sender({"payload.bin": PAYLOAD}, cut=True)
    target = tmp_path / "data" / "payload.bin"
    with pytest.raises(DataError, match="could not download payload.bin .*checksum differs"):
        fetch(target, [url + "payload.bin"], PAYLOAD_SHA256)
    assert list(target.parent.iterdir()) == []


def test_an_archive_download_cut_short_is_refused_and_nothing_is_kept(tmp_path, sender):
    _, url = sender({"fsdd.tar.gz": fsdd_archive()}, cut=True)
    target = tmp_path / "data" / "fsdd" / "recordings"
    with pytest.raises(DataError, match="could not download FSDD .*the archive is corrupt or cut short"):
        fsdd.download(url + "fsdd.tar.gz", target, expected=sample_hashes(tmp_path))
    assert list(target.parent.iterdir()) == []


def files_beside(target: Path) -> Callable[[], tuple[bool, int]]:
    """What a download into ``target`` has written once it has begun writing (the server waits on this with the
    second half unsent): whether ``target`` exists, how many files lie beside it."""

    def written() -> int:
        return sum(path.is_file() for path in target.parent.rglob("*")) if target.parent.exists() else 0

    def seen() -> tuple[bool, int]:
        hang_guard = time.monotonic() + 120
        while not written() and time.monotonic() < hang_guard:  # the client opens its file as the body arrives
            time.sleep(0.01)
        return target.exists(), written()

    return seen


def test_a_file_download_is_not_at_its_final_name_until_verified(tmp_path, sender):
    target = tmp_path / "data" / "payload.bin"
    server, url = sender({"payload.bin": PAYLOAD}, midway=files_beside(target))
    fetch(target, [url + "payload.bin"], PAYLOAD_SHA256)
    assert target.read_bytes() == PAYLOAD
    assert not any(final for final, _ in server.seen) and any(written for _, written in server.seen)


def test_an_archive_download_is_not_at_its_final_name_until_verified(tmp_path, sender):
    target = tmp_path / "data" / "fsdd" / "recordings"
    server, url = sender({"fsdd.tar.gz": fsdd_archive()}, midway=files_beside(target))
    fsdd.download(url + "fsdd.tar.gz", target, expected=sample_hashes(tmp_path))
    assert sorted(path.name for path in target.iterdir()) == sorted(SAMPLE)
    assert not any(final for final, _ in server.seen) and any(written for _, written in server.seen)


def test_a_partial_download_left_by_an_interrupted_run_is_not_taken_for_the_file(tmp_path, served):
    folder, url = served
    (folder / "payload.bin").write_bytes(PAYLOAD)
    target = tmp_path / "data" / "payload.bin"
    target.parent.mkdir()
    (target.parent / ".payload.bin.part").write_bytes(PAYLOAD[:1000])  # where an earlier version downloaded to
    fetch(target, [url + "payload.bin"], PAYLOAD_SHA256)
    assert target.read_bytes() == PAYLOAD


def test_writers_of_the_same_file_never_trip_over_each_other(tmp_path):
    target, errors = tmp_path / "cache" / "features.pt", []

    def write(payload: bytes) -> None:
        try:
            for _ in range(300):
                write_atomic(target, payload)
        except OSError as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(bytes([i]) * 100_000,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and target.read_bytes() in (bytes([0]) * 100_000, bytes([1]) * 100_000)
    assert [path.name for path in target.parent.iterdir()] == [target.name]


# --- archives ----------------------------------------------------------------------------------


NOISE = np.random.default_rng(0).bytes(100_000)
"""Archive contents that do not compress, so that half an archive is half its contents."""


def tar_of(*members: tarfile.TarInfo) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member in members:
            archive.addfile(member, io.BytesIO(NOISE[: member.size]) if member.isfile() else None)
    return buffer.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", size: int = 1) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, size if kind == tarfile.REGTYPE else 0
    return info


def zip_of(files: dict[str, bytes], stored: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def flipped_at(data: bytes, marker: bytes) -> bytes:
    """``data`` with the byte at the first ``marker`` changed."""
    changed = bytearray(data)
    changed[data.index(marker)] ^= 0xFF
    return bytes(changed)


GOOD_TAR = tar_of(member("release/recordings/a.wav", size=100_000))
CORRUPT = {
    "html_error_page": (b"<html><body>404 Not Found</body></html>", "is not a tar or zip archive"),
    "empty": (b"", "is not a tar or zip archive"),
    "gzip_of_no_tar": (gzip.compress(b"plain text " * 100), "is not a tar or zip archive"),
    "tar_gz_cut_short": (GOOD_TAR[: len(GOOD_TAR) // 2], "is corrupt or cut short"),
    "zip_cut_short": (zip_of({"a.bin": NOISE})[:50_000], "is not a tar or zip archive"),
    "zip_with_a_bad_crc": (
        flipped_at(zip_of({"a.txt": b"payload!" * 100}, stored=True), b"payload!"),
        "is corrupt or cut short",
    ),
}


@pytest.mark.parametrize("kind", CORRUPT)
def test_a_corrupt_archive_is_refused_naming_it(tmp_path, kind):
    data, message = CORRUPT[kind]
    archive = tmp_path / "download.archive"
    archive.write_bytes(data)
    with pytest.raises(DataError, match=f"{re.escape(str(archive))} {message}"):
        extract(archive, tmp_path / "unpacked")


ESCAPING = {
    "tar_parent_path": tar_of(member("../escaped.txt")),
    "tar_deep_parent_path": tar_of(member("release/../../escaped.txt")),
    "tar_link_out": tar_of(member("release/link", tarfile.SYMTYPE, "../../outside")),
    "tar_absolute_link": tar_of(member("release/link", tarfile.SYMTYPE, "/etc/passwd")),
    "tar_hard_link_out": tar_of(member("release/hard", tarfile.LNKTYPE, "../outside/escaped.txt")),
    "tar_device": tar_of(member("release/device", tarfile.CHRTYPE)),
    "zip_parent_path": zip_of({"../escaped.txt": b"x"}),
    "zip_absolute_path": zip_of({"/tmp/escaped.txt": b"x"}),
}


@pytest.mark.parametrize("kind", ESCAPING)
def test_an_archive_member_escaping_its_folder_is_refused(tmp_path, kind):
    archive = tmp_path / "download.archive"
    archive.write_bytes(ESCAPING[kind])
    into = tmp_path / "scratch" / "unpacked"
    into.parent.mkdir()
    with pytest.raises(DataError, match=f"{re.escape(str(archive))} is unsafe"):
        extract(archive, into)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["download.archive", "scratch"]
    assert [path.name for path in (tmp_path / "scratch").iterdir()] in ([], ["unpacked"])


@pytest.mark.parametrize(
    "archive", [tar_of(member("release/a.bin", size=100_000)), zip_of({"release/a.bin": NOISE})], ids=["tar_gz", "zip"]
)
def test_a_sound_archive_unpacks_into_its_folder(tmp_path, archive):
    (tmp_path / "download.archive").write_bytes(archive)
    extract(tmp_path / "download.archive", tmp_path / "unpacked")
    assert (tmp_path / "unpacked" / "release" / "a.bin").read_bytes() == NOISE


# --- derived caches ----------------------------------------------------------------------------


class Cache:
    """A modality's derived cache on small inputs: ``load(variant)`` gives input 0's or 1's value, through the cache.

    ``files[variant]`` is the cache file the first ``load(variant)`` wrote.
    """

    pattern = "*"

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp_path, self.root, self.files = tmp_path, tmp_path / "cache", {}

    def load(self, variant: int):
        before = set(self.root.rglob(self.pattern))
        value = self.compute(variant)
        if variant not in self.files:
            (self.files[variant],) = set(self.root.rglob(self.pattern)) - before
        return value

    def compute(self, variant: int):
        raise NotImplementedError

    def same(self, a, b) -> bool:
        raise NotImplementedError


class TextParsed(Cache):
    """UD EWT's parsed-sentence cache, on two small CoNLL-U files."""

    pattern = "*.json"

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(tmp_path, monkeypatch)
        self.sources = []
        for variant, words in enumerate([("cats", "purr"), ("dogs", "bark", "loudly")]):
            path = tmp_path / f"sample-{variant}.conllu"
            path.write_text(
                "".join(f"{i}\t{w}\t{w}\tNOUN\tNN\t_\t0\troot\t_\t_\n" for i, w in enumerate(words, 1)) + "\n"
            )
            self.sources.append((path, f"sha256:{file_digest(path, 'sha256')}"))

    def compute(self, variant: int):
        return ud_ewt.parsed(*self.sources[variant], self.root / ud_ewt.FOLDER)

    def same(self, a, b) -> bool:
        return a == b


SPEECH = dict(
    name="speech",
    dataset="fsdd",
    task="utterance",
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
    batch_size=4,
    eval_batch_size=4,
    num_workers=0,
    seed=0,
)


class SpeechFeatures(Cache):
    """The speech feature cache (40 or 80 mel bands), on a release of twelve recordings."""

    pattern = "*.pt"

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(tmp_path, monkeypatch)
        recordings = tmp_path / "data" / "fsdd" / "recordings"
        recordings.mkdir(parents=True)
        for name in (f"{digit}_george_{index}.wav" for digit in (0, 1) for index in (0, 1, 5, 6, 10, 11)):
            (recordings / name).symlink_to(DATA_DIR / "fsdd" / "recordings" / name)
        hashes = fsdd.file_hashes(recordings)
        monkeypatch.setattr(fsdd, "release_files", lambda: hashes)

    def compute(self, variant: int):
        speech = SpeechModality(
            **SPEECH, bands=(40, 80)[variant], data_dir=str(self.tmp_path / "data"), cache_dir=str(self.root)
        )
        return speech._cached_arrays()

    def same(self, a, b) -> bool:
        return a.keys() == b.keys() and all(
            a[s].keys() == b[s].keys()
            and all(a[s][k].shape == b[s][k].shape and torch.equal(a[s][k], b[s][k]) for k in a[s])
            for s in a
        )


class MnistDecoded(Cache):
    """MNIST's decompressed test labels and images."""

    pattern = "t10k-*"
    FILES = [("t10k-labels-idx1-ubyte.gz", (10000,)), ("t10k-images-idx3-ubyte.gz", (10000, 28, 28))]

    def compute(self, variant: int):
        return image_files.mnist_array(DATA_DIR, self.root, *self.FILES[variant])

    def same(self, a, b) -> bool:
        return a.shape == b.shape and np.array_equal(a, b)


class GraphParsed(Cache):
    """The parsed Planetoid graph, of CiteSeer and Cora."""

    pattern = "graph-*.pt"

    def compute(self, variant: int):
        return planetoid.load(("citeseer", "cora")[variant], DATA_DIR, self.root)

    def same(self, a, b) -> bool:
        return a.num_nodes == b.num_nodes and torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index)


CACHES = {"text": TextParsed, "speech": SpeechFeatures, "mnist": MnistDecoded, "graph": GraphParsed}


class RunsCode:
    """An object whose pickle, when unpickled, runs code: it creates the file ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def code_running_pickle(marker: Path) -> bytes:
    """A torch file that creates ``marker`` when it is loaded without ``weights_only``."""
    buffer = io.BytesIO()
    torch.save({"settings": "{}", "payload": RunsCode(marker)}, buffer)
    return buffer.getvalue()


def foreign_torch_file(data: bytes) -> bytes:
    buffer = io.BytesIO()
    torch.save({"settings": "{}", "splits": {}, "x": torch.zeros(3)}, buffer)
    return buffer.getvalue()


DAMAGE = {
    "garbage": lambda data: NOISE[:5000],
    "cut_in_half": lambda data: data[: len(data) // 2],
    "empty": lambda data: b"",
    "another_torch_file": foreign_torch_file,
}


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("kind", CACHES)
def test_a_damaged_cache_file_is_rebuilt(tmp_path, monkeypatch, kind, damage):
    cache = CACHES[kind](tmp_path, monkeypatch)
    fresh = cache.load(1)
    cache.files[1].write_bytes(DAMAGE[damage](cache.files[1].read_bytes()))
    assert cache.same(cache.load(1), fresh)
    assert cache.same(cache.load(1), fresh)  # and the rebuilt file reads back


@pytest.mark.parametrize("kind", CACHES)
def test_a_cache_file_holding_a_code_running_pickle_is_rebuilt_without_running_it(tmp_path, monkeypatch, kind):
    cache, marker = CACHES[kind](tmp_path, monkeypatch), tmp_path / "the-payload-ran"
    fresh = cache.load(1)
    cache.files[1].write_bytes(code_running_pickle(marker))

    assert cache.same(cache.load(1), fresh)
    assert not marker.exists()


@pytest.mark.parametrize("kind", CACHES)
def test_a_cache_file_made_from_other_inputs_is_not_used(tmp_path, monkeypatch, kind):
    cache = CACHES[kind](tmp_path, monkeypatch)
    other, fresh = cache.load(0), cache.load(1)
    cache.files[1].write_bytes(cache.files[0].read_bytes())
    assert not cache.same(other, fresh)
    assert cache.same(cache.load(1), fresh)


@pytest.mark.parametrize("kind", CACHES)
def test_a_cache_link_to_nothing_is_rebuilt(tmp_path, monkeypatch, kind):
    cache = CACHES[kind](tmp_path, monkeypatch)
    fresh = cache.load(1)
    cache.files[1].unlink()
    cache.files[1].symlink_to(tmp_path / "gone")
    assert cache.same(cache.load(1), fresh)


def test_a_feature_cache_with_these_settings_but_arrays_that_do_not_fit_is_rebuilt(tmp_path, monkeypatch):
    cache = SpeechFeatures(tmp_path, monkeypatch)
    fresh = cache.load(1)
    stored = torch.load(cache.files[1], weights_only=True)
    stored["splits"]["val"]["lengths"] = stored["splits"]["val"]["lengths"][
        1:
    ]  # one utterance fewer than its frames and label
    torch.save(stored, cache.files[1])
    assert cache.same(cache.load(1), fresh)


@pytest.mark.parametrize("thing", ["folder", "named pipe"])
@pytest.mark.parametrize("kind", CACHES)
def test_what_is_no_file_in_place_of_a_cache_file_is_refused_naming_it_without_reading_it(
    tmp_path, monkeypatch, kind, thing
):
    cache = CACHES[kind](tmp_path, monkeypatch)
    cache.load(1)
    cache.files[1].unlink()
    if thing == "folder":
        (cache.files[1] / "something").mkdir(parents=True)
    else:
        os.mkfifo(cache.files[1])
    with pytest.raises(
        DataError, match=f"{re.escape(str(cache.files[1]))} is a {thing} where a cache file belongs; remove it"
    ):
        cache.load(1)


@pytest.mark.parametrize("kind", CACHES)
def test_a_cache_folder_that_cannot_be_written_is_refused_naming_it(tmp_path, monkeypatch, kind):
    cache = CACHES[kind](tmp_path, monkeypatch)
    cache.root.write_bytes(b"a file where the cache folder belongs")
    with pytest.raises(
        DataError, match=f"cannot write the cache file {re.escape(str(cache.root))}/.*choose another cache_dir"
    ):
        cache.load(1)


# --- what the user sees ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["folder", "named pipe"])
def test_a_data_file_that_is_no_file_stops_a_run_with_one_line_naming_it(tmp_path, cli, kind):
    raw = tmp_path / "data" / "planetoid" / "Cora" / "raw"
    raw.mkdir(parents=True)
    for path in (DATA_DIR / "planetoid" / "Cora" / "raw").iterdir():
        (raw / path.name).symlink_to(path)
    (raw / "ind.cora.tx").unlink()
    if kind == "folder":
        (raw / "ind.cora.tx").mkdir()
    else:
        os.mkfifo(raw / "ind.cora.tx")  # reading it would wait for a writer forever
    result = cli("modality=graph", "model=gnn", "trainer=debug", "logger=none", f"data_dir={tmp_path / 'data'}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip().splitlines()[-1]
        == f"error: {raw / 'ind.cora.tx'} is a {kind}, not a file; delete it and run again to download it afresh"
    )


def test_a_graph_run_never_runs_a_pickle_planted_in_its_cache(tmp_path, cli):
    cache, marker = tmp_path / "cache", tmp_path / "the-payload-ran"
    planted = [planetoid.cache_file("cora", cache), cache / "planetoid" / "Cora" / "processed" / "data.pt"]
    for path in planted:  # the arena's cache file, and where PyG keeps its processed file
        path.parent.mkdir(parents=True)
        path.write_bytes(code_running_pickle(marker))

    result = cli("modality=graph", "model=gnn", "trainer=debug", "logger=none", f"cache_dir={cache}")

    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    assert torch.load(planted[0], weights_only=True)["graph"]["x"].shape == (2708, 1433)  # rebuilt as tensors
