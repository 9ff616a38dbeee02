"""The generated reference renders as meant: every table row of every generated page has its header's number of
cells (a choice field's `a | b` once spilled across the columns), choice and aliased fields show their type,
default or "required" and description, wrapped text never turns into a list item, a broken table fails the
build, and the API page is a reference with signatures and types (built with `mkdocs build --strict`)."""

from __future__ import annotations

import html
import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import markdown
import pytest

from modsim import registry
from tests.conftest import ROOT

MARKDOWN_EXTENSIONS = ["tables", "admonition", "pymdownx.superfences"]
"""The extensions of mkdocs.yml that decide tables, lists and code blocks."""


def _hooks():
    spec = importlib.util.spec_from_file_location("modsim_docs_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def hooks():
    return _hooks()


@pytest.fixture(scope="module")
def pages(hooks) -> dict[str, str]:
    return hooks.pages()


def split_row(row: str) -> list[str]:
    """The cells of a Markdown table row, split at unescaped `|`: a `|` after an odd number of backslashes is
    escaped and stays in its cell (`\\|`), after an even number (`\\\\|`: an escaped backslash) it separates."""
    cells, cell, i, inner = [], "", 0, row.strip()
    while i < len(inner):
        if inner[i] == "\\":
            cell, i = cell + inner[i:i + 2], i + 2
        elif inner[i] == "|":
            cells.append(cell)
            cell, i = "", i + 1
        else:
            cell, i = cell + inner[i], i + 1
    cells.append(cell)
    if inner.startswith("|"):
        cells = cells[1:]
    if inner.endswith("|") and cells and cells[-1] == "":
        cells = cells[:-1]
    return [c.strip() for c in cells]


def outside_fences(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every line outside fenced code blocks."""
    out, fence = [], False
    for number, line in enumerate(text.split("\n"), 1):
        if re.match(r"^\s*(```|~~~)", line):
            fence = not fence
            continue
        if not fence:
            out.append((number, line))
    return out


def tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """(header cells, body rows' cells) of every table of a page."""
    lines = outside_fences(text)
    found = []
    for i, (_, line) in enumerate(lines):
        if i and "|" in line and re.fullmatch(r"\|?(\s*:?-+:?\s*\|)*\s*:?-+:?\s*\|?", line.strip()):
            body = []
            for _, row in lines[i + 1:]:
                if not row.strip().startswith("|"):
                    break
                body.append(split_row(row))
            found.append((split_row(lines[i - 1][1]), body))
    return found


def kind_rows(page: str, name: str) -> dict[str, list[str]]:
    """The field table of kind `name` on a kinds page: field -> its row's cells."""
    section = re.search(rf"^## `{re.escape(name)}`\n(.*?)(?=^## |\Z)", page, re.S | re.M).group(1)
    [(header, body)] = tables(section)
    assert header == ["field", "type", "default", "description"]
    return {row[0].strip("`"): row for row in body}


def test_split_row_counts_unescaped_pipes_only():
    assert split_row("| `a` | `x` \\| `y` | q(x \\| z) |") == ["`a`", "`x` \\| `y`", "q(x \\| z)"]
    assert split_row("| `a` | `x` \\\\| `y` |") == ["`a`", "`x` \\\\", "`y`"]  # `\\\\|`: a backslash, then a bar
    assert len(split_row("|---|---|---|---|")) == 4


def test_every_generated_table_row_has_its_headers_number_of_cells(pages):
    kinds = sum(len(registry.FAMILIES[f].names()) for f in ("cells", "tasks", "constraints"))
    counted = 0
    for path, text in pages.items():
        for header, body in tables(text):
            for row in body:
                assert len(row) == len(header), f"{path}: {len(row)} cells, header {len(header)}: {row}"
            counted += 1
    assert counted >= kinds + 1  # a field table per kind, the metrics table, the README's tables


def test_every_rendered_kind_table_shows_each_fields_default_and_description(pages):
    """What a browser shows: Python-Markdown (as mkdocs runs it) cuts a row with too many cells to its header's
    width, so a spilled row loses its default and description; every kind's rendered table has one row per
    property of its JSON Schema with its default (or "required") and its description."""
    for family in ("cells", "tasks", "constraints"):
        reg = registry.FAMILIES[family]
        rendered = markdown.markdown(pages[f"kinds/{family}.md"], extensions=MARKDOWN_EXTENSIONS)
        found = re.findall(r"<table>.*?</table>", rendered, re.S)
        assert len(found) == len(reg.names())
        for name, table in zip(reg.names(), found):
            schema = reg.get(name).spec_class().model_json_schema()
            rows = [[_text(c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
                    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]]
            assert [row[0] for row in rows] == list(schema["properties"]), (family, name)
            for (field, prop), row in zip(schema["properties"].items(), rows):
                default = "required" if field in schema.get("required", []) else json.dumps(prop["default"])
                assert row[2] == default, (family, name, field, row)
                description = " ".join(prop.get("description", "").replace("`", "").split())
                assert row[3] == description, (family, name, field, row)


def test_choice_and_aliased_fields_show_type_default_and_description(pages):
    tasks, cells, constraints = (pages[f"kinds/{f}.md"] for f in ("tasks", "cells", "constraints"))
    arrays = kind_rows(tasks, "arrays")
    assert arrays["input_dim"] == ["`input_dim`", "integer", "required",
                                   "Number of input channels (checked against the file)."]
    assert arrays["output_dim"][1:3] == ["integer", "required"]
    assert arrays["loss"][1:3] == ["`mse` \\| `cross_entropy_last` \\| `cross_entropy_steps`", '`"mse"`']
    assert arrays["loss"][3].startswith("Task loss: `mse` after the washout")
    assert arrays["washout"][1:3] == ["integer", "`0`"]  # aliased, with a default
    assert arrays["output_sets"][2] == "`null`"
    gru = kind_rows(cells, "gru")
    assert gru["kernel"][1:3] == ["`auto` \\| `modsim` \\| `torch`", '`"auto"`']
    assert gru["kernel"][3].startswith("Who runs the time loop.")
    mine = kind_rows(constraints, "mine")
    assert mine["objective"][1:3] == ["`total_correlation` \\| `pairwise`", '`"total_correlation"`']
    assert mine["objective"][3].startswith("For more than two groups: minimise their total correlation")
    assert "||" not in mine["objective"][3] and "\\|\\|" in mine["objective"][3]  # KL(p || q), escaped once
    assert mine["optimizer"][1].count("\\|") >= 1 and mine["optimizer"][2].startswith('`"')
    for name in ("l1", "l2"):
        weights = kind_rows(constraints, name)["weights"]
        assert weights[1].startswith("list of `") and "\\|" in weights[1] and weights[2].startswith("`[")


def test_every_field_row_matches_its_json_schema(pages):
    """For every kind: a row per property (by alias), "required" exactly for the schema's required
    properties, else the default as JSON; a choice's values in order; the description on one line."""
    for family in ("cells", "tasks", "constraints"):
        reg = registry.FAMILIES[family]
        for name in reg.names():
            schema = reg.get(name).spec_class().model_json_schema()
            rows = kind_rows(pages[f"kinds/{family}.md"], name)
            assert set(rows) == set(schema["properties"]), (family, name)
            for field, prop in schema["properties"].items():
                row = rows[field]
                assert len(row) == 4, (name, field, row)
                expected = "required" if field in schema.get("required", []) else f"`{json.dumps(prop['default'])}`"
                assert row[2] == expected.replace("|", "\\|"), (name, field, row)
                if "enum" in prop:
                    assert row[1] == " \\| ".join(f"`{v}`" for v in prop["enum"]), (name, field, row)
                description = " ".join(prop.get("description", "").split("\n"))
                assert row[3] == description.replace("|", "\\|"), (name, field)


def _metric_rows(pages) -> dict[str, list[str]]:
    """The metrics page's table: metric -> its row's cells (metric, label, needs, stores)."""
    [(header, body)] = [table for table in tables(pages["kinds/metrics.md"]) if table[0][0] == "metric"]
    assert header == ["metric", "label", "needs", "stores"]
    return {row[0].strip("`"): row for row in body}


def test_the_metrics_table_names_what_every_metric_stores(pages):
    rows = _metric_rows(pages)
    assert set(rows) == set(registry.metrics.names())
    for name, row in rows.items():
        stored = re.findall(r"`([^`]+)`", row[3])
        assert stored == list(registry.metrics.get(name).stored_keys), (name, row)
    assert rows["mse"][3] == "`mse`" and rows["q_cor"][3] == "`q_cor`" and rows["d_cor"][3] == "`d_cor`"
    assert rows["mi"][3] == "`mi`, `mi_diverged`"


def test_the_needs_text_names_every_kind_that_offers_a_capability_as_its_specs_do(pages):
    """The kinds a metric's needs name are read from the registry: every example spec's task, cell and
    constraints are named under each capability the spec offers, `arrays` under both value and class targets
    (its `classes` field decides), and the page says what validation says."""
    from modsim.spec import load_spec, spec_from_dict
    from modsim.spec.capabilities import CAPABILITIES, describe_capabilities, offered_by

    rows = _metric_rows(pages)
    for name in ("r2", "mse", "sign_accuracy"):
        kinds = re.search(r"\(([^()]*)\)$", rows[name][2]).group(1).split(", ")
        assert {"lorenz_rossler", "flipflop", "arrays"} <= set(kinds), rows[name]
        assert not {"digit_parity", "gonogo", "neurogym"} & set(kinds), rows[name]
    assert "arrays" in rows["accuracy"][2] and "neurogym" in rows["accuracy"][2]
    assert rows["accuracy"][2] == describe_capabilities(["classes"])

    base = {"name": "mine", "network": {"cell": {"kind": "rnn", "units": 4}, "groups": {"a": 2, "b": 2},
                                        "readouts": [{"name": "out", "dim": 2, "from": ["a", "b"]}]},
            "training": {"steps": 1, "batch": 2, "checkpoint_every": 1, "device": "cpu"},
            "analysis": {"metrics": ["q_cor"]}}
    arrays = {"kind": "arrays", "inputs": "x.npy", "targets": "y.npy", "input_dim": 3, "output_dim": 2}
    specs = [load_spec(path) for path in sorted((ROOT / "specs").glob("*.yaml"))]
    specs += [spec_from_dict({**base, "task": arrays}),
              spec_from_dict({**base, "task": {**arrays, "loss": "cross_entropy_steps", "classes": 2}})]
    kinds = {"task": set(), "cell": set()}
    for spec in specs:
        kinds["task"].add(spec.task.kind)
        kinds["cell"].add(spec.network.cell.kind)
        own = {spec.task.kind, spec.network.cell.kind, *(c.kind for c in spec.constraints)}
        for capability in spec.capabilities() & set(CAPABILITIES):
            offering = offered_by(capability)
            if offering:
                assert own & set(offering), (spec.name, capability, offering)
    assert {"arrays", "lorenz_rossler", "flipflop", "digit_parity", "gonogo", "multitask"} <= kinds["task"]
    assert {"leaky", "ctrnn", "gru", "rnn"} <= kinds["cell"]
    assert "arrays" in offered_by("regression") and "arrays" in offered_by("classes")
    assert offered_by("two_groups") == [] and offered_by("preactivation") == ["leaky"]


def test_a_metric_states_its_range_once_as_its_declared_bounds(hooks, pages):
    """The range beside a metric's definition is its `Metric.bounds` (a closed range, as the contract checks
    it); its description states no other interval."""
    interval = re.compile(r"[\[(]\s*-?(?:[\d.]+(?:/\d+)?|inf)\s*,\s*-?(?:[\d.]+(?:/\d+)?|inf)\s*[\])]")
    described = [m for m in registry.metrics if m.description and m.bounds is not None]
    assert {"q_str_excitatory", "q_str_inhibitory", "ei_blocks"} <= {m.name for m in described}
    page = pages["kinds/metrics.md"]
    for m in described:
        stated = [found for found in interval.findall(m.description) if f"range {found}" != hooks._bounds(m.bounds)]
        assert not stated, (m.name, stated, hooks._bounds(m.bounds))
        assert f"- `{m.name}` ({hooks._bounds(m.bounds)}; needs " in page
    assert hooks._bounds((-0.5, 1.0)) == "range [-0.5, 1]" and hooks._bounds((0.0, float("inf"))) == "range [0, inf)"


def test_wrapped_lines_never_become_list_items(hooks, pages):
    for path, text in pages.items():
        lines = outside_fences(text)
        for (_, previous), (number, line) in zip(lines, lines[1:]):
            if previous.strip():
                assert not re.match(r"^ {1,3}([-*+]|\d+[.)]) ", line), f"{path}:{number}: {line}"
    rendered = markdown.markdown(pages["kinds/metrics.md"], extensions=MARKDOWN_EXTENSIONS)
    items = [re.sub(r"<[^>]+>", "", item) for item in re.findall(r"<li>(.*?)</li>", rendered, re.S)]
    d_out = next(item for item in items if item.startswith("d_out:"))
    assert re.search(r"sum E\s+- 1/K\), the assignment found by the Hungarian algorithm", html.unescape(d_out))
    assert not any(item.lstrip().startswith("1/K)") for item in items)
    text = "- a wrapped\n  - 1/K) line\n  2. also\n\n- a list\n\n  - nested after a blank\n```\n  - code\n```"
    assert hooks.no_stray_list_markers(text) == text.replace("  - 1/K)", "  \\- 1/K)").replace("  2.", "  2\\.")


def test_a_table_row_with_the_wrong_number_of_cells_fails_the_build(hooks, monkeypatch):
    from mkdocs.exceptions import PluginError

    broken = "| field | type |\n|---|---|\n| `kernel` | `auto` | `torch` |\n| `units` | integer |\n"
    assert hooks.table_problems(broken) == ["line 3: 3 cells, the header has 2: | `kernel` | `auto` | `torch` |"]
    assert hooks.table_problems(broken.replace("`auto` | `torch`", "`auto` \\| `torch`")) == []
    monkeypatch.setattr(hooks, "pages", lambda: {"kinds/cells.md": broken})
    with pytest.raises(PluginError, match=r"kinds/cells\.md: line 3: 3 cells, the header has 2"):
        hooks.on_files([], None)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_the_api_page_is_a_reference_with_signatures_and_types(site):
    import modsim

    page = (site / "api" / "index.html").read_text(encoding="utf-8")
    code = [_text(block) for block in re.findall(r"<pre\b.*?</pre>", page, re.S)]
    assert any('spec = modsim.load_spec("specs/flipflop3_mi.yaml"' in block and "sweep.summary()" in block
               for block in code), "the page's example is not a code block"
    assert not re.search(r"<p>\s*import modsim", page)
    headings = {_text(h).split()[0] for h in re.findall(r'<h\d id="modsim\.[^"]*" class="doc doc-heading">(.*?)</h\d>',
                                                         page, re.S)}
    assert {f"modsim.{name}" for name in modsim.__all__ if name != "registry"} <= headings, headings
    signatures = " ".join(_text(block) for block in re.findall(r'<div class="doc-signature.*?</div>', page, re.S))
    for name in ("load_spec", "spec_from_dict", "run", "open_run", "open_sweep", "register_cell", "register_task",
                 "register_constraint", "register_metric", "register_executor"):
        parameters = inspect.signature(getattr(modsim, name)).parameters.values()
        for p in parameters:
            if p.annotation is not inspect.Parameter.empty:
                assert f"{p.name}: {p.annotation}" in signatures, (name, p.name, p.annotation)
    assert "-> Run" in signatures and "-> Spec" in signatures and "-> Sweep" in signatures


def test_the_kinds_pages_render_each_choice_field_in_one_row(site):
    page = (site / "kinds" / "cells" / "index.html").read_text(encoding="utf-8")
    row = next(r for r in re.findall(r"<tr>.*?</tr>", page, re.S) if "<td><code>kernel</code></td>" in r)
    cells = [_text(c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
    assert cells[:3] == ["kernel", "auto | modsim | torch", '"auto"'] and cells[3].startswith("Who runs the time loop")


def rendered_tables(page_path: Path, screenshot: Path | None = None) -> list[dict]:
    """Open a built page in headless Chromium: for every table, its header's cell count, each row's cell count
    and the rows with an empty type or description cell; optionally a screenshot of the whole page."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from tests.test_report import CHROMIUM, CHROMIUM_FLAGS

    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        context = pw.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM), headless=True,
                                                        args=CHROMIUM_FLAGS, viewport={"width": 1400, "height": 900})
        try:
            page = context.new_page()
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            tables = page.eval_on_selector_all("article table", """ts => ts.map(t => ({
                header: t.querySelector('thead tr').children.length,
                rows: [...t.querySelectorAll('tbody tr')].map(r => r.children.length),
                empty: [...t.querySelectorAll('tbody tr')].filter(r => [...r.children].some(
                    (c, i) => i !== 2 && c.innerText.trim() === '')).map(r => r.innerText.slice(0, 60)),
                kernel: [...t.querySelectorAll('tbody tr')].filter(r => r.children[0].innerText.trim() === 'kernel')
                    .map(r => [...r.children].map(c => c.innerText.trim()))}))""")
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            context.close()
    return tables


@pytest.mark.slow
@pytest.mark.parametrize("family", ["cells", "tasks", "constraints", "loggers", "metrics"])
def test_headless_chromium_shows_every_kinds_table_row_whole(site, family, tmp_path):
    """In the browser, as a reader sees it: every row of every table of a generated kinds page has its header's
    number of cells and no empty type or description (a choice field once spilled across the columns), and the
    GRU's `kernel` choice sits in one row with its default."""
    from tests.test_report import _browser_available

    if not _browser_available():
        if os.environ.get("MODSIM_REQUIRE_BROWSER"):
            pytest.fail("MODSIM_REQUIRE_BROWSER is set but /usr/bin/chromium or playwright is missing")
        pytest.skip("headless Chromium (/usr/bin/chromium) or playwright is not installed")
    tables = rendered_tables(site / "kinds" / family / "index.html", tmp_path / f"{family}.png")
    assert tables and (tmp_path / f"{family}.png").stat().st_size > 10_000
    for table in tables:
        assert table["rows"] and set(table["rows"]) == {table["header"]}, table
        assert table["empty"] == [], table["empty"]  # the metrics' stores included (a metric storing its name)
    if family == "cells":
        kernel = [row for t in tables for row in t["kernel"]]
        assert len(kernel) == 1 and kernel[0][1].split() == ["auto", "|", "modsim", "|", "torch"]
        assert kernel[0][2] == '"auto"' and kernel[0][3].startswith("Who runs the time loop")
