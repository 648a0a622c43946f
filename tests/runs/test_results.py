"""The ``results.json`` schema: one typed definition, documented key for key, read back with what is wrong named."""

from __future__ import annotations

import json
import re
from typing import get_type_hints

import pytest
from conftest import ROOT

from framework.runs.results import RESULTS_FILE, Results, read_results, write_results


def documented_keys() -> set[str]:
    """The keys named in the first column of the table in ``docs/results-json.md``."""
    rows = [line for line in (ROOT / "docs" / "results-json.md").read_text().splitlines() if line.startswith("| `")]
    return {key for row in rows for key in re.findall(r"`(\w+)`", row.split("|")[1])}


def test_the_docs_table_names_exactly_the_keys_of_the_schema():
    assert documented_keys() == set(get_type_hints(Results))


def test_what_is_written_is_read_back_whole_and_nothing_else_is_left(tmp_path):
    results = Results(modality="image", model="attn", seed=0, status="ok", code_version="x", test={"acc": 0.5})
    path = write_results(tmp_path, results)
    assert path == tmp_path / RESULTS_FILE
    assert read_results(path) == results
    assert [p.name for p in tmp_path.iterdir()] == [RESULTS_FILE]


def test_a_file_from_before_status_and_code_version_reads_as_a_finished_run_of_unknown_code(tmp_path):
    path = tmp_path / RESULTS_FILE
    path.write_text(json.dumps({"modality": "image", "model": "cnn", "seed": 1, "test": {"acc": 0.9}}))
    results = read_results(path)
    assert results["status"] == "ok" and results["code_version"] == "unknown"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"model": "attn", "seed": 0, "test": {}}', "missing modality"),
        ('{"modality": "image", "model": "attn", "seed": 0, "status": "ok"}', "missing test"),
    ],
    ids=["truncated", "list", "no_modality", "ok_without_test"],
)
def test_a_file_that_is_no_results_file_is_refused_saying_why(tmp_path, content, reason):
    path = tmp_path / RESULTS_FILE
    path.write_text(content)
    with pytest.raises(ValueError, match=reason):
        read_results(path)


def test_a_failed_run_needs_no_test_metrics(tmp_path):
    path = tmp_path / RESULTS_FILE
    path.write_text(json.dumps({"modality": "image", "model": "attn", "seed": 0, "status": "failed", "error": "x"}))
    assert read_results(path)["status"] == "failed"
