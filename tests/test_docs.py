"""The documentation: the tutorial's spec is the shipped experiment and validates; the generated reference
pages list every registered kind and field (the site itself is built with `mkdocs build --strict` in CI)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import modsim
from modsim import registry
from tests.conftest import ROOT


def _tutorial_spec() -> dict:
    text = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    doc: dict = {"name": "my_flipflop3"}
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        doc.update(yaml.safe_load(block))
    return doc


def test_the_tutorial_writes_the_shipped_three_group_experiment():
    spec = modsim.spec_from_dict(_tutorial_spec())
    shipped = modsim.load_spec(ROOT / "specs" / "flipflop3_mi.yaml")
    ours, theirs = (s.model_dump(mode="json", exclude={"name", "description"}) for s in (spec, shipped))
    assert ours == theirs


def test_generated_reference_pages_cover_every_kind_and_field():
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import hooks
    finally:
        sys.path.pop(0)
    pages = hooks.pages()
    for family in ("cells", "tasks", "constraints"):
        page = pages[f"kinds/{family}.md"]
        for name in registry.FAMILIES[family].names():
            assert f"## `{name}`" in page
            for field, info in registry.FAMILIES[family].get(name).spec_class().model_fields.items():
                assert f"| `{info.alias or field}` |" in page, (family, name, field)
    assert all(f"| `{m}` |" in pages["kinds/metrics.md"] for m in registry.metrics.names())
    assert "## `local`" in pages["kinds/executors.md"]
    assert "total correlation" in pages["dependence-penalties.md"] and "training_state.bin" in pages["store.md"]
    for path, text in pages.items():
        assert not re.search(r"\b[A-Z0-9]+_TABLE\b", text), f"{path}: an unfilled placeholder"


def _template_files() -> dict[str, str]:
    """The plugin template of docs/plugins.md: every code block with a `title`, by its path."""
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    return dict(re.findall(r'```\w+ title="([^"]+)"\n(.*?)```', text, re.S))


def _entry_points_txt(pyproject: str) -> str:
    """The `entry_points.txt` an installer writes from a pyproject's `[project.entry-points]` tables."""
    import tomllib

    groups = tomllib.loads(pyproject)["project"]["entry-points"]
    return "\n".join(f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in points.items())
                     for group, points in groups.items())


@pytest.mark.slow
def test_the_plugin_template_installs_and_its_tests_pass(tmp_path: Path):
    """docs/plugins.md is a complete plugin: its files, installed as its pyproject.toml says (a dist-info with
    its entry points), pass their own tests in a fresh interpreter."""
    files = _template_files()
    assert {"pyproject.toml", "src/modsim_softrate/__init__.py", "src/modsim_softrate/cell.py",
            "tests/test_softrate.py"} <= set(files)
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    info = tmp_path / "site" / "modsim_softrate-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: modsim-softrate\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(_entry_points_txt(files["pyproject.toml"]))
    path = os.pathsep.join([str(tmp_path / "site"), str(tmp_path / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error:modsim plugin",
                           "tests/test_softrate.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": path})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "3 passed" in proc.stdout
