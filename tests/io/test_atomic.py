"""Atomic writes: a reader sees the whole file or none of it, and a crash keeps the old or the new one whole."""

from __future__ import annotations

import os
from pathlib import Path

from framework.io import atomic


def test_a_write_reaches_the_disk_before_its_rename_and_the_rename_after_it(tmp_path, monkeypatch):
    steps = []
    fsync, replace = os.fsync, os.replace

    def recorded_fsync(fd: int) -> None:
        steps.append(("fsync", Path(os.readlink(f"/proc/self/fd/{fd}")).name))
        fsync(fd)

    def recorded_replace(source: Path, target: Path) -> None:
        steps.append(("replace", Path(target).name))
        replace(source, target)

    monkeypatch.setattr(atomic.os, "fsync", recorded_fsync)
    monkeypatch.setattr(atomic.os, "replace", recorded_replace)

    atomic.write_atomic(tmp_path / "results.json", b"{}")

    [(_, partial), *rest] = steps
    assert partial.startswith(".results.json.") and partial.endswith(".part")
    assert rest == [("replace", "results.json"), ("fsync", tmp_path.name)]
    assert (tmp_path / "results.json").read_bytes() == b"{}"
    assert list(tmp_path.iterdir()) == [tmp_path / "results.json"]
