"""Puts ``conf/`` into the wheel as ``framework/conf``, so an installed ``arena`` composes the same configs.

Everything else about the package is in ``pyproject.toml``; an editable install reads the clone's ``conf/``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithConf(build_py):
    """``build_py`` plus a copy of ``conf/`` (YAML only) inside the built ``framework`` package."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            target = Path(self.build_lib) / "framework" / "conf"
            shutil.copytree("conf", target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))


setup(cmdclass={"build_py": BuildWithConf})
