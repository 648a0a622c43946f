"""Shared fixtures: composed configs for in-process runs, and the command line for subprocess runs."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import signal
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
DATA_DIR = Path(os.environ.setdefault("ARENA_DATA_DIR", str(ROOT.parent / "shared" / "data"))).resolve()
if not (DATA_DIR / "README.md").is_file():
    pytest.exit(
        f"ARENA_DATA_DIR={DATA_DIR} holds no offline datasets; point it at the shared data folder", returncode=4
    )
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

QUIET = ["logger=none", "callbacks.progress=null", "callbacks.summary=null"]
"""Overrides that keep test output short."""


def config_names(group: str) -> list[str]:
    """Every option of a config group, so new plugins are tested as soon as their file exists."""
    return sorted(path.stem for path in (CONF / group).glob("*.yaml"))


def load_benchmark(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as a module (the scripts import their siblings, such as ``_harness``, by name)."""
    scripts = ROOT / "benchmarks"
    if str(scripts) not in sys.path:
        sys.path.insert(0, str(scripts))
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", scripts / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def device():
    """Where the kernel tests put their tensors: ``ARENA_TEST_DEVICE``, the CPU unless set
    (``benchmarks/gpu_check.sh`` sets ``cuda``)."""
    import torch

    name = os.environ.get("ARENA_TEST_DEVICE", "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        pytest.fail(f"ARENA_TEST_DEVICE={name}, but torch sees no CUDA GPU")
    return torch.device(name)


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One derived-data cache for the session: caches are keyed by their inputs, so runs may share them."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def make_config(tmp_path: Path, shared_cache: Path):
    """Composes ``conf/config.yaml`` with overrides, writing into a fresh ``tmp_path``."""

    def make(*overrides: str) -> DictConfig:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose(
                "config",
                overrides=[
                    f"output_dir={tmp_path / 'run'}",
                    f"cache_dir={shared_cache}",
                    "trainer=debug",
                    *QUIET,
                    *overrides,
                ],
            )

    return make


@pytest.fixture
def cli(tmp_path: Path, shared_cache: Path):
    """Runs ``python run.py ...`` in a subprocess with outputs under ``tmp_path``."""

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        env = {**os.environ, "ARENA_CACHE_DIR": str(shared_cache)}
        return subprocess.run(
            [sys.executable, str(ROOT / "run.py"), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


def started(*args: str, cwd: Path, cache: Path) -> subprocess.Popen:
    """``python run.py *args`` started in ``cwd``, deriving data into ``cache``; see :func:`finished`.

    Ctrl+C reaches it as it reaches a command typed in a shell, whatever the tests before did to this process's
    own SIGINT handling (Lightning ignores SIGINT once it has handled a KeyboardInterrupt, and a child inherits that).
    """
    return subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), *args],
        cwd=cwd,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        env={**os.environ, "ARENA_CACHE_DIR": str(cache)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen) -> subprocess.CompletedProcess:
    """Waits for a :func:`started` command and returns what it printed (a hang guard of 600 s, never a deadline)."""
    stdout, stderr = process.communicate(timeout=600)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.fixture
def tmpfs(tmp_path: Path):
    """Mounts a file system of a given size in ``tmp_path`` (``tmpfs("1m")``), unmounted afterwards; skips the test
    where mounting is not allowed."""
    mounted = []

    def mount(size: str) -> Path:
        folder = tmp_path / f"disk-{size}"
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small file system here: {done.stderr.decode().strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.fixture
def modules_imported_by(tmp_path: Path):
    """Runs ``python run.py ...`` in a subprocess and returns the names in its ``sys.modules`` when it exits."""

    def run(*args: str) -> set[str]:
        record = tmp_path / "modules.txt"
        code = (
            f"import atexit, runpy, sys; sys.argv = ['run.py', *{list(args)!r}]; sys.path.insert(0, {str(ROOT)!r}); "
            f"atexit.register(lambda: open({str(record)!r}, 'w').write(' '.join(sys.modules))); "
            f"runpy.run_path({str(ROOT / 'run.py')!r}, run_name='__main__')"
        )
        result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return set(record.read_text().split())

    return run


def _fingerprint(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.md5(path.read_bytes()).hexdigest() if path.is_file() else "folder"
        for path in sorted(folder.rglob("*"))
    }


@pytest.fixture(scope="session", autouse=True)
def shared_data_stays_untouched():
    """The shared data folder is only ever read: nothing in it is added, removed or changed."""
    before = _fingerprint(DATA_DIR) if DATA_DIR.is_dir() else {}
    yield
    after = _fingerprint(DATA_DIR) if DATA_DIR.is_dir() else {}
    assert after == before, f"tests modified {DATA_DIR}"


@pytest.fixture
def served(tmp_path: Path):
    """A local HTTP server over ``tmp_path/served``: downloads go through real HTTP, with no network."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        handler.log_message = lambda *args: None
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
        server.shutdown()
