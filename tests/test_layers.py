"""The import layers of the architecture and kind facts kept in their kind: every module's imports (module
level and inside functions) are read with `ast`, so a rule holds for the code, not for one import order."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from modsim import registry
from tests.conftest import ROOT

PACKAGE = ROOT / "modsim"

FORBIDDEN = {
    "spec": {"store", "analysis", "tasks", "compile", "train", "evaluate", "sweep", "report", "cli", "execute",
             "api", "torch"},
    "tasks": {"store", "analysis", "compile", "train", "evaluate", "sweep", "report", "cli", "execute", "api",
              "torch"},
    "analysis": {"tasks", "compile", "train", "evaluate", "store", "sweep", "report", "cli", "execute", "api"},
    "compile": {"analysis", "evaluate", "train", "store", "sweep", "report", "cli", "execute", "api"},
    "store": {"analysis", "tasks", "compile", "train", "evaluate", "sweep", "report", "cli", "execute", "api",
              "torch"},
}
"""Layer -> layers (the `modsim.<layer>` subpackages or modules, and third-party packages) it may not import:
the spec is plain data, tasks generate data from it, analysis is numpy on snapshots, compile builds torch
modules from the spec, the store writes and reads arrays; each imports only stages before it."""

KIND_FAMILIES = ("cells", "tasks")
"""Kind families whose names no module outside a kind's own files may compare against."""


@dataclass(frozen=True)
class Imported:
    """One import statement's target, where it is."""

    module: str
    """The importing module (`modsim.spec.network`)."""
    target: str
    """The imported module or `module.attribute` (relative imports resolved)."""
    line: int
    """Its line in the importing module."""


def module_name(path: Path) -> str:
    """The dotted name of a source file of the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[Imported]:
    """Every import in a module, at any depth (function-level imports included), relative ones resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [Imported(name, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found += [Imported(name, f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return found


def layer_of(dotted: str) -> str:
    """The layer of a dotted name: the subpackage or top-level module under `modsim`, else the package."""
    parts = dotted.split(".")
    return parts[1] if parts[0] == "modsim" and len(parts) > 1 else parts[0]


def sources() -> list[Path]:
    """Every Python source file of the package."""
    return sorted(PACKAGE.rglob("*.py"))


def test_imports_of_resolves_relative_and_function_level_imports(tmp_path):
    source = PACKAGE / "spec" / "network.py"
    targets = {i.target for i in imports_of(source)}
    assert any(t.startswith("modsim.spec.base") for t in targets)
    code = ast.parse("def f():\n    from ..store import layout\n")
    nested = [n for n in ast.walk(code) if isinstance(n, ast.ImportFrom)]
    assert nested and nested[0].level == 2  # ast.walk reaches imports inside functions


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_only_stages_before_it(layer):
    offenders = [f"{i.module}:{i.line} imports {i.target}"
                 for path in sources() if layer_of(module_name(path)) == layer
                 for i in imports_of(path) if layer_of(i.target) in FORBIDDEN[layer]]
    assert offenders == []


def kind_owners() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Of every registered cell and task kind: its name, and the names of its spec and implementation classes,
    each -> the modules that are its own (where its spec class and its implementation are defined)."""
    names: dict[str, set[str]] = {}
    classes: dict[str, set[str]] = {}
    for family in KIND_FAMILIES:
        for name in registry.FAMILIES[family].names():
            kind = registry.FAMILIES[family].get(name)
            parts = (kind.spec_class(), kind.implementation())
            own = {part.__module__ for part in parts}
            names.setdefault(name, set()).update(own)
            for part in parts:
                if isinstance(part, type):
                    classes.setdefault(part.__name__, set()).update(own)
    return names, classes


def compared_literals(tree: ast.AST) -> list[tuple[str, int]]:
    """String constants a comparison (==, !=, in, not in) holds on either side, tuples and sets included."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        for side in (node.left, *node.comparators):
            items = side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else [side]
            found += [(item.value, node.lineno) for item in items
                      if isinstance(item, ast.Constant) and isinstance(item.value, str)]
    return found


def isinstance_classes(tree: ast.AST) -> list[tuple[str, int]]:
    """Class names an `isinstance` or `issubclass` call tests against, and names a `from ... import` brings in."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("isinstance", "issubclass") \
                and len(node.args) == 2:
            target = node.args[1]
            items = target.elts if isinstance(target, ast.Tuple) else [target]
            found += [(item.id if isinstance(item, ast.Name) else getattr(item, "attr", ""), node.lineno)
                      for item in items]
        elif isinstance(node, ast.ImportFrom):
            found += [(alias.name, node.lineno) for alias in node.names]
    return found


def test_no_module_outside_a_kind_compares_its_name():
    owners, _ = kind_owners()
    offenders = [f"{module_name(path)}:{line} compares {literal!r}"
                 for path in sources() for literal, line in compared_literals(ast.parse(path.read_text()))
                 if literal in owners and module_name(path) not in owners[literal] | {"modsim.registry"}]
    assert offenders == []


def test_no_module_outside_a_kind_imports_or_tests_its_class():
    _, owners = kind_owners()
    offenders = [f"{module_name(path)}:{line} uses {cls}"
                 for path in sources() for cls, line in isinstance_classes(ast.parse(path.read_text()))
                 if cls in owners and not is_own(module_name(path), owners[cls])]
    assert offenders == []


def is_own(module: str, own: set[str]) -> bool:
    """Whether `module` is one of a kind's own modules or a package above one (which may re-export it)."""
    return any(o == module or o.startswith(module + ".") for o in own)


def test_the_kind_scan_sees_a_comparison_an_isinstance_and_an_import():
    tree = ast.parse("from .cells.ctrnn import CTRNN\n"
                     "if cell.kind == 'gru' or kind in ('leaky', 'x'):\n    isinstance(c, CTRNN)\n")
    assert {lit for lit, _ in compared_literals(tree)} == {"gru", "leaky", "x"}
    assert [cls for cls, _ in isinstance_classes(tree)] == ["CTRNN", "CTRNN"]
