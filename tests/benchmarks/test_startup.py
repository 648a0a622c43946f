"""The start-up benchmark's first-step run: a real default run that ends cleanly and says when its first batch began."""

from __future__ import annotations

from conftest import load_benchmark


def test_the_first_step_run_ends_cleanly_and_reports_when_its_first_batch_began(tmp_path):
    step = load_benchmark("startup").first_step(tmp_path, 0)  # raises if run.py exits non-zero

    assert 0 < step["seconds"] < 300
