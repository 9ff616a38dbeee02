"""MkDocs hook: the reference pages are generated from the code at build time, so they cannot drift.

- `kinds/<family>.md`: one section per registered kind (built-ins and installed plugins), with its spec
  model's docstring and a table of its fields (type, default, description) from the JSON Schema, which the
  field docstrings feed;
- `kinds/metrics.md`: every registered metric (label, what it needs, what it stores), the metric
  definitions of the README and those metrics carry themselves (`Metric.description`, with `Metric.bounds`);
- `dependence-penalties.md`, `specs.md`, `store.md`, `extending.md`: the README's sections of those names (one
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
            "constraints": ("Constraints", "constraints[]"), "loggers": ("Loggers", "training.loggers[]")}
README_PAGES = {
    "dependence-penalties.md": ("Dependence penalties", ["Dependence penalties"]),
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
    """Links to pages of the site (`docs/<page>.md[#anchor]`) become links to those pages; links to other
    repository files become links to the files on the repository site."""
    def target(match: re.Match) -> str:
        link = match.group(1)
        if re.fullmatch(r"docs/[^/)#]+\.md(#.*)?", link):
            return f"]({link.removeprefix('docs/')})"
        return f"](https://github.com/modsim/modsim/blob/main/{link})"
    return re.sub(r"\]\((?!https?://|#)([^)]+)\)", target, text)


def _cell(text: object) -> str:
    """Text for one table cell: one line, every `|` escaped (once: callers pass raw text)."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _type(prop: dict) -> str:
    """A field's type in words, raw (a choice is `a | b`; `_cell` escapes the pipes)."""
    if "enum" in prop:
        return " | ".join(f"`{v}`" for v in prop["enum"])
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
    required = set(schema.get("required", []))
    for field, prop in schema.get("properties", {}).items():
        lines.append(f"| `{field}` | {_cell(_type(prop))} | {_cell(_default(field, prop, required))} "
                     f"| {_cell(prop.get('description', ''))} |")
    return "\n".join(lines) + "\n"


def _default(field: str, prop: dict, required: set[str]) -> str:
    """`required`, or the default as JSON. The schema names properties and `required` by alias (`input_dim`
    for the field `input_dim_`), so both are read from the schema, never from `model_fields` by name."""
    if field in required:
        return "required"
    if "default" in prop:
        return f"`{json.dumps(prop['default'])}`"
    return "computed"


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
    import modsim.spec  # noqa: F401

    lines = ["# Metrics", "",
             "Every metric registered in `modsim.registry.metrics`, named in `analysis.metrics` and recorded at "
             "every checkpoint on held-out data (generated at build time).", "",
             "| metric | label | needs | stores |", "|---|---|---|---|"]
    for name in registry.metrics.names():
        m = registry.metrics.get(name)
        stores = ", ".join(f"`{k}`" for k in m.stored_keys)
        lines.append(f"| `{name}` | {_cell(m.label)} | {_cell(_needs(m))} | {stores} |")
    lines += ["", "## Definitions", "", readme_section("Metrics")]
    described = [registry.metrics.get(n) for n in registry.metrics.names() if registry.metrics.get(n).description]
    if described:
        lines += ["", "## Further definitions", "",
                  "The metrics that define themselves (`Metric.description`: the E/I metrics of networks under Dale's "
                  "law, and plugins'), each with the range its values keep (`Metric.bounds`, a closed range that "
                  "the metric contract checks) and what it needs.", ""]
        lines += [f"- `{m.name}` ({_bounds(m.bounds)}; needs {_needs(m)}): {m.description}" for m in described]
    return "\n".join(lines)


def _needs(metric) -> str:
    """What a metric needs in words: each capability's description with the registered kinds offering it
    (`modsim.spec.capabilities.describe_capability`, as validation names them), or `any spec`."""
    from modsim.spec.capabilities import describe_capability

    return "; ".join(describe_capability(n) for n in sorted(metric.needs)) or "any spec"


