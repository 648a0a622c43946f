"""Reading CoNLL-U: words and UPOS tags, multiword tokens and empty nodes, malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DATA_DIR

from framework.core.errors import DataError
from plugins.modalities.text.conllu_reader import UPOS, read_conllu

SENTENCE = (
    "# sent_id = s1\n"
    "# text = I don't know.\n"
    "1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_\n"
    "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_\n"
    "3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_\n"
    "3.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t0:root\t_\n"
    "4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\t_\n"
    "5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_\n"
    "\n"
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sample.conllu"
    path.write_text(text, encoding="utf-8")
    return path


def test_words_and_tags_skip_multiword_ranges_and_empty_nodes(tmp_path):
    (sentence,) = read_conllu(write(tmp_path, SENTENCE))
    assert sentence.words == ("I", "do", "n't", "know", ".")
    assert sentence.tags == ("PRON", "AUX", "PART", "VERB", "PUNCT")


def test_a_line_with_missing_columns_names_the_file_and_line(tmp_path):
    path = write(tmp_path, SENTENCE + "1\tbroken\tline\n\n")
    with pytest.raises(DataError, match=rf"{path}:11: a token line needs 10 tab-separated columns"):
        read_conllu(path)


def test_an_unknown_tag_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="unknown UPOS tag 'NOPE'"):
        read_conllu(write(tmp_path, SENTENCE.replace("PRON\tPRP", "NOPE\tPRP")))


def test_a_malformed_id_names_the_file_and_its_line(tmp_path):
    with pytest.raises(DataError, match=r"sample.conllu:3: malformed token line .*'x\\tI\\t"):
        read_conllu(write(tmp_path, SENTENCE.replace("1\tI\t", "x\tI\t")))


def test_a_malformed_head_names_the_file_and_its_line(tmp_path):
    with pytest.raises(DataError, match=r"sample.conllu:8: malformed token line"):
        read_conllu(
            write(tmp_path, SENTENCE.replace("4\tknow\tknow\tVERB\tVB\t_\t0", "4\tknow\tknow\tVERB\tVB\t_\tzero"))
        )


def test_a_file_cut_off_mid_line_names_the_file_and_the_cut_line(tmp_path):
    cut = SENTENCE[: SENTENCE.index("\tPUNCT")]
    with pytest.raises(DataError, match=r"sample.conllu:9: a token line needs 10 tab-separated columns: '5\\t\.\\t\.'"):
        read_conllu(write(tmp_path, cut))


def test_a_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read .*absent.conllu"):
        read_conllu(tmp_path / "absent.conllu")


def test_the_ewt_dev_split_has_its_published_counts():
    sentences = read_conllu(DATA_DIR / "ud_english_ewt" / "en_ewt-ud-dev.conllu")
    assert len(sentences) == 2001
    assert sum(len(s.words) for s in sentences) == 25147  # syntactic words, per PROVENANCE.md
    assert {tag for s in sentences for tag in s.tags} == set(UPOS)
