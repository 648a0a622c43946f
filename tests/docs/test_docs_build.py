"""The manual: the MkDocs site builds in strict mode, the README stays an entry point, and no link leaves the repository."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README_LIMIT = 15_000
"""Bytes: the README is an entry point (what it is, two commands, results, the docs' contents); the manual is docs/."""

LINK_TARGET = re.compile(r"\]\(\s*<?([^)\s>]*)|<(https?:[^>\s]*)>|^ {0,3}\[[^\]]+\]:\s*<?(\S*?)>?\s*$", re.IGNORECASE | re.MULTILINE)
"""The target of an inline link or image ``[text](target)``, an autolink ``<http...>`` or a reference ``[name]: target``."""


def markdown_files() -> list[Path]:
    """README.md and every Markdown file of the manual."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_the_docs_build_in_strict_mode(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr


def test_the_readme_is_at_most_15_000_bytes() -> None:
    size = (ROOT / "README.md").stat().st_size
    assert size <= README_LIMIT, f"README.md is {size:,} bytes; move detail into docs/ (limit {README_LIMIT:,})"


def test_no_markdown_link_points_outside_the_repository() -> None:
    outside = [
        f"{path.relative_to(ROOT)}: {target}"
        for path in markdown_files()
        for match in LINK_TARGET.finditer(path.read_text(encoding="utf-8"))
        if (target := next(group for group in match.groups() if group is not None)).lower().startswith(("http://", "https://"))
    ]
    assert not outside, "links leaving the repository:\n" + "\n".join(outside)


def test_ci_runs_exactly_the_readmes_second_command_with_the_tested_versions() -> None:
    blocks = re.findall(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), re.DOTALL)
    install_and_run, install_and_test = blocks[0], blocks[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()

    assert install_and_test in ci  # .ci/run's last word is the README's second command
    for command in (install_and_run, install_and_test):
        assert "-c constraints.txt" in command
    pinned = [line for line in (ROOT / "constraints.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==\S+", line) for line in pinned)  # every version exact
    assert {"torch==2.14.1", "torchvision==0.29.1"} <= set(pinned)
