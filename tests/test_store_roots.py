"""Runs and sweeps never collide: every command that takes `--store` (run, sweep, ls) refuses a folder that is
itself a run or a sweep store, or lies inside one (exit 2, nothing written), saying what it holds and what to
do instead; `modsim run --name` of something that is not a run says what it is, and its advice works."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import modsim
from modsim.cli import main
from modsim.errors import UserError
from modsim.store.layout import SWEEP_RUNS
from modsim.store.sweep import open_sweep_store
from tests.conftest import ROOT, SHRINK, shrink_task
from tests.test_store_safety import tree

SPEC = str(ROOT / "specs" / "gru_lorenz_rossler.yaml")
TINY = [*SHRINK, *shrink_task("lorenz_rossler"), "constraints=[]", "network.cell.units=8", "network.groups.g1=4",
        "network.groups.g2=4", "analysis.metrics=[mse, q_cor]", "analysis.communities=[]", "analysis.induced_q=[]"]
ONE_SEED = "sweep={grid: {training.seed: [1]}}"
A_RUN = "is a run (made by `modsim run`)"
A_SWEEP = "is a sweep store (made by `modsim sweep`)"
NOT_A_STORE = "not a store (a folder that holds runs and sweep stores)"


def sets(overrides: list[str]) -> list[str]:
    return [a for o in overrides for a in ("--set", o)]


def cli(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A store `st` holding a finished run `r`, a sweep store `sw` (one finished run, `seed=1`) and a user's
    folder `foreign` (with a.txt) and file `notes.txt`."""
    st = tmp_path_factory.mktemp("roots") / "st"
    result = cli("run", SPEC, "--quiet", "--store", st, "--name", "r", *sets(TINY))
    assert result.exit_code == 0, result.output
    spec = modsim.load_spec(SPEC, TINY)
    open_sweep_store(st / "sw", spec.model_dump(mode="json", by_alias=True), ["seed=1"], ["training.seed"])
    shutil.copytree(st / "r", st / "sw" / SWEEP_RUNS / "seed=1")
    (st / "foreign").mkdir()
    (st / "foreign" / "a.txt").write_text("mine")
    (st / "notes.txt").write_text("my notes")
    return st


def refused(root: Path, *args) -> str:
    """The output of a command that must refuse and write nothing under `root`'s parent."""
    before = tree(root.parent)
    result = cli(*args)
    assert result.exit_code == 2, result.output + repr(result.exception)
    assert tree(root.parent) == before
    return " ".join(result.output.split())


def where(store: Path) -> dict[str, tuple[Path, str]]:
    """--store targets that are, or lie inside, a run or a sweep store: (path, what the message says it is)."""
    sweep = store / "sw"
    return {"run": (store / "r", f"{store / 'r'} {A_RUN}"),
            "sweep": (sweep, f"{sweep} {A_SWEEP}"),
            "sweep runs": (sweep / SWEEP_RUNS, f"{sweep / SWEEP_RUNS} lies inside {sweep}, which {A_SWEEP}"),
            "run of a sweep": (sweep / SWEEP_RUNS / "seed=1",
                               f"{sweep / SWEEP_RUNS / 'seed=1'} is a run of the sweep store {sweep}"),
            "inside a run": (store / "r" / "sub", f"{store / 'r' / 'sub'} lies inside {store / 'r'}, which {A_RUN}")}


@pytest.mark.parametrize("target", ["run", "sweep", "sweep runs", "run of a sweep", "inside a run"])
@pytest.mark.parametrize("options", [["--quiet"], ["--quick", "--quiet"], ["--name", "x"], ["--resume"]])
def test_run_refuses_a_store_that_is_a_run_or_a_sweep(store, target, options):
    path, held = where(store)[target]
    out = refused(store, "run", SPEC, *sets(TINY), *options, "--store", path)
    assert f"--store {held}, {NOT_A_STORE}: a run would nest inside it. Nothing was written" in out
    assert f"`--store {store}`" in out  # the store that holds it (a sweep's run: the sweep's store)


@pytest.mark.parametrize("target", ["run", "sweep", "sweep runs", "run of a sweep", "inside a run"])
@pytest.mark.parametrize("dry_run", [True, False])
def test_sweep_refuses_a_store_that_is_a_run_or_a_sweep(store, target, dry_run):
    path, held = where(store)[target]
    out = refused(store, "sweep", SPEC, *sets(TINY + [ONE_SEED]), "--store", path, *(["--dry-run"] if dry_run else []))
    assert f"--store {held}, {NOT_A_STORE}: a sweep store would nest inside it. Nothing was written" in out
    assert f"`--store {store}`" in out
    if target == "sweep":
        assert "the same sweep run there again resumes this one" in out


