"""Word and character vocabularies built from the training split, and the word subsets scored on their own."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from framework import ConfigError
from plugins.modalities.text.conllu_reader import TaggedSentence

PAD, UNK = 0, 1
"""Reserved ids in both vocabularies: padding and unknown."""
RESERVED = ("<pad>", "<unk>")


@dataclass(frozen=True)
class Vocabulary:
    """Ids for word forms and characters seen in training.

    Attributes:
        words: form (lower-cased when ``lowercase``) → id; ids 0 and 1 are padding and unknown.
        chars: character → id, from the original (cased) forms; same reserved ids.
        lowercase: whether word forms are lower-cased before lookup (characters never are).
    """

    words: dict[str, int]
    chars: dict[str, int]
    lowercase: bool

    @classmethod
    def build(cls, sentences: Iterable[TaggedSentence], min_freq: int, lowercase: bool) -> Vocabulary:
        """Keeps the forms that occur at least ``min_freq`` times, most frequent first.

        Raises :class:`ConfigError` (key ``min_freq``) when no form is that frequent.
        """
        forms: Counter[str] = Counter()
        chars: set[str] = set()
        for sentence in sentences:
            forms.update(word.lower() if lowercase else word for word in sentence.words)
            chars.update(*sentence.words)
        kept = [form for form, count in forms.most_common() if count >= min_freq]
        if not kept:
            top = forms.most_common(1)[0][1] if forms else 0
            raise ConfigError(
                "min_freq", min_freq, f"leaves an empty vocabulary: the most frequent training word occurs {top} times"
            )
        return cls(
            words={form: i for i, form in enumerate([*RESERVED, *kept])},
            chars={char: i for i, char in enumerate([*RESERVED, *sorted(chars)])},
            lowercase=lowercase,
        )

    def normalise(self, word: str) -> str:
        """The form under which ``word`` is looked up."""
        return word.lower() if self.lowercase else word

    def word_id(self, word: str) -> int:
        """``word``'s id, or :data:`UNK` when it is not in the vocabulary."""
        return self.words.get(self.normalise(word), UNK)

    def char_ids(self, word: str, limit: int) -> list[int]:
        """Ids of ``word``'s first ``limit`` characters (:data:`UNK` for characters unseen in training)."""
        return [self.chars.get(char, UNK) for char in word[:limit]]

    def spell(self, char_ids: Iterable[int]) -> str:
        """The word spelled by ``char_ids`` (padding skipped; a character unseen in training reads ``?``)."""
        return "".join("?" if i == UNK else self._char_of[i] for i in char_ids if i != PAD)

    @cached_property
    def _char_of(self) -> dict[int, str]:
        return {i: char for char, i in self.chars.items()}


def ambiguous_forms(sentences: Iterable[TaggedSentence], vocabulary: Vocabulary) -> frozenset[str]:
    """Normalised forms that carry two or more different tags in ``sentences`` (the training split)."""
    tags: defaultdict[str, set[str]] = defaultdict(set)
    for sentence in sentences:
        for word, tag in zip(sentence.words, sentence.tags):
            tags[vocabulary.normalise(word)].add(tag)
    return frozenset(form for form, seen in tags.items() if len(seen) > 1)
