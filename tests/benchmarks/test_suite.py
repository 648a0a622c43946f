"""The benchmark suite's table: each target with ours, the reference, and over several runs its range and
how often it was met."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT, load_benchmark

SCRIPT = ROOT / "benchmarks" / "suite.py"


def load_suite():
    return load_benchmark("suite")


def run_of(ratio: float, exponent: float) -> list[dict]:
    """One run's reports: a ratio target (<= 1.1) and a value target (<= 1.1)."""
    return [
        {
            "benchmark": "overhead",
            "figures": [
                {
                    "figure": "epoch",
                    "ours": ratio,
                    "reference": 1.0,
                    "unit": "s",
                    "ratio": ratio,
                    "met": ratio <= 1.1,
                    "target": "<= 1.1",
                },
                {
                    "figure": "growth",
                    "ours": exponent,
                    "reference": None,
                    "unit": "exponent",
                    "ratio": None,
                    "met": exponent <= 1.1,
                    "target": "<= 1.1",
                },
            ],
        }
    ]


def test_the_spread_holds_every_runs_value_and_how_many_met_the_target():
    suite = load_suite()
    earlier = [{"reports": run_of(1.05, 1.2)}, {"reports": run_of(1.15, 1.0)}]
    spreads = suite.spread(run_of(1.02, 1.05), earlier)
    assert spreads["overhead: epoch"] == {"values": [1.05, 1.15, 1.02], "met": 2, "runs": 3}
    assert spreads["overhead: growth"] == {"values": [1.2, 1.0, 1.05], "met": 2, "runs": 3}


def test_a_run_without_a_target_counts_as_missing_it():
    suite = load_suite()
    spreads = suite.spread(run_of(1.02, 1.0), [{"reports": [{"benchmark": "overhead", "error": "exit 1"}]}])
    assert spreads["overhead: epoch"]["met"] == 1 and spreads["overhead: epoch"]["runs"] == 2


def test_the_table_shows_the_last_run_and_the_range_over_all():
    suite = load_suite()
    reports = run_of(1.02, 1.05)
    table = suite.markdown(reports, "the test machine", suite.spread(reports, [{"reports": run_of(1.15, 1.0)}]))
    assert "this run and the 1 before it" in table
    assert "| overhead | epoch | 1.02 s | 1 s | 1.02× | ≤ 1.1 | yes | 1.02–1.15× | 1 of 2 |" in table
    assert "| overhead | growth | 1.05 | — | — | ≤ 1.1 | yes | 1–1.05 | 2 of 2 |" in table
    assert "range over runs" not in suite.markdown(reports, "the test machine")


def test_an_earlier_report_that_is_not_one_stops_with_one_line_and_status_2(tmp_path):
    for content in ("not json", json.dumps({"figures": []})):
        path = tmp_path / "earlier.json"
        path.write_text(content)
        done = subprocess.run(
            [sys.executable, str(SCRIPT), "--only", "startup", "--earlier", str(path)], capture_output=True, text=True
        )
        assert done.returncode == 2 and done.stdout == ""
        assert (
            done.stderr.strip()
            == f"error: --earlier {path} is not a suite report; give a JSON file an earlier --out wrote"
        )
