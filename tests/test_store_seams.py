"""A stored run is a typed record owned by `store/`: no module outside it reads a group's attributes, opens a
group, builds a path inside a store or deletes anything; the records round-trip every attribute modsim
writes; the attribute keys are the layout's constants; a stored spec is read in one place."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import zarr

from modsim.errors import StoreCorrupt, UserError
from modsim.execute import execute_run
from modsim.store import (RunStatus, entry_path, layout, read_run, read_sweep, sweep_of, sweep_store)
from modsim.store.integrity import RUN_ATTRS, SECTION_ATTRS, SWEEP_ATTRS
from modsim.store.sweep import open_sweep_store, run_path
from tests.conftest import ROOT
from tests.test_pipeline import tiny_spec

PACKAGE = ROOT / "modsim"
STORE = PACKAGE / "store"

OPENS_ZARR_OUTSIDE_STORE = {
    "modsim/tasks/arrays.py": "reads a data array file a task spec names (the user's input data, not a store)",
}
"""Modules outside `store/` that may open a Zarr node, and why."""
MOVES_FILES_OUTSIDE_STORE = {
    "modsim/report/html.py": "renames its index.html into place inside the report folder the user named",
}
"""Modules outside `store/` that may delete or move a file, and why (never a store's)."""

STORE_ENTRIES = frozenset({layout.SWEEP_RUNS, layout.TRAIN, layout.METRICS, layout.CHECKPOINTS, layout.EVAL,
                           layout.STRUCTURE, layout.DYNAMICS, layout.WEIGHTS, layout.ANALYSIS, layout.STATE_FILE,
                           "zarr.json", ".lock"})
"""Names of what a run or sweep store holds: joining one onto a path builds a path inside a store."""

DELETING_CALLS = frozenset({"rmtree", "unlink", "rmdir", "remove", "rename", "replace"})
"""Calls that delete or move files (`shutil.rmtree`, `Path.unlink`, `os.remove`, `os.rename`, ...)."""


def outside_store() -> list[Path]:
    """Every module of the package outside `store/`."""
    return sorted(p for p in PACKAGE.rglob("*.py") if STORE not in p.parents)


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{node.lineno}"


def attribute_reads(tree: ast.AST) -> list[ast.Attribute]:
    """Every `x.attrs` (a Zarr node's attributes: `x.attrs[...]`, `x.attrs.get(...)`, `x.attrs.update(...)`)."""
    return [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "attrs"]


def store_path_joins(tree: ast.AST) -> list[ast.BinOp]:
    """Every `path / <a store entry>`: a string naming one, or `layout.<NAME>`."""
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)):
            continue
        right = node.right
        literal = isinstance(right, ast.Constant) and right.value in STORE_ENTRIES
        from_layout = isinstance(right, ast.Attribute) and isinstance(right.value, ast.Name) and \
            right.value.id == "layout"
        if literal or from_layout:
            found.append(node)
    return found


def deleting_calls(tree: ast.AST) -> list[ast.Call]:
    """Every call of a deleting or moving function (by the called name)."""
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and n.func.attr in DELETING_CALLS and not _is_text_replace(n)]


def _is_text_replace(call: ast.Call) -> bool:
    """`text.replace(old, new)` of a string (two positional arguments, the first a string or a call result that
    is text): not `os.replace`/`Path.replace`, which take paths."""
    owner = call.func.value if isinstance(call.func, ast.Attribute) else None
    return call.func.attr == "replace" and not (isinstance(owner, ast.Name) and owner.id == "os") and \
        len(call.args) == 2 and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)


