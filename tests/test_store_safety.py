"""No command writes or deletes outside the store or the named report directory: names are single safe
path components, --overwrite replaces only modsim's own runs and sweeps, report -o never empties a folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from modsim.cli import main
from modsim.store import check_name, name_problem
from modsim.testing.strategies import unsafe_names
from tests.conftest import ROOT, SHRINK, shrink_task

from hypothesis import given

TINY = [*SHRINK, *shrink_task("lorenz_rossler"), "constraints=[]", "network.cell.units=8", "network.groups.g1=4",
        "network.groups.g2=4", "analysis.metrics=[mse, q_cor]", "analysis.communities=[]", "analysis.induced_q=[]"]
FLAGSHIP = str(ROOT / "specs" / "gru_lorenz_rossler.yaml")


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and folder under `root`."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for d in dirs:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = None
        for f in files:
            p = os.path.join(dirpath, f)
            out[os.path.relpath(p, root)] = Path(p).read_bytes()
    return out


def run_cli(*args: str):
    return CliRunner().invoke(main, list(args))


def tiny_run(store: Path, *extra: str):
    return run_cli("run", FLAGSHIP, "--store", str(store), "--quiet", *[a for s in TINY for a in ("--set", s)],
                   *extra)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A user's folder: notes, an unrelated `victim` folder and a store holding one finished run `r`."""
    root = tmp_path_factory.mktemp("work")
    (root / "notes.txt").write_text("my notes")
    (root / "victim").mkdir()
    (root / "victim" / "thesis.tex").write_text("\\documentclass{article}")
    result = tiny_run(root / "store", "--name", "r")
    assert result.exit_code == 0, result.output
    (root / "store" / "readme.txt").write_text("store notes")
    return root


@pytest.mark.parametrize("name", ["../victim", "../../x", "/tmp/modsim-abs-name", ".", "..", "a/b", ".hidden", ""])
def test_unsafe_run_names_are_refused_and_nothing_moves(workspace, name):
    before = tree(workspace)
    result = tiny_run(workspace / "store", "--name", name, "--overwrite")
    assert result.exit_code == 2, result.output
    assert "run name" in result.output and "not allowed" in result.output
    assert tree(workspace) == before
    assert not Path("/tmp/modsim-abs-name").exists()


def test_overwrite_refuses_a_folder_that_is_not_a_modsim_run(workspace):
    store = workspace / "store"
    (store / "mine").mkdir(exist_ok=True)
    (store / "mine" / "data.csv").write_text("1,2,3")
    before = tree(workspace)
    result = tiny_run(store, "--name", "mine", "--overwrite")
    assert result.exit_code == 2, result.output
    assert "only replaces a modsim run" in result.output
    assert tree(workspace) == before


def test_overwrite_replaces_a_modsim_run_of_that_name(workspace):
    store = workspace / "store"
    old = (store / "r" / "zarr.json").read_bytes()
    result = tiny_run(store, "--name", "r", "--overwrite")
    assert result.exit_code == 0, result.output
    assert (store / "r" / "zarr.json").read_bytes() != old  # a new run (new start time)
    assert (store / "readme.txt").read_text() == "store notes"
    assert (workspace / "victim" / "thesis.tex").exists()


@pytest.mark.parametrize("name", ["..", ".", "../victim", "a/b"])
def test_unsafe_sweep_names_are_refused(workspace, name):
    before = tree(workspace)
    result = run_cli("sweep", str(ROOT / "specs" / "bena_separate.yaml"), "--store", str(workspace / "store"),
                     "--name", name, "--overwrite")
    assert result.exit_code == 2, result.output
    assert "sweep name" in result.output
    assert tree(workspace) == before


def test_sweep_overwrite_refuses_a_run_or_a_user_folder(workspace):
    before = tree(workspace)
    for name in ("r", "victim"):
        store = workspace / ("store" if name == "r" else "")
        result = run_cli("sweep", str(ROOT / "specs" / "bena_separate.yaml"), "--store", str(store),
                         "--name", name, "--overwrite")
        assert result.exit_code == 2, result.output
        assert "only replaces a modsim sweep" in result.output
    assert tree(workspace) == before


def test_report_refuses_a_folder_with_other_files(workspace):
    run = workspace / "store" / "r"
    for target in (workspace, workspace / "victim", run, workspace / "notes.txt"):
        before = tree(workspace)
        result = run_cli("report", str(run), "-o", str(target))
        assert result.exit_code == 2, result.output
        assert any(w in result.output for w in ("refusing", "not a directory", "is a file"))
        assert tree(workspace) == before


def test_report_writes_a_new_or_empty_folder_and_replaces_only_its_own(workspace):
    run = workspace / "store" / "r"
    out = workspace / "rep"
    out.mkdir()
    assert run_cli("report", str(run), "-o", str(out)).exit_code == 0
    assert (out / "index.html").is_file() and (out / "modsim-report.json").is_file()
    (out / "stale.png").write_text("old figure")
    result = run_cli("report", str(run), "-o", str(out))  # a previous modsim report is replaced whole
    assert result.exit_code == 0, result.output
    assert not (out / "stale.png").exists() and (out / "index.html").is_file()
    assert not [p for p in workspace.iterdir() if p.name.endswith(".partial")]


def test_group_names_that_are_not_path_components_are_a_validation_error(tmp_path):
    for bad in ("a/b", "..", "x\\\\y"):
        result = run_cli("validate", FLAGSHIP, "--set", f"network.groups={{'{bad}': 32, g2: 32}}")
        assert result.exit_code == 2, (bad, result.output)
        assert "network.groups" in result.output and "group name" in result.output


@given(unsafe_names())
def test_every_unsafe_name_is_refused(name):
    assert name_problem(name) is not None
    with pytest.raises(ValueError, match="not allowed"):
        check_name(name, "run name")


def test_safe_names_pass():
    for name in ("run", "gru_lorenz_rossler-2", "weight=0.01,seed=626", "p=1e-05", "_x", "a.b"):
        assert check_name(name, "run name") == name
