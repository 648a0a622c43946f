"""A built wheel is the whole arena: ``conf/`` inside it, the ``arena`` command declared, runs outside the clone."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import CONF, QUIET, ROOT

SKIPPED = (".git", ".venv", "outputs", "multirun", "build", "*.egg-info", "__pycache__", "logs", "site")
"""What a checkout may hold that the package is not built from: runs, environments, caches."""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package built from this checkout, as pip builds it for ``pip install <clone>``."""
    folder = tmp_path_factory.mktemp("wheel")
    # a copy, since setuptools writes build/ and *.egg-info into the tree it builds
    source = shutil.copytree(ROOT, folder / "clone", ignore=shutil.ignore_patterns(*SKIPPED))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(folder)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (built,) = folder.glob("attention_arena-*.whl")
    return built


def test_the_wheel_ships_every_config_file(wheel: Path):
    shipped = {name for name in zipfile.ZipFile(wheel).namelist() if name.startswith("framework/conf/")}
    expected = {f"framework/conf/{path.relative_to(CONF).as_posix()}" for path in CONF.rglob("*.yaml")}
    assert shipped == expected


def test_the_wheel_declares_the_arena_command(wheel: Path):
    archive = zipfile.ZipFile(wheel)
    (entry_points,) = [name for name in archive.namelist() if name.endswith(".dist-info/entry_points.txt")]
    declared = configparser.ConfigParser()
    declared.read_string(archive.read(entry_points).decode())
    assert declared["console_scripts"]["arena"] == "framework.cli:cli"


def test_an_installed_wheel_runs_outside_the_clone(wheel: Path, tmp_path: Path, shared_cache: Path):
    installed = tmp_path / "site-packages"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(installed), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # what the `arena` script runs, importing the installed copy ahead of the clone's
    command = "import sys, framework.cli; print(framework.cli.__file__, file=sys.stderr); framework.cli.cli()"
    env = {**os.environ, "PYTHONPATH": str(installed), "ARENA_CACHE_DIR": str(shared_cache)}
    run = subprocess.run(
        [sys.executable, "-c", command, "modality=image", "model=mlp", "trainer=debug", *QUIET],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines()[0] == str(installed / "framework" / "cli.py")
    (results,) = (elsewhere / "outputs").rglob("results.json")
    assert results.with_name("run.log").is_file()
    written = json.loads(results.read_text())
    assert written["status"] == "ok"
    assert "+" not in written["code_version"]  # the installed copy has no git history of its own to describe