def zarr_opens(tree: ast.AST) -> list[ast.AST]:
    """Every `import zarr` and `from zarr... import ...`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "zarr" for a in node.names):
            found.append(node)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "zarr":
            found.append(node)
    return found


def scan(check) -> list[str]:
    """`where` of everything `check` finds in the modules outside `store/`."""
    out = []
    for path in outside_store():
        tree = ast.parse(path.read_text(), str(path))
        out += [where(path, node) for node in check(tree)]
    return out


def test_no_module_outside_the_store_reads_a_groups_attributes():
    assert scan(attribute_reads) == []


def test_no_module_outside_the_store_opens_a_zarr_node_except_the_allowed():
    offenders = {str(Path(w.split(":")[0])) for w in scan(zarr_opens)}
    assert offenders == set(OPENS_ZARR_OUTSIDE_STORE)


def test_no_module_outside_the_store_builds_a_path_inside_a_store():
    assert scan(store_path_joins) == []


def test_no_module_outside_the_store_deletes_or_moves_files_except_the_allowed():
    offenders = {str(Path(w.split(":")[0])) for w in scan(deleting_calls)}
    assert offenders == set(MOVES_FILES_OUTSIDE_STORE)


def test_the_scans_see_what_they_look_for():
    code = ast.parse("g.attrs['spec']\nx = root / 'runs' / name\ny = run / layout.EVAL\nshutil.rmtree(p)\n"
                     "p.unlink()\nos.replace(a, b)\nimport zarr\ns = 'a-b'.replace('-', '_')\n")
    assert len(attribute_reads(code)) == 1
    assert sorted(n.lineno for n in store_path_joins(code)) == [2, 3]
    assert [n.func.attr for n in deleting_calls(code)] == ["rmtree", "unlink", "replace"]
    assert len(zarr_opens(code)) == 1


def test_the_stores_own_attribute_reads_name_their_keys_by_the_layouts_constants():
    offenders = []
    for path in sorted(STORE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            keyed = None
            if isinstance(node, ast.Subscript) and attribute_reads(node.value):
                keyed = node.slice
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args and \
                    attribute_reads(node.func.value) and node.func.attr in ("get", "pop", "setdefault"):
                keyed = node.args[0]
            if isinstance(keyed, ast.Constant):
                offenders.append(f"{where(path, node)} {keyed.value!r}")
    assert offenders == []


def test_a_stored_spec_is_read_in_one_place():
    """`Spec.from_stored` (in `spec/`) is called by the store's records and by the spec's own plan check
    (`spec_with_plan`) only, and no function named `stored_spec` reads a stored spec another way."""
    calls, defined = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "from_stored":
                calls.append(rel)
            if isinstance(node, ast.FunctionDef) and node.name == "stored_spec":
                defined.append(rel)
    assert sorted(set(calls)) == ["modsim/spec/io.py", "modsim/store/record.py"]
    assert defined == []


@pytest.fixture(scope="module")
def swept_run(tmp_path_factory) -> Path:
    """A finished tiny run of a sweep store (so it carries swept values): the store's path and the run's."""
    spec = tiny_spec()
    sweep = tmp_path_factory.mktemp("store") / "sw"
    open_sweep_store(sweep, spec.model_dump(mode="json", by_alias=True), ["seed=0", "seed=1"], ["training.seed"])
    path = run_path(sweep, "seed=0")
    execute_run(spec, path, sweep_values={"training.seed": 0})
    return path


RUN_FIELDS = {
    layout.ATTR_STORE_VERSION: lambda r: r.provenance.store_version,
    layout.ATTR_NAME: lambda r: r.provenance.name,
    layout.ATTR_SPEC: lambda r: r.spec_json,
    layout.ATTR_SPEC_SHA256: lambda r: r.provenance.spec_sha256,
    layout.ATTR_VERSIONS: lambda r: r.provenance.versions,
    layout.ATTR_SEED: lambda r: r.provenance.seed,
    layout.ATTR_DEVICE: lambda r: r.provenance.device,
    layout.ATTR_STARTED: lambda r: r.provenance.started,
    layout.ATTR_FINISHED: lambda r: r.provenance.finished,
    layout.ATTR_STATUS: lambda r: r.status,
    layout.ATTR_MESSAGE: lambda r: r.provenance.message,
    layout.ATTR_LAST_STEP: lambda r: r.provenance.last_step,
    layout.ATTR_SUMMARY: lambda r: r.summary,
    layout.ATTR_SWEEP_VALUES: lambda r: r.sweep_values,
    layout.ATTR_DATA_FILES: lambda r: r.provenance.data_files,
}
"""Where the run record holds each attribute of a run."""


def test_the_run_record_holds_every_attribute_a_run_has():
    assert set(RUN_FIELDS) == set(RUN_ATTRS)


def test_the_run_record_round_trips_every_attribute_a_run_writes(swept_run: Path):
    written = dict(zarr.open_group(str(swept_run), mode="r").attrs)
    record = read_run(swept_run)
    assert set(written) == set(RUN_FIELDS)  # a tiny sweep run writes every attribute
    assert {key: RUN_FIELDS[key](record) for key in written} == written
    assert record.status is RunStatus.FINISHED and record.status == "finished"
    assert record.shown_status() is RunStatus.FINISHED
    assert record.name == "seed=0" and record.provenance.last_step == 4
    assert record.sweep_values == {"training.seed": 0}
    assert record.spec.model_dump(mode="json", by_alias=True) == written[layout.ATTR_SPEC]
    structure = dict(zarr.open_group(str(swept_run / layout.STRUCTURE), mode="r").attrs)
    assert set(structure) == set(SECTION_ATTRS[layout.STRUCTURE])
    assert record.output_names() == structure[layout.ATTR_OUTPUT_NAMES] != []


def test_the_run_record_reads_its_arrays_through_the_checks(swept_run: Path):
    record = read_run(swept_run)
    metrics = record.arrays(layout.METRICS)
    assert list(metrics["step"]) == [0, 2, 4]
    assert set(record.arrays(layout.EVAL, ("inputs", "nothing"))) == {"inputs"}
    assert record.arrays("no_such_section") == {}


def test_the_sweep_record_round_trips_every_attribute_a_sweep_store_writes(swept_run: Path):
    sweep = swept_run.parent.parent
    written = dict(zarr.open_group(str(sweep), mode="r").attrs)
    record = read_sweep(sweep)
    fields = {layout.ATTR_STORE_VERSION: layout.STORE_VERSION, layout.ATTR_KIND: layout.KIND_SWEEP,
              layout.ATTR_NAME: record.name, layout.ATTR_SPEC: record.spec_json,
              layout.ATTR_SWEEP_SHA256: record.sweep_sha256, layout.ATTR_RUNS: record.run_names,
              layout.ATTR_SWEPT: record.swept}
    assert set(fields) == set(SWEEP_ATTRS) == set(written)
    assert fields == written
    assert record.name == "sw" and record.run_names == ["seed=0", "seed=1"] and record.swept == ["training.seed"]
    assert record.run_paths() == [sweep / layout.SWEEP_RUNS / "seed=0", sweep / layout.SWEEP_RUNS / "seed=1"]
    assert record.spec.training.seed == read_run(swept_run).spec.training.seed


def test_a_run_knows_the_sweep_it_belongs_to(swept_run: Path, tmp_path: Path):
    assert read_run(swept_run).sweep == swept_run.parent.parent
    assert sweep_of(tmp_path / layout.SWEEP_RUNS / "x") is None  # no sweep store there
    assert sweep_of(swept_run.parent.parent) is None


def _copy(run: Path, tmp_path: Path) -> Path:
    import shutil

    sweep = tmp_path / "sw"
    shutil.copytree(run.parent.parent, sweep)
    return sweep


def test_a_status_modsim_never_writes_is_corruption_named_by_the_attribute(swept_run: Path, tmp_path: Path):
    run = run_path(_copy(swept_run, tmp_path), swept_run.name)
    zarr.open_group(str(run), mode="r+").attrs[layout.ATTR_STATUS] = "dead"  # shown only, never stored
    with pytest.raises(StoreCorrupt, match="attribute 'status' = 'dead', where modsim writes one of diverged, "
                                           "failed, finished, interrupted, running"):
        read_run(run)


def test_a_sweep_store_naming_an_unsafe_run_is_corruption(swept_run: Path, tmp_path: Path):
    sweep = _copy(swept_run, tmp_path)
    zarr.open_group(str(sweep), mode="r+").attrs[layout.ATTR_RUNS] = ["seed=0", "../outside"]
    with pytest.raises(StoreCorrupt, match="attribute 'runs'"):
        read_sweep(sweep)


def test_a_folder_that_is_no_sweep_store_is_refused_by_name(swept_run: Path):
    with pytest.raises(UserError, match=r"is a run of the sweep store .*, not a sweep store .*; its sweep store is"):
        sweep_store(swept_run)


def test_an_entry_of_the_store_is_one_safe_name(tmp_path: Path):
    assert entry_path(tmp_path, "run-1", "run name") == tmp_path / "run-1"
    with pytest.raises(UserError, match="run name '../x' is not allowed"):
        entry_path(tmp_path, "../x", "run name")
