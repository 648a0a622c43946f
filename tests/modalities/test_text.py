"""The text modality: UD EWT splits, vocabulary, unknown words, batches and masking, the ambiguity task, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import DATA_DIR

from framework.core.batch import IGNORE_INDEX
from framework.core.errors import ConfigError, DataError
from framework.io.download import fetch
from plugins.modalities.text import TextModality, ambiguity, ud_ewt
from plugins.modalities.text.conllu_reader import TaggedSentence
from plugins.modalities.text.embedding import TokenEmbedding
from plugins.modalities.text.modality import SUBSETS, encode
from plugins.modalities.text.vocabulary import PAD, UNK, Vocabulary, ambiguous_forms

EWT = DATA_DIR / "ud_english_ewt"
OPTIONS = dict(
    name="text",
    dataset="ud_ewt",
    train_fraction=1.0,
    max_length=256,
    min_freq=1,
    lowercase=False,
    word_dropout=0.1,
    word_dim=16,
    char_dim=8,
    char_channels=16,
    max_word_chars=20,
    distance=3,
    max_clauses=3,
    sentences=200,
    data_seed=0,
    attention_scope="full",
    edge_window=1,
    batch_size=8,
    eval_batch_size=8,
    num_workers=0,
    seed=0,
)
TRAIN = [
    TaggedSentence(("I", "saw", "a", "saw"), ("PRON", "VERB", "DET", "NOUN")),
    TaggedSentence(("The", "saw", "cut"), ("DET", "NOUN", "VERB")),
]


def modality(tmp_path: Path, data_dir: Path = DATA_DIR, **overrides) -> TextModality:
    return TextModality(**{**OPTIONS, **overrides}, data_dir=str(data_dir), cache_dir=str(tmp_path / "cache"))


def test_ewt_loads_the_official_splits_with_their_published_counts(tmp_path):
    splits = ud_ewt.load(DATA_DIR, tmp_path)
    assert {split: len(s) for split, s in splits.items()} == {"train": 12544, "val": 2001, "test": 2077}
    assert sum(len(s.words) for s in splits["test"]) == 25094  # syntactic words, per PROVENANCE.md


def test_ewt_parsed_from_the_cache_equals_ewt_parsed_from_the_files(tmp_path):
    first = ud_ewt.load(DATA_DIR, tmp_path)
    assert list((tmp_path / ud_ewt.FOLDER).glob("*.json"))
    assert ud_ewt.load(DATA_DIR, tmp_path) == first


def test_a_corrupt_parse_cache_is_rebuilt(tmp_path):
    ud_ewt.load(DATA_DIR, tmp_path)
    for cache in (tmp_path / ud_ewt.FOLDER).glob("*.json"):
        cache.write_text("{not json")
    assert len(ud_ewt.load(DATA_DIR, tmp_path)["val"]) == 2001


MALFORMED = {
    "no_sentences": lambda cache: {**cache, "sentences": []},
    "a_tag_missing": lambda cache: {**cache, "sentences": [[["Dogs", "bark"], ["NOUN"]]]},
    "an_unknown_tag": lambda cache: {**cache, "sentences": [[["Dogs", "bark"], ["NOUN", "BARK"]]]},
    "words_as_one_string": lambda cache: {**cache, "sentences": [["Dogs", "NOUN"]]},
    "an_older_layout": lambda cache: cache["sentences"],
}


@pytest.mark.parametrize("malformed", MALFORMED)
def test_a_parse_cache_of_the_right_file_with_malformed_sentences_is_rebuilt(tmp_path, malformed):
    source = tmp_path / "sample.conllu"
    source.write_text("1\tDogs\tdog\tNOUN\tNNS\t_\t2\tnsubj\t_\t_\n2\tbark\tbark\tVERB\tVBP\t_\t0\troot\t_\t_\n\n")
    first = ud_ewt.parsed(source, "sha256:1234", tmp_path / "cache")
    (cache,) = (tmp_path / "cache").glob("*.json")
    cache.write_text(json.dumps(MALFORMED[malformed](json.loads(cache.read_text()))))
    assert (
        ud_ewt.parsed(source, "sha256:1234", tmp_path / "cache")
        == first
        == [TaggedSentence(("Dogs", "bark"), ("NOUN", "VERB"))]
    )


def copy_of_ewt(tmp_path: Path) -> Path:
    """A data folder holding links to the shared EWT files, so one of them can be replaced."""
    folder = tmp_path / "data" / ud_ewt.FOLDER
    folder.mkdir(parents=True)
    for name, _ in ud_ewt.FILES.values():
        (folder / name).symlink_to(EWT / name)
    return folder


def test_a_truncated_ewt_file_is_refused_naming_the_file(tmp_path):
    folder = copy_of_ewt(tmp_path)
    dev = folder / "en_ewt-ud-dev.conllu"
    dev.unlink()
    dev.write_bytes((EWT / dev.name).read_bytes()[:100_000])
    with pytest.raises(DataError, match=r"en_ewt-ud-dev.conllu is corrupt or truncated \(checksum differs"):
        ud_ewt.load(folder.parent, tmp_path / "cache")


def test_a_verified_download_lands_in_the_data_folder(tmp_path, served):
    folder, url = served
    shutil.copy(EWT / "en_ewt-ud-dev.conllu", folder)
    target = tmp_path / "data" / "en_ewt-ud-dev.conllu"
    fetch(target, [url + target.name], ud_ewt.FILES["val"][1])
    assert target.read_bytes() == (EWT / target.name).read_bytes()


def test_a_download_with_the_wrong_checksum_is_removed_not_kept(tmp_path, served):
    folder, url = served
    (folder / "en_ewt-ud-dev.conllu").write_bytes((EWT / "en_ewt-ud-dev.conllu").read_bytes()[:5000])
    target = tmp_path / "data" / "en_ewt-ud-dev.conllu"
    with pytest.raises(DataError, match="could not download en_ewt-ud-dev.conllu .*checksum differs"):
        fetch(target, [url + target.name], ud_ewt.FILES["val"][1])
    assert list(target.parent.iterdir()) == []


def test_a_file_that_cannot_be_downloaded_says_where_to_place_it(tmp_path, served):
    _, url = served
    target = tmp_path / "data" / "en_ewt-ud-dev.conllu"
    with pytest.raises(DataError, match=f"404.*place the file at {target}"):
        fetch(target, [url + target.name], ud_ewt.FILES["val"][1])
    assert not target.exists()


def test_the_vocabulary_comes_from_training_words_only():
    vocabulary = Vocabulary.build(TRAIN, min_freq=1, lowercase=False)
    assert vocabulary.word_id("saw") > UNK
    assert vocabulary.word_id("hammer") == UNK


def test_words_rarer_than_min_freq_are_unknown():
    vocabulary = Vocabulary.build(TRAIN, min_freq=2, lowercase=False)
    assert list(vocabulary.words)[2:] == ["saw"]


def test_lowercasing_merges_cased_forms_but_characters_keep_their_case():
    vocabulary = Vocabulary.build(TRAIN, min_freq=1, lowercase=True)
    assert vocabulary.word_id("THE") == vocabulary.word_id("the") > UNK
    assert vocabulary.char_ids("T", 5) != vocabulary.char_ids("t", 5)


def test_a_min_freq_no_word_reaches_is_a_config_error():
    with pytest.raises(
        ConfigError, match="min_freq=5: leaves an empty vocabulary: the most frequent training word occurs 3 times"
    ):
        Vocabulary.build(TRAIN, min_freq=5, lowercase=False)


def test_ambiguous_forms_are_those_seen_with_two_or_more_tags_in_training():
    vocabulary = Vocabulary.build(TRAIN, min_freq=1, lowercase=False)
    assert ambiguous_forms(TRAIN, vocabulary) == {"saw"}


def test_batches_pad_with_masked_positions_that_carry_no_label():
    vocabulary = Vocabulary.build(TRAIN, min_freq=1, lowercase=False)
    batch = encode(TRAIN, vocabulary, frozenset({"saw"}), max_word_chars=4).__getitems__([1, 0])
    assert batch.mask.tolist() == [[True, True, True, False], [True, True, True, True]]
    assert batch.y[0, 3] == IGNORE_INDEX and (batch.x[0, 3] == PAD).all()
    assert batch.x.shape == (2, 4, 1 + 3)  # word id + the longest word's 3 characters


def test_batches_flag_ambiguous_and_unknown_words():
    vocabulary = Vocabulary.build(TRAIN[:1], min_freq=1, lowercase=False)
    batch = encode(TRAIN, vocabulary, frozenset({"saw"}), max_word_chars=4).__getitems__([1])
    flags = dict(zip(SUBSETS, batch.subsets[0].T.tolist()))
    assert flags == {"ambiguous": [False, True, False], "unknown": [True, False, True]}


def test_word_dropout_hides_known_words_only_while_training():
    torch.manual_seed(0)
    vocabulary = Vocabulary.build(TRAIN, min_freq=1, lowercase=False)
    batch = encode(TRAIN * 50, vocabulary, frozenset(), max_word_chars=4).__getitems__(list(range(100)))
    embedding = TokenEmbedding(len(vocabulary.words), len(vocabulary.chars), 8, 8, 4, 0, word_dropout=0.5)
    unknown = embedding.words.weight[UNK]

    def seen_unknown() -> torch.Tensor:
        return ((embedding(batch) - embedding.proj(unknown)).abs().amax(-1) < 1e-6)[batch.mask].float().mean()

    assert 0.4 < seen_unknown() < 0.6
    embedding.eval()
    assert seen_unknown() == 0


def test_padding_never_changes_the_embedding_of_real_words():
    vocabulary = Vocabulary.build(TRAIN, min_freq=1, lowercase=False)
    sets = encode(TRAIN, vocabulary, frozenset(), max_word_chars=4)
    embedding = TokenEmbedding(len(vocabulary.words), len(vocabulary.chars), 8, 8, 4, 6, word_dropout=0.0)
    alone, padded = embedding(sets.__getitems__([1])), embedding(sets.__getitems__([1, 0]))
    torch.testing.assert_close(padded[0, :3], alone[0])


def test_the_ambiguity_grammar_decides_each_ambiguous_tag_by_the_cue_distance_words_before():
    (split,) = ambiguity.generate(distance=4, max_clauses=3, sizes={"train": 50}, seed=0).values()
    cue_tags = {word: decided for decided, cues in ambiguity.CUES.items() for word, _ in cues}
    for sentence in split:
        for i, word in enumerate(sentence.words):
            if word in ambiguity.AMBIGUOUS:
                assert sentence.tags[i] == cue_tags[sentence.words[i - 4]]
                assert all(w in ambiguity.FILLERS for w in sentence.words[i - 3 : i])


def test_the_ambiguity_task_is_the_same_for_the_same_seed_and_differs_between_splits():
    sizes = {"train": 20, "val": 20}
    first, second = ambiguity.generate(3, 2, sizes, seed=7), ambiguity.generate(3, 2, sizes, seed=7)
    assert first == second and first["train"] != first["val"]


def test_the_modality_offers_token_tagging_with_ambiguous_and_unknown_subsets(tmp_path):
    spec = modality(tmp_path).spec
    assert (spec.num_classes, spec.element, spec.subsets) == (17, "token", ("ambiguous", "unknown"))


def test_a_training_fraction_keeps_that_share_of_training_sentences(tmp_path):
    text = modality(tmp_path, dataset="ambiguity", train_fraction=0.25)
    text.setup()
    assert (len(text.splits["train"]), len(text.splits["val"])) == (50, 50)


def test_a_max_length_shorter_than_a_sentence_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="max_length=8: is shorter than the longest generated sentence"):
        modality(tmp_path, dataset="ambiguity", max_length=8)
