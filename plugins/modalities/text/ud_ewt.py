"""Universal Dependencies English EWT (r2.16): verified download, parsing, and a parsed cache."""

from __future__ import annotations

import json
from pathlib import Path

from framework.atomic import write_atomic
from framework.download import fetch
from plugins.modalities.text.conllu_reader import TaggedSentence, read_conllu

RELEASE = "r2.16"
URL = f"https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/{RELEASE}/"
FOLDER = "ud_english_ewt"
FILES = {
    "train": ("en_ewt-ud-train.conllu", "sha256:3fb78e2b55482c8ee00caa653af436c88c9e5bc9a73ce26e4ae3ddc79d2b7e7b"),
    "val": ("en_ewt-ud-dev.conllu", "sha256:531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6"),
    "test": ("en_ewt-ud-test.conllu", "sha256:e266e515a0a7547657ed3d90d9ba46487d6bd251f27ad4269d4e8a427c8555cd"),
}
"""The official splits (dev is our validation split): file name and checksum."""


def files(data_dir: Path) -> dict[str, Path]:
    """The three split files in ``data_dir/ud_english_ewt``, downloaded if absent and checked against their checksums."""
    return {split: fetch(data_dir / FOLDER / name, [URL + name], checksum) for split, (name, checksum) in FILES.items()}


def load(data_dir: Path, cache_dir: Path) -> dict[str, list[TaggedSentence]]:
    """The three splits' sentences (see :func:`files`).

    Parsing the 14 MB training file takes seconds, so each parsed split is cached under
    ``cache_dir`` keyed by its checksum; a cache that cannot be read is rebuilt.
    """
    return {
        split: _cached(path, cache_dir / FOLDER / f"{path.name}.{FILES[split][1].split(':')[1][:16]}.json")
        for split, path in files(data_dir).items()
    }


def _cached(path: Path, cache: Path) -> list[TaggedSentence]:
    try:
        rows = json.loads(cache.read_text(encoding="utf-8"))
        return [TaggedSentence(tuple(words), tuple(tags)) for words, tags in rows]
    except (OSError, ValueError, TypeError):
        sentences = read_conllu(path)
        write_atomic(cache, json.dumps([[s.words, s.tags] for s in sentences]).encode())
        return sentences
