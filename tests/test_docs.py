"""The documentation: the tutorial's spec is the shipped experiment and validates; the generated reference
pages list every registered kind and field (the site itself is built with `mkdocs build --strict` in CI)."""

from __future__ import annotations

import re
import sys

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
    assert "total correlation" in pages["mi-estimators.md"] and "training_state.bin" in pages["store.md"]
    for path, text in pages.items():
        assert not re.search(r"\b[A-Z0-9]+_TABLE\b", text), f"{path}: an unfilled placeholder"
