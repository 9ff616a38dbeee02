"""MkDocs hook: the reference pages are generated from the code at build time, so they cannot drift.

- `kinds/<family>.md`: one section per registered kind (built-ins and installed plugins), with its spec
  model's docstring and a table of its fields (type, default, description) from the JSON Schema, which the
  field docstrings feed;
- `kinds/metrics.md`: every registered metric (label, what it needs, what it stores) and the metric
  definitions of the README;
- `mi-estimators.md`, `specs.md`, `store.md`, `extending.md`: the README's sections of those names (one
  text, shown in both places).
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = {"cells": ("Cells", "network.cell"), "tasks": ("Tasks", "task"),
            "constraints": ("Constraints", "constraints[]")}
README_PAGES = {
    "mi-estimators.md": ("MI estimators", ["MI estimators"]),
    "specs.md": ("Specs and sweeps", ["Specs", "Sweeps and statistics", "Your own data"]),
    "store.md": ("The store", ["The store"]),
    "extending.md": ("Extending modsim", ["Extending modsim", "Layout"]),
}


def readme_section(title: str) -> str:
    """The body of the README's `## title` section (up to the next `## `), headings shifted one level down."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if match is None:
        raise KeyError(f"README.md has no section '## {title}'")
    body = re.sub(r"^(#{3,}) ", lambda m: m.group(1)[:-1] + " ", match.group(1), flags=re.M)
    return _relink(body)


def _relink(text: str) -> str:
    """Links to repository files become links to the files on the repository site (docs/ holds none)."""
    return re.sub(r"\]\((?!https?://|#)([^)]+)\)", r"](https://github.com/modsim/modsim/blob/main/\1)", text)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _type(prop: dict) -> str:
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    if "anyOf" in prop:
        return " or ".join(_type(p) for p in prop["anyOf"])
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    kind = prop.get("type", "any")
    if kind == "array" and "items" in prop:
        return f"list of {_type(prop['items'])}"
    return str(kind)


def kind_section(name: str, spec_class) -> str:
    """A kind's heading, its spec docstring and its field table."""
    schema = spec_class.model_json_schema()
    doc = inspect.cleandoc(spec_class.__doc__ or "")
    lines = [f"## `{name}`", "", doc, "", "| field | type | default | description |", "|---|---|---|---|"]
    fields = spec_class.model_fields
    for field, prop in schema.get("properties", {}).items():
        info = fields.get(field)
        default = "required" if info is not None and info.is_required() else f"`{json.dumps(prop.get('default'))}`"
        lines.append(f"| `{field}` | {_cell(_type(prop))} | {_cell(default)} | {_cell(prop.get('description', ''))} |")
    return "\n".join(lines) + "\n"


def family_page(family: str) -> str:
    """Every registered kind of a family."""
    from modsim import registry
    import modsim.spec  # noqa: F401  (the spec models; `names()` loads the plugins' entry points)

    title, where = FAMILIES[family]
    reg = registry.FAMILIES[family]
    parts = [f"# {title}", "",
             f"Every kind registered in `modsim.registry.{family}` (built-ins and installed plugins), selected with "
             f"`kind:` under `{where}`. This page is generated from the spec models at build time; `modsim kinds` "
             "lists the same on the command line.", ""]
    for name in reg.names():
        parts.append(kind_section(name, reg.get(name).spec_class()))
    return "\n".join(parts)


def metrics_page() -> str:
    """Every registered metric, then the definitions."""
    from modsim import registry
    from modsim.analysis.metrics import CAPABILITIES
    import modsim.spec  # noqa: F401

    lines = ["# Metrics", "",
             "Every metric registered in `modsim.registry.metrics`, named in `analysis.metrics` and recorded at "
             "every checkpoint on held-out data (generated at build time).", "",
             "| metric | label | needs | stores |", "|---|---|---|---|"]
    for name in registry.metrics.names():
        m = registry.metrics.get(name)
        needs = "; ".join(CAPABILITIES.get(n, n) for n in sorted(m.needs)) or "any spec"
        stores = ", ".join(f"`{k}`" for k in m.stores)
        lines.append(f"| `{name}` | {_cell(m.label)} | {_cell(needs)} | {stores} |")
    lines += ["", "## Definitions", "", readme_section("Metrics")]
    return "\n".join(lines)


def executors_page() -> str:
    """Every registered sweep executor with its docstring."""
    from modsim import registry

    parts = ["# Executors", "", "How `modsim sweep` runs a sweep's runs (`--executor NAME`; generated at build time).", ""]
    for name in registry.executors.names():
        target = registry.resolve(registry.executors.get(name))
        parts += [f"## `{name}`", "", inspect.cleandoc(target.__doc__ or ""), ""]
    return "\n".join(parts)


def pages() -> dict[str, str]:
    """Path (in the docs) -> Markdown of every generated page."""
    out = {f"kinds/{family}.md": family_page(family) for family in FAMILIES}
    out["kinds/metrics.md"] = metrics_page()
    out["kinds/executors.md"] = executors_page()
    for path, (title, sections) in README_PAGES.items():
        out[path] = f"# {title}\n\n" + "\n".join(
            (readme_section(s) if i == 0 else f"## {s}\n\n" + readme_section(s)) for i, s in enumerate(sections))
    return out


def on_files(files, config):
    """Add the generated pages to the build."""
    for path, content in pages().items():
        files.append(File.generated(config, path, content=content))
    return files
