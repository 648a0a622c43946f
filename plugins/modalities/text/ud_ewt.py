"""Universal Dependencies English EWT (r2.16): verified download, parsing, and a parsed cache."""

from __future__ import annotations

import json
from pathlib import Path

from framework import Stale, cached, fetch
from plugins.modalities.text.conllu_reader import UPOS, TaggedSentence, read_conllu

RELEASE = "r2.16"
URL = f"https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/{RELEASE}/"
FOLDER = "ud_english_ewt"
FILES = {
    "train": ("en_ewt-ud-train.conllu", "sha256:3fb78e2b55482c8ee00caa653af436c88c9e5bc9a73ce26e4ae3ddc79d2b7e7b"),
    "val": ("en_ewt-ud-dev.conllu", "sha256:531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6"),
    "test": ("en_ewt-ud-test.conllu", "sha256:e266e515a0a7547657ed3d90d9ba46487d6bd251f27ad4269d4e8a427c8555cd"),
}
"""The official splits (dev is our validation split): file name and checksum."""

CACHE_FORMAT = 1
"""Version of the parsed cache's layout and of what the reader keeps; raise it when either changes."""


def file(split: str, data_dir: Path) -> Path:
    """One split's file in ``data_dir/ud_english_ewt``, downloaded if absent and checked against its checksum."""
    name, checksum = FILES[split]
    return fetch(data_dir / FOLDER / name, [URL + name], checksum)


def files(data_dir: Path) -> dict[str, Path]:
    """The three split files (see :func:`file`)."""
    return {split: file(split, data_dir) for split in FILES}


def load(data_dir: Path, cache_dir: Path) -> dict[str, list[TaggedSentence]]:
    """The three splits' sentences (see :func:`files`).

    Parsing the 14 MB training file takes seconds, so each parsed split is cached under
    ``cache_dir``, named by its file's checksum, which is also stored inside and checked; a cache
    that cannot be read, or holds anything else, is rebuilt.
    """
    return {split: parsed(path, FILES[split][1], cache_dir / FOLDER) for split, path in files(data_dir).items()}


def parsed(path: Path, checksum: str, cache_folder: Path) -> list[TaggedSentence]:
    """The sentences of the CoNLL-U file ``path`` (of checksum ``checksum``), through a cache in ``cache_folder``."""
    source = {"file": path.name, "checksum": checksum, "format": CACHE_FORMAT}

    def encode(sentences: list[TaggedSentence]) -> bytes:
        return json.dumps({"source": source, "sentences": [[s.words, s.tags] for s in sentences]}).encode()

    def decode(data: bytes) -> list[TaggedSentence]:
        cache = json.loads(data)
        if cache["source"] != source:
            raise Stale(f"made from {cache['source']}, expected {source}")
        rows = cache["sentences"]
        if not rows or not all(_well_formed(*row) for row in rows):
            raise ValueError("a sentence is empty, or is not a list of words with as many UPOS tags")
        return [TaggedSentence(tuple(words), tuple(tags)) for words, tags in rows]

    return cached(
        cache_folder / f"{path.name}.{checksum.partition(':')[2][:16]}.json", lambda: read_conllu(path), encode, decode
    )


def _well_formed(words: object, tags: object) -> bool:
    return (
        isinstance(words, list)
        and isinstance(tags, list)
        and 0 < len(words) == len(tags)
        and all(isinstance(word, str) for word in words)
        and all(tag in UPOS for tag in tags)
    )
