"""Reading Universal Dependencies CoNLL-U files into (words, UPOS tags) sentences."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import conllu

from framework import DataError

UPOS = (
    "ADJ",
    "ADP",
    "ADV",
    "AUX",
    "CCONJ",
    "DET",
    "INTJ",
    "NOUN",
    "NUM",
    "PART",
    "PRON",
    "PROPN",
    "PUNCT",
    "SCONJ",
    "SYM",
    "VERB",
    "X",
)
"""The 17 universal part-of-speech tags, in the order UD lists them."""

COLUMNS = 10


@dataclass(frozen=True)
class TaggedSentence:
    """One sentence's syntactic words and their UPOS tags."""

    words: tuple[str, ...]
    tags: tuple[str, ...]


def _blocks(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Sentence blocks as (line number of the first line, lines), split at blank lines."""
    block: list[str] = []
    start = 1
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\n")
            if line.strip():
                if not block:
                    start = number
                block.append(line)
            elif block:
                yield start, block
                block = []
    if block:
        yield start, block


def _sentence(path: Path, start: int, lines: list[str]) -> TaggedSentence:
    for offset, line in enumerate(lines):
        if not line.startswith("#") and line.count("\t") != COLUMNS - 1:
            raise DataError(f"{path}:{start + offset}: a token line needs {COLUMNS} tab-separated columns: {line!r}")
    try:
        (tokens,) = conllu.parse("\n".join(lines) + "\n\n")
    except Exception as error:  # conllu raises ParseException and ValueError subclasses
        raise DataError(
            f"{path}:{start + _first_bad_line(lines)}: malformed token line ({error}): "
            f"{lines[_first_bad_line(lines)]!r}"
        ) from None
    words, tags = [], []
    for token in tokens:
        if not isinstance(token["id"], int):  # (1, '-', 2) multiword range or (8, '.', 1) empty node
            continue
        if token["upos"] not in UPOS:
            raise DataError(
                f"{path}: sentence at line {start}: word {token['form']!r} has unknown UPOS tag {token['upos']!r}"
            )
        words.append(token["form"])
        tags.append(token["upos"])
    if not words:
        raise DataError(f"{path}:{start}: sentence has no words")
    return TaggedSentence(tuple(words), tuple(tags))


def _first_bad_line(lines: list[str]) -> int:
    """Index of the first token line the parser rejects on its own (the sentence's first line if none does)."""
    for offset, line in enumerate(lines):
        if line.startswith("#"):
            continue
        try:
            conllu.parse(line + "\n\n")
        except Exception:  # noqa: BLE001 - any parser complaint marks the line
            return offset
    return 0


def read_conllu(path: Path) -> list[TaggedSentence]:
    """All sentences of a CoNLL-U file, skipping multiword-token ranges and empty nodes.

    Raises :class:`DataError` naming the file and line for a malformed line, and for a file
    that is missing or not UTF-8 text.
    """
    try:
        return [_sentence(path, start, lines) for start, lines in _blocks(path)]
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read {path}: {error}") from None