def test_ls_says_a_run_or_a_sweep_is_not_a_store_and_how_to_see_it(store):
    run, sweep = store / "r", store / "sw"
    out = refused(store, "ls", "--store", run)
    assert f"--store {run} {A_RUN}, {NOT_A_STORE}" in out
    assert f"`modsim ls --store {store}`" in out and f"`modsim report {run}`" in out and "broken" not in out

    out = refused(store, "ls", "--store", sweep)
    assert f"--store {sweep} {A_SWEEP}, {NOT_A_STORE}" in out
    assert f"`modsim ls --store {store}`" in out and f"`modsim ls --store {sweep / SWEEP_RUNS}`" in out
    assert f"`modsim summarize {sweep}`" in out and "broken" not in out

    out = refused(store, "ls", "--store", run / "train")
    assert f"--store {run / 'train'} lies inside {run}, which {A_RUN}, {NOT_A_STORE}" in out
    assert "not a modsim run" not in out  # the run's sections are not listed as broken runs

    out = refused(store, "ls", "--store", sweep / SWEEP_RUNS / "seed=1")
    assert f"is a run of the sweep store {sweep}, {NOT_A_STORE}" in out
    assert f"`modsim ls --store {sweep / SWEEP_RUNS}`" in out

    listed = cli("ls", "--store", sweep / SWEEP_RUNS)  # a sweep's runs folder lists its runs
    assert listed.exit_code == 0 and "seed=1" in listed.output and "finished" in listed.output
    listed = cli("ls", "--store", store)
    assert listed.exit_code == 0 and "sweep 1/1 finished" in listed.output


NAMED = [("sw", A_SWEEP, "continue that sweep with `modsim sweep` of its spec"),
         ("foreign", "is a folder without a zarr.json (not a Zarr group)", "move it yourself if it is in the way"),
         ("notes.txt", "is a file", "move it yourself if it is in the way")]
"""--name of something that is not a run: what the message says it is, and what to do."""


def test_run_name_says_what_the_name_holds_and_advice_that_works(store):
    for name, held, advice in NAMED:
        out = refused(store, "run", SPEC, *sets(TINY), "--quiet", "--store", store, "--name", name)
        assert f"{store / name} {held}, not a run" in out, out
        assert "nothing was written: choose another --name" in out and advice in out
        assert "already exists" not in out and "pass --overwrite" not in out  # advice that would fail

        out = refused(store, "run", SPEC, *sets(TINY), "--quiet", "--store", store, "--name", name, "--overwrite")
        assert f"{store / name} {held}, not a modsim run; --overwrite only replaces a modsim run" in out, out

    out = refused(store, "run", SPEC, *sets(TINY), "--quiet", "--store", store, "--name", "r")  # a run's name
    assert f"run {store / 'r'} already exists; pass --overwrite to replace it (or --resume to continue it)" in out


def test_the_library_refuses_a_store_that_is_a_run_or_a_sweep(store):
    spec = modsim.load_spec(SPEC, TINY)
    for target in ("run", "sweep", "inside a run"):
        path, held = where(store)[target]
        before = tree(store.parent)
        with pytest.raises(UserError, match="not a store"):
            modsim.run(spec, store=path, progress=False)
        with pytest.raises(UserError, match="a sweep store would nest inside it"):
            open_sweep_store(path / "new-sweep", spec.model_dump(mode="json", by_alias=True), ["seed=1"],
                             ["training.seed"])
        assert tree(store.parent) == before


def test_advice_through_a_symbolic_link_names_the_real_store(store, tmp_path: Path):
    """`--store link/train` where `link` points at the run `st/r`: the store to give is `st` (where the run
    lives), not the link's folder."""
    link = tmp_path / "link"
    link.symlink_to(store / "r")
    said = refused(tmp_path / "link" / "train", "run", SPEC, "--store", link / "train", *sets(TINY))
    assert f"--store {store.resolve()}`" in said and f"--store {tmp_path}`" not in said
    listed = refused(link, "ls", "--store", link)
    assert f"modsim ls --store {store.resolve()}`" in listed
