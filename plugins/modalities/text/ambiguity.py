"""A generated tagging task where an ambiguous word's tag is decided by a cue exactly ``distance`` words earlier.

Each sentence is one or more clauses joined by "and" and closed by ".". A clause is a cue
word, ``distance - 1`` hesitation fillers and an ambiguous word::

    the  uh um  saw    → saw/NOUN   (cue: a determiner)
    they uh um  saw    → saw/VERB   (cue: a pronoun)

Fillers, conjunctions and punctuation are drawn independently of the cue, so nothing within
``distance - 1`` words of an ambiguous word says which tag it has: a tagger that sees ±k words
with ``k < distance`` can only guess (50 %), one that sees the cue can be exact.
"""

from __future__ import annotations

import random

from plugins.modalities.text.conllu_reader import TaggedSentence

CUES = {
    "NOUN": (("the", "DET"), ("a", "DET"), ("this", "DET"), ("every", "DET"), ("no", "DET")),
    "VERB": (("I", "PRON"), ("we", "PRON"), ("they", "PRON"), ("you", "PRON"), ("people", "NOUN")),
}
"""Cue words by the tag they give the ambiguous word of their clause."""
AMBIGUOUS = ("saw", "watch", "fly", "duck", "book", "play", "run", "walk", "talk", "dream", "drink", "cook")
FILLERS = ("uh", "um", "er", "hmm", "oh", "ah")
FILLER_TAG = "INTJ"


def clause(rng: random.Random, distance: int) -> list[tuple[str, str]]:
    """One cue, ``distance - 1`` fillers, one ambiguous word, as (word, tag) pairs."""
    decided = rng.choice(sorted(CUES))
    cue = rng.choice(CUES[decided])
    fillers = [(rng.choice(FILLERS), FILLER_TAG) for _ in range(distance - 1)]
    return [cue, *fillers, (rng.choice(AMBIGUOUS), decided)]


def sentence(rng: random.Random, distance: int, max_clauses: int) -> TaggedSentence:
    """One to ``max_clauses`` clauses joined by "and", ending in "."."""
    pairs: list[tuple[str, str]] = []
    for i in range(rng.randint(1, max_clauses)):
        if i:
            pairs.append(("and", "CCONJ"))
        pairs += clause(rng, distance)
    pairs.append((".", "PUNCT"))
    words, tags = zip(*pairs)
    return TaggedSentence(words, tags)


def max_sentence_length(distance: int, max_clauses: int) -> int:
    """Length of the longest sentence the grammar can produce."""
    return max_clauses * (distance + 2)


BYTES_PER_WORD = 200
"""Memory one generated word takes, as strings in lists and then encoded tensors (an upper estimate)."""


def memory_needed(sentences: int, distance: int, max_clauses: int) -> int:
    """Bytes that generating ``sentences`` sentences of the grammar may take at most."""
    return sentences * max_sentence_length(distance, max_clauses) * BYTES_PER_WORD


def generate(distance: int, max_clauses: int, sizes: dict[str, int], seed: int) -> dict[str, list[TaggedSentence]]:
    """``sizes[split]`` sentences per split, the same for the same arguments (each split has its own stream)."""
    return {
        split: [sentence(rng, distance, max_clauses) for _ in range(count)]
        for index, (split, count) in enumerate(sizes.items())
        for rng in [random.Random(f"{seed}:{index}:{split}")]
    }
