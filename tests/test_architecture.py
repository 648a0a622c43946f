"""The framework's layers, checked over its import graph so the structure cannot silently decay.

Every import counts, wherever it stands: at module level, inside a function, or under
``TYPE_CHECKING``. The public API (``framework/__init__.py``) sits above every layer; plugins and
studies import from it only.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import framework

ROOT = Path(__file__).resolve().parents[1]

LAYERS: dict[str, set[str]] = {
    "core": set(),
    "io": {"core"},
    "config": {"core"},
    "nn": {"core"},
    "viz": {"core"},
    "runs": {"core", "io"},
    "analysis": {"core", "io", "runs", "viz"},
    "train": {"core", "io", "config", "nn", "runs"},
    "cli": {"core", "config", "train"},
}
"""Each layer of ``framework/`` and the layers it may import."""
TORCH_FREE = ("io", "config", "runs", "analysis", "cli")
"""Layers that import no torch when loaded: the CLI, listings, sweeps and reports stay fast."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[tuple[str, int]]:
    """Every module ``path`` imports (``from a import b`` gives ``a.b`` when that is a module), with its line."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno
            yield from ((f"{node.module}.{alias.name}", node.lineno) for alias in node.names)


def framework_modules() -> dict[str, Path]:
    return {module_name(path): path for path in (ROOT / "framework").rglob("*.py")}


def internal_imports(module: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """The framework modules ``module`` imports (names imported from a module count as that module)."""
    for name, line in imports(path):
        if name in known and name != module:
            yield name, line


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_module_belongs_to_a_layer():
    strays = [name for name in framework_modules() if name != "framework" and layer_of(name) not in LAYERS]
    assert not strays, f"modules outside the layers {sorted(LAYERS)}: {strays}"


def test_each_layer_imports_only_the_layers_below_it():
    known = framework_modules()
    violations = []
    for module, path in known.items():
        layer = layer_of(module)
        if layer is None:
            continue  # the public API may import everything
        for target, line in internal_imports(module, path, known):
            if target == "framework":
                violations.append(f"{path.relative_to(ROOT)}:{line} imports the public API; import the defining module")
            elif (other := layer_of(target)) != layer and other not in LAYERS[layer]:
                violations.append(f"{path.relative_to(ROOT)}:{line}: {layer} may not import {other} ({target})")
    assert not violations, "\n".join(violations)


def test_there_is_no_import_cycle_not_even_through_a_lazy_import():
    known = framework_modules()
    graph = {module: {target for target, _ in internal_imports(module, path, known)} for module, path in known.items()}
    state: dict[str, str] = {}

    def cycle_from(module: str, trail: list[str]) -> list[str] | None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return [*trail[trail.index(target) :], target] if target in trail else [module, target]
            if target not in state and (found := cycle_from(target, [*trail, target])):
                return found
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (found := cycle_from(module, [module])):
            pytest.fail("import cycle: " + " → ".join(found))


def test_the_torch_free_layers_load_without_torch():
    modules = [name for name in framework_modules() if layer_of(name) in TORCH_FREE]
    code = (
        f"import sys\nfor m in {modules!r}: __import__(m)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')[:3])"
    )
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]", f"importing {', '.join(TORCH_FREE)} loads torch: {loaded}"


@pytest.mark.parametrize("folder", ["plugins", "studies"])
def test_plugins_and_studies_import_only_the_public_api(folder):
    inside = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        inside += [
            f"{path.relative_to(ROOT)}:{line}: {name}"
            for name, line in imports(path)
            if name.startswith("framework.") and name.removeprefix("framework.") not in framework.__all__
        ]
    assert not inside, "import these from `framework` instead:\n" + "\n".join(inside)


def test_the_plugin_guide_imports_only_the_public_api():
    guide = (ROOT / "docs" / "writing-a-plugin.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", guide, re.S)
    assert blocks, "the plugin guide shows code"
    internal = [
        line for block in blocks for line in block.splitlines() if re.match(r"\s*(from|import) framework\.", line)
    ]
    assert not internal, f"the plugin guide imports internals: {internal}"


def test_every_public_name_resolves_and_the_type_checking_imports_match():
    for name in framework.__all__:
        assert getattr(framework, name) is not None, name
    tree = ast.parse((ROOT / "framework" / "__init__.py").read_text())
    checked = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("framework.")
        for alias in node.names
    }
    assert checked == set(framework.__all__)