def _bounds(bounds: tuple[float, float] | None) -> str:
    """A metric's declared range in words (`range [-0.5, 1]`, `range [0, inf)`): closed at every finite end, as
    `modsim.testing.contracts.check_bounds` checks it."""
    if bounds is None:
        return "range not declared"
    low, high = bounds
    left = "(-inf" if low == float("-inf") else f"[{low:g}"
    right = "inf)" if high == float("inf") else f"{high:g}]"
    return f"range {left}, {right}"


def executors_page() -> str:
    """Every registered sweep executor with its docstring."""
    from modsim import registry

    parts = ["# Executors", "", "How `modsim sweep` runs a sweep's runs (`--executor NAME`; generated at build time).", ""]
    for name in registry.executors.names():
        target = registry.resolve(registry.executors.get(name))
        parts += [f"## `{name}`", "", inspect.cleandoc(target.__doc__ or ""), ""]
    return "\n".join(parts)


_STRAY_MARKER = re.compile(r"^( {1,3})([-*+]|\d+[.)])(?= )")
"""A list marker at the start of a continuation line indented 1-3 spaces (inside a list item): Python-Markdown
nests lists at 4 spaces, so such a line would start a new item of the outer list."""


def no_stray_list_markers(text: str) -> str:
    """Escape list markers that start a wrapped line of a paragraph (`  - 1/K), ...` under a list item becomes
    `  \\- 1/K), ...`, plain text), outside fenced code; a list item that follows a blank line is left alone."""
    lines, fence, previous = [], None, ""
    for line in text.split("\n"):
        opening = re.match(r"^\s*(`{3,}|~{3,})", line)
        if fence is None and opening:
            fence = opening.group(1)
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
        elif previous.strip():
            line = _STRAY_MARKER.sub(lambda m: m.group(1) + re.sub(r"([-*+.)])", r"\\\1", m.group(2)), line)
        lines.append(line)
        previous = line
    return "\n".join(lines)


def pages() -> dict[str, str]:
    """Path (in the docs) -> Markdown of every generated page."""
    out = {f"kinds/{family}.md": family_page(family) for family in FAMILIES}
    out["kinds/metrics.md"] = metrics_page()
    out["kinds/executors.md"] = executors_page()
    for path, (title, sections) in README_PAGES.items():
        out[path] = f"# {title}\n\n" + "\n".join(
            (readme_section(s) if i == 0 else f"## {s}\n\n" + readme_section(s)) for i, s in enumerate(sections))
    return {path: no_stray_list_markers(text) for path, text in out.items()}


def table_cells(row: str) -> int:
    """Cells of a Markdown table row (`| a | b \\| c |`: 2): the bars between the outer ones that are not
    escaped (after an odd number of backslashes; `\\\\|` is an escaped backslash, then a bar)."""
    inner = re.sub(r"\\.", "x", row.strip())  # every escape pair is one character of a cell
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") else inner
    return inner.count("|") + 1


def table_problems(text: str) -> list[str]:
    """Rows of the page's tables whose number of cells differs from their header's (a stray `|` splits a
    cell; a browser shows it as a row spilling into the next columns)."""
    problems, lines, fence = [], text.split("\n"), False
    for i, line in enumerate(lines):
        if re.match(r"^\s*(```|~~~)", line):
            fence = not fence
        delimiter = "|" in line and re.fullmatch(r"\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?", line.strip())
        if fence or i == 0 or not delimiter:
            continue
        header = table_cells(lines[i - 1])
        for j in range(i + 1, len(lines)):
            if not lines[j].strip().startswith("|"):
                break
            if table_cells(lines[j]) != header:
                problems.append(f"line {j + 1}: {table_cells(lines[j])} cells, the header has {header}: "
                                f"{lines[j][:80]}")
    return problems


def on_files(files, config):
    """Add the generated pages to the build; a table row with the wrong number of cells fails it."""
    from mkdocs.exceptions import PluginError

    for path, content in pages().items():
        problems = table_problems(content)
        if problems:
            raise PluginError(f"docs/hooks.py generated a broken table in {path}: " + "; ".join(problems))
        files.append(File.generated(config, path, content=content))
    return files
