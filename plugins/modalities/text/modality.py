"""Text modality: part-of-speech tagging; every word is one element, its index the position, its UPOS tag the label."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from framework import (
    AttentionRows,
    ConfigError,
    Layout,
    Modality,
    ModalitySpec,
    SequenceSets,
    Target,
    VectorSet,
    band_edges,
    one_of,
    physical_memory,
    require,
    require_fits,
)
from plugins.modalities.text import ambiguity, ud_ewt
from plugins.modalities.text.conllu_reader import UPOS, TaggedSentence
from plugins.modalities.text.draw import attention_figure
from plugins.modalities.text.embedding import TokenEmbedding
from plugins.modalities.text.vocabulary import PAD, UNK, Vocabulary, ambiguous_forms

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DATASETS = ("ud_ewt", "ambiguity")
SUBSETS = ("ambiguous", "unknown")
"""Words scored on their own: forms seen with two or more tags in training, and forms not in the vocabulary."""
TAG_IDS = {tag: i for i, tag in enumerate(UPOS)}


class TaggedSets(SequenceSets):
    """Encoded sentences: ``x`` is ``[T, 1 + C]`` (word id, then character ids), ``y`` the tag ids.

    A batch keeps only as many character columns as its longest word needs.
    """

    def __init__(self, tokens: Tensor, tags: Tensor, subsets: Tensor, lengths: Tensor) -> None:
        super().__init__(tokens, lengths, tags, Target.ELEMENT, subsets)
        self.chars = (tokens[:, 1:] != PAD).sum(dim=1)

    def features(self, flat: Tensor, mask: Tensor) -> Tensor:
        return self.x[flat, : 1 + int(self.chars[flat[mask]].max())]


def encode(
    sentences: Sequence[TaggedSentence], vocabulary: Vocabulary, ambiguous: frozenset[str], max_word_chars: int
) -> TaggedSets:
    """Word ids, character ids, tag ids and ambiguous/unknown flags for every word of ``sentences``."""
    forms: dict[str, int] = {}  # each distinct form is encoded once, then gathered per word
    occurrences = torch.tensor([forms.setdefault(word, len(forms)) for s in sentences for word in s.words])
    width = min(max_word_chars, max(map(len, forms), default=0))  # no wider than the longest word
    by_form = torch.zeros(len(forms), 1 + width, dtype=torch.long)
    flags = torch.zeros(len(forms), len(SUBSETS), dtype=torch.bool)
    for i, form in enumerate(forms):
        chars = vocabulary.char_ids(form, width)
        by_form[i, 0] = vocabulary.word_id(form)
        by_form[i, 1 : 1 + len(chars)] = torch.tensor(chars)
        flags[i] = torch.tensor([vocabulary.normalise(form) in ambiguous, by_form[i, 0] == UNK])
    tags = torch.tensor([TAG_IDS[tag] for s in sentences for tag in s.tags])
    lengths = torch.tensor([len(s.words) for s in sentences])
    return TaggedSets(by_form[occurrences], tags, flags[occurrences], lengths)


class TextModality(Modality):
    """Part-of-speech tagging (17 UPOS tags) on a real treebank or on a generated ambiguity task.

    Args:
        dataset: ``ud_ewt`` (UD English EWT, official train/dev/test) or ``ambiguity`` (generated).
        train_fraction: share of the training sentences used, drawn from the seed.
        max_length: longest sentence accepted; also sizes learned position tables.
        min_freq: training occurrences a word form needs to get its own id.
        lowercase: look words up lower-cased (characters keep their case).
        word_dropout: probability of hiding a known word behind the unknown id while training.
        word_dim: width of the word embedding.
        char_dim: width of the character embedding.
        char_channels: width of the character-level word encoding; 0 turns it off.
        max_word_chars: characters of each word the character encoder reads.
        distance: ``ambiguity`` only: words between an ambiguous word and the cue that decides its tag.
        max_clauses: ``ambiguity`` only: clauses per sentence (1 to this many).
        sentences: ``ambiguity`` only: training sentences; validation and test get a quarter each.
        data_seed: ``ambiguity`` only: fixes the generated sentences (independent of the training seed).
        attention_scope: the scope attending models use on text.
        edge_window: the derived graph joins each word to the words within ``±edge_window`` (1 = the chain).
        **loader: see :class:`~framework.Modality`.
    """

    def __init__(
        self,
        name: str,
        dataset: str,
        train_fraction: float,
        max_length: int,
        min_freq: int,
        lowercase: bool,
        word_dropout: float,
        word_dim: int,
        char_dim: int,
        char_channels: int,
        max_word_chars: int,
        distance: int,
        max_clauses: int,
        sentences: int,
        data_seed: int,
        attention_scope: str,
        edge_window: int,
        **loader,
    ) -> None:
        super().__init__(name=name, **loader)
        one_of("dataset", dataset, DATASETS)
        require(0 < train_fraction <= 1, "train_fraction", train_fraction, "must be in (0, 1]")
        require(max_length > 0, "max_length", max_length, "must be a positive integer")
        require(min_freq >= 1, "min_freq", min_freq, "must be 1 or more (training occurrences)")
        require(0 <= word_dropout < 1, "word_dropout", word_dropout, "must be in [0, 1)")
        require(word_dim > 0, "word_dim", word_dim, "must be a positive integer")
        require(char_dim > 0, "char_dim", char_dim, "must be a positive integer")
        require(char_channels >= 0, "char_channels", char_channels, "must be 0 (no character encoder) or more")
        require(max_word_chars > 0, "max_word_chars", max_word_chars, "must be a positive integer")
        require(distance >= 1, "distance", distance, "must be 1 or more")
        require(max_clauses >= 1, "max_clauses", max_clauses, "must be 1 or more")
        require(sentences >= 4, "sentences", sentences, "must be 4 or more")
        require(edge_window >= 1, "edge_window", edge_window, "must be 1 or more (words on each side)")
        if dataset == "ambiguity":
            longest = ambiguity.max_sentence_length(distance, max_clauses)
            require(
                longest <= max_length,
                "max_length",
                max_length,
                f"is shorter than the longest generated sentence ({longest} words); raise it",
            )
            # generated in memory: 1.5 × sentences (validation and test add a quarter each)
            need = ambiguity.memory_needed(round(1.5 * sentences), distance, max_clauses)
            require(
                need <= physical_memory(),
                "sentences",
                sentences,
                f"generating them would need about {need / 2**30:,.0f} GiB, more than this machine's "
                f"{physical_memory() // 2**30} GiB; use fewer",
            )
        self.dataset, self.train_fraction, self.max_length = dataset, train_fraction, max_length
        self.min_freq, self.lowercase, self.word_dropout = min_freq, lowercase, word_dropout
        self.word_dim, self.char_dim, self.char_channels, self.max_word_chars = (
            word_dim,
            char_dim,
            char_channels,
            max_word_chars,
        )
        self.distance, self.max_clauses, self.sentences, self.data_seed = distance, max_clauses, sentences, data_seed
        self.attention_scope, self.edge_window = attention_scope, edge_window
        self.vocabulary: Vocabulary | None = None

    @property
    def spec(self) -> ModalitySpec:
        return ModalitySpec(
            name=self.name,
            dataset=self.dataset,
            layout=Layout.SEQUENCE,
            target=Target.ELEMENT,
            num_classes=len(UPOS),
            scopes=("full", "window", "graph"),
            max_positions=self.max_length,
            has_edges=True,
            element="token",
            subsets=SUBSETS,
            class_names=UPOS,
        )

    def prepare_data(self) -> None:
        if self.dataset == "ud_ewt":
            ud_ewt.files(self.data_dir)

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        sentences = self._sentences()
        if self.train_fraction < 1:
            keep = max(1, round(self.train_fraction * len(sentences["train"])))
            sentences["train"] = random.Random(self.seed).sample(sentences["train"], keep)
        for split, part in sentences.items():
            longest = max(len(s.words) for s in part)
            if longest > self.max_length:
                raise ConfigError(
                    "max_length",
                    self.max_length,
                    f"is shorter than the longest {split} sentence ({longest} words); raise it",
                )
        self.vocabulary = Vocabulary.build(sentences["train"], self.min_freq, self.lowercase)
        # the embeddings' weights (the projection to the model's width is the model's to check)
        words, chars, channels = len(self.vocabulary.words), len(self.vocabulary.chars), self.char_channels
        require_fits(
            {"word_dim": self.word_dim, "char_dim": self.char_dim, "char_channels": channels},
            words * self.word_dim + chars * self.char_dim + 3 * self.char_dim * channels,
        )
        ambiguous = ambiguous_forms(sentences["train"], self.vocabulary)
        self.splits = {
            split: encode(part, self.vocabulary, ambiguous, self.max_word_chars) for split, part in sentences.items()
        }
        self.words = {split: [s.words for s in part] for split, part in sentences.items()}

    def describe(self, split: str, index: int) -> dict[str, Any]:
        """The sentence's words (the set is the sentence's number in its split, in the order read or generated)."""
        return {"word": list(self.words[split][index])}

    def edges(self, batch: VectorSet) -> Tensor:
        """Each word joined to its neighbours within ``±edge_window`` in the sentence."""
        return band_edges(batch.mask, self.edge_window)

    def input_encoder(self, dim: int) -> nn.Module:
        return TokenEmbedding(
            len(self.vocabulary.words),
            len(self.vocabulary.chars),
            dim,
            self.word_dim,
            self.char_dim,
            self.char_channels,
            self.word_dropout,
        )

    def draw_attention(
        self, example: VectorSet, rows: AttentionRows, title: str, queries: int, max_elements: int
    ) -> Figure:
        """The words × words weight matrix of the sentence (its first ``max_elements`` words), words on both axes."""
        length = int(example.mask[0].sum())
        shown = min(length, max_elements)
        words = [self.word(chars) for chars in example.x[0, :shown, 1:].tolist()]
        return attention_figure(rows(torch.arange(shown))[:, :shown], words, length, title)

    def word(self, char_ids: list[int]) -> str:
        """A word of a batch back from its character ids; ``…`` marks a word that may be cut at ``max_word_chars``."""
        spelled = self.vocabulary.spell(char_ids)
        return spelled + "…" if len(spelled) == self.max_word_chars else spelled

    def _sentences(self) -> dict[str, list[TaggedSentence]]:
        if self.dataset == "ud_ewt":
            return ud_ewt.load(self.data_dir, self.cache_dir)
        quarter = self.sentences // 4
        sizes = {"train": self.sentences, "val": quarter, "test": quarter}
        return ambiguity.generate(self.distance, self.max_clauses, sizes, self.data_seed)
