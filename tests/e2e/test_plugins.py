"""Plugins from other packages (entry point group ``attention_arena.plugins``) and the attention scope catalogue."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONF, QUIET

from framework.core.catalogue import scopes
from framework.core.sources import PluginError
from framework.nn.attention import register_scope, scope_implementation
from hydra_plugins.attention_arena_plugins.search_path import is_arena_conf

PLUGIN_FILES = {
    "pyproject.toml": """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "tiny-arena-plugin"
version = "0.1.0"

[project.entry-points."attention_arena.plugins"]
tiny_plugin = "tiny_arena"

[tool.setuptools]
packages = ["tiny_arena"]

[tool.setuptools.package-data]
tiny_arena = ["conf/*.yaml", "conf/*/*.yaml"]
""",
    "tiny_arena/__init__.py": '"""A tiny Attention Arena plugin: a per-element MLP and an attention scope."""\n',
    "tiny_arena/model.py": '''\
"""A per-element MLP: each vector is transformed on its own, so it sees no context."""

from torch import Tensor, nn

from framework.core.batch import VectorSet
from framework.core.encoder import Encoder
from framework.core.errors import require
from framework.core.spec import Layout, ModalitySpec, ModelRequirement


class TinyEncoder(Encoder):
    """``h + MLP(h)`` for every element."""

    requires = ModelRequirement(layouts=frozenset(Layout))
    width_key = "dim"

    def __init__(self, spec: ModalitySpec, dim: int, hidden: int) -> None:
        require(hidden > 0, "hidden", hidden, "must be a positive integer")
        super().__init__(spec, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, h: Tensor, batch: VectorSet) -> Tensor:
        return h + self.mlp(h)
''',
    "tiny_arena/scopes.py": '''\
"""The ``itself`` attention scope."""

from framework.nn.attention import register_scope


@register_scope("itself")
def itself(q, k, v, batch, dropout_p):
    """Each element attends only to itself, so its output is its own value."""
    return v
''',
    "tiny_arena/conf/model/tiny.yaml": """\
# A per-element MLP (no context): the smallest possible model plugin.
_target_: tiny_arena.model.TinyEncoder
name: tiny
param_budget: null       # total parameters: dim is scaled to meet it; null = dim as set below
positional:              # position vectors added before the encoder
  kind: none             # none | sinusoidal | learned
  dims: auto             # auto | 1d | 2d
dim: 16                  # width of every element vector
hidden: 32               # hidden width of the MLP
""",
    "tiny_arena/conf/scopes.yaml": """\
# The tiny plugin's attention scopes.
itself:                  # each element attends only to itself
  module: tiny_arena.scopes
  options: []
  needs_edges: false
""",
}


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny plugin installed by pip into a folder of its own (put it on PYTHONPATH to use it)."""
    source, target = tmp_path_factory.mktemp("tiny_plugin"), tmp_path_factory.mktemp("site")
    for name, text in PLUGIN_FILES.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*pip, "--target", str(target), str(source)], check=True, capture_output=True, timeout=300)
    return target


@pytest.fixture
def broken_plugin(tmp_path: Path) -> Path:
    """An installed distribution whose entry point names a package that is not there: its metadata, written by hand."""
    site = tmp_path / "site"
    info = site / "broken_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[attention_arena.plugins]\nbroken = missing_arena_package\n")
    return site


def test_a_plugin_model_trains_and_writes_results(cli, tmp_path, monkeypatch, installed_plugin):
    monkeypatch.setenv("PYTHONPATH", str(installed_plugin))
    result = cli("modality=image", "model=tiny", "trainer=debug", *QUIET)
    assert result.returncode == 0, result.stderr
    (path,) = (tmp_path / "outputs").rglob("results.json")
    results = json.loads(path.read_text())
    assert results["model"] == "tiny" and results["params"] > 0 and 0 <= results["test"]["acc"] <= 1


def test_a_plugin_model_is_an_option_of_the_model_group(cli, monkeypatch, installed_plugin):
    monkeypatch.setenv("PYTHONPATH", str(installed_plugin))
    result = cli("--help")
    assert result.returncode == 0, result.stderr
    assert "model: attn, cnn, gnn, mlp, rnn, tiny, window_fc" in result.stdout


def test_list_shows_a_plugins_model_and_scope_marked_with_the_plugin_name(cli, monkeypatch, installed_plugin):
    monkeypatch.setenv("PYTHONPATH", str(installed_plugin))
    result = cli("--list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "  tiny: A per-element MLP (no context): the smallest possible model plugin.  [plugin: tiny_plugin]" in lines
    assert any(line.split() == ["hidden=32", "hidden", "width", "of", "the", "MLP"] for line in lines)
    assert any(line.startswith("  itself ") and line.endswith("[plugin: tiny_plugin]") for line in lines)


def test_plugin_configs_join_only_the_search_path_of_the_arenas_own_config():
    assert is_arena_conf(str(CONF)) and is_arena_conf(f"file://{CONF}")
    assert not is_arena_conf("pkg://hydra.conf") and not is_arena_conf(str(CONF.parent / "another_app" / "conf"))


def test_listing_plugins_imports_neither_torch_nor_the_plugin(modules_imported_by, monkeypatch, installed_plugin):
    monkeypatch.setenv("PYTHONPATH", str(installed_plugin))
    imported = modules_imported_by("--list")
    assert "framework.core.sources" in imported, "run.py did not run"
    assert not {"torch", "tiny_arena"} & imported


def test_a_plugin_scope_is_loaded_from_its_declared_module_on_first_use(tmp_path, monkeypatch, installed_plugin):
    monkeypatch.setenv("PYTHONPATH", str(installed_plugin))
    code = (
        "import sys, torch; from framework.nn.attention import attend; from framework.core.batch import VectorSet\n"
        "assert 'tiny_arena.scopes' not in sys.modules\n"
        "q, k, v = torch.randn(3, 2, 1, 5, 4).unbind(0)\n"
        "batch = VectorSet(x=torch.zeros(2, 5, 4), mask=torch.ones(2, 5, dtype=torch.bool), "
        "y=torch.zeros(2, dtype=torch.long))\n"
        "assert torch.equal(attend(q, k, v, batch, scope='itself'), v)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("args", [["trainer=debug"], ["--list"]], ids=["run", "list"])
def test_a_plugin_naming_a_missing_package_fails_with_one_line_naming_it_and_the_fix(
    cli, monkeypatch, broken_plugin, args
):
    monkeypatch.setenv("PYTHONPATH", str(broken_plugin))
    result = cli(*args)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: plugin 'broken' (entry point 'broken = missing_arena_package' in group attention_arena.plugins) names "
        "package 'missing_arena_package', which is not installed; reinstall the plugin or pip uninstall broken-plugin"
    )


def test_every_declared_scope_has_an_implementation_taking_exactly_its_declared_options():
    for name, declared in scopes().items():
        fn, _ = scope_implementation(name)
        parameters = list(inspect.signature(fn).parameters)
        assert parameters[:5] == ["q", "k", "v", "batch", "dropout_p"] and tuple(parameters[5:]) == declared.options, (
            name
        )


def test_registering_an_undeclared_scope_fails_naming_where_to_declare_it():
    with pytest.raises(
        PluginError, match=r"attention scope 'nowhere' is registered but no scopes.yaml declares it .*conf/scopes.yaml"
    ):
        register_scope("nowhere")
