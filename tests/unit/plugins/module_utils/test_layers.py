"""The layers of plugins/module_utils that docs/architecture.md draws: common.py and facts.py import nothing of the
collection, kube/ and pinot/ only themselves, common.py and facts.py (never each other, never cluster/), cluster/
builds on all of them; and cluster/progress.py, which the rollout's action plugin imports on the controller, only
the standard library."""

import ast
from pathlib import Path

import pytest

MODULE_UTILS = Path(__file__).resolve().parents[4] / "plugins" / "module_utils"
PREFIX = "ansible_collections.pinotops.k8s.plugins.module_utils"
ALLOWED = {
    "common": set(),
    "facts": set(),
    "kube": {"kube", "common", "facts"},
    "pinot": {"pinot", "common", "facts"},
    "cluster": {"cluster", "kube", "pinot", "common", "facts"},
}


def layer_of(path):
    relative = path.relative_to(MODULE_UTILS)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported(path):
    """Every module of the collection's module_utils that `path` imports, as `pkg.module` or `pkg`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
            found.add(node.module[len(PREFIX) + 1:] or ".")
        elif isinstance(node, ast.Import):
            found.update(alias.name[len(PREFIX) + 1:] for alias in node.names if alias.name.startswith(PREFIX))
    return found


FILES = sorted(MODULE_UTILS.rglob("*.py"))


def test_every_file_is_in_a_known_layer():
    assert {layer_of(path) for path in FILES} == set(ALLOWED)


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(MODULE_UTILS)))
def test_a_layer_imports_only_what_is_below_it(path):
    layers = {name.split(".")[0] for name in imported(path)}
    assert layers <= ALLOWED[layer_of(path)], f"{path.relative_to(MODULE_UTILS)} imports {sorted(layers)}"


def test_the_action_plugins_side_of_the_progress_channel_needs_only_the_standard_library():
    tree = ast.parse((MODULE_UTILS / "cluster" / "progress.py").read_text())
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert modules <= {"__future__", "os", "sys"}
