"""`modsim analyze` and `modsim report` replace their folder atomically: a SIGKILL after any file-system
operation (or in the middle of a folder's deletion) leaves the previous result or the new one, never none;
the next command settles what the killed one left, deleting only the temporaries of processes that are gone;
a report folder's permissions follow the umask."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from modsim.cli import main
from modsim.evaluate import analyze_run
from modsim.report import REPORT_MARKER, write_report
from modsim.report.rundata import load_run
from modsim.spec import Analysis, load_spec
from modsim.execute import execute_run
from modsim.store import read_analysis, swap
from modsim.store.reader import analysis_plan, open_run
from modsim.store.writer import write_analysis
from tests.conftest import ROOT

OLD_PLAN = {"metrics": ["r2"], "checkpoints": "final"}
NEW_PLAN = {"metrics": ["mse", "r2"], "checkpoints": "all"}


def arm_kill(k: int) -> None:
    """SIGKILL this process right after its k-th file-system operation that creates, moves or deletes a
    folder or a file (os.replace, os.rename, os.mkdir: also Path.replace, Path.rename, Path.mkdir; and
    tempfile.mkdtemp), or in the middle of its k-th shutil.rmtree (once one file of the tree is deleted)."""
    calls = itertools.count(1)

    def after(real):
        def operation(*args, **kwargs):
            result = real(*args, **kwargs)
            if next(calls) == k:
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        return operation

    def midway(real):
        def rmtree(path, *args, **kwargs):
            if next(calls) == k:
                _delete_one_file(Path(path))
                os.kill(os.getpid(), signal.SIGKILL)
            return real(path, *args, **kwargs)
        return rmtree

    for module, name in ((os, "replace"), (os, "rename"), (os, "mkdir"), (tempfile, "mkdtemp")):
        setattr(module, name, after(getattr(module, name)))
    shutil.rmtree = midway(shutil.rmtree)


def kill_after_moving(name: str) -> None:
    """SIGKILL this process right after it renames a folder called `name` to another name (the moment the
    issue reproduced: the old folder set aside, the new one not yet in place)."""
    real = os.rename

    def rename(src, dst, *args, **kwargs):
        real(src, dst, *args, **kwargs)
        if Path(src).name == name:
            os.kill(os.getpid(), signal.SIGKILL)

    os.rename = rename


def _delete_one_file(root: Path) -> None:
    for dirpath, _, files in os.walk(root):
        if files:
            os.unlink(os.path.join(dirpath, files[0]))
            return


def killed_at(k: int, action) -> bool:
    """Run `action` in a forked child armed with `arm_kill(k)`: True when the kill came, False when `action`
    finished first (it must not fail otherwise)."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            arm_kill(k)
            action()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return True
    assert os.WEXITSTATUS(status) == 0, f"the operation failed in the child (k = {k})"
    return False


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> dict:
    """One tiny finished run analysed with OLD_PLAN (`run`), a copy of it (`other`, for a second report),
    the results of NEW_PLAN, and a report of `run` (`report`)."""
    root = tmp_path_factory.mktemp("atomic")
    spec = load_spec(ROOT / "specs" / "wm_leaky_mi.yaml", ["training.steps=4", "training.checkpoint_every=2",
                                                          "task.length=200", "training.threads=1"])
    run = root / "store" / "r"
    execute_run(spec, run)
    shutil.copytree(run, root / "store" / "other")
    new = analyze_run(root / "store" / "other", Analysis.model_validate(NEW_PLAN))
    shutil.rmtree(root / "store" / "other" / "analysis")
    old = analyze_run(run, Analysis.model_validate(OLD_PLAN))
    report = root / "report"
    write_report([run], report)
    return {"run": run, "other": root / "store" / "other", "old": old, "new": new, "report": report}


def _which(results: dict[str, np.ndarray], stored: dict) -> str:
    """'old' or 'new': which analysis `results` are, array for array (fails when neither)."""
    for name in ("old", "new"):
        expected = stored[name]
        if results.keys() == expected.keys() and all(np.array_equal(results[k], expected[k]) for k in expected):
            return name
    raise AssertionError(f"the analysis is neither the old nor the new one: {sorted(results)}")


def _hidden(folder: Path, stem: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{stem}."))


def _marker_stores(report: Path) -> list[str]:
    return json.loads((report / REPORT_MARKER).read_text())["stores"]


@pytest.fixture
def light_pages(monkeypatch):
    """A run's report is its page alone, without figures: `write_report` does every file-system operation it
    does for a real report (its folder, the page written and renamed, the marker, the replacement), in a
    fraction of the time."""
    import modsim.report as report
    from modsim.report.html import write_page

    monkeypatch.setattr(report, "report_run", lambda path, out: write_page(out, f"report of {path}", [], []))


def test_analyze_killed_after_any_operation_leaves_the_old_or_the_new_results(stored, tmp_path):
    plan = Analysis.model_validate(NEW_PLAN).model_dump(mode="json", by_alias=True)
    seen, aside = set(), 0
    for k in itertools.count(1):
        run = tmp_path / f"k{k}"
        shutil.copytree(stored["run"], run)
        killed = killed_at(k, lambda: write_analysis(run, plan, stored["new"]))
        now = _which(read_analysis(run), stored)
        seen.add(now)
        if not (run / "analysis").exists():  # killed between the two renames: readers see the old results
            aside += 1
            assert now == "old"
            assert _which(load_run(run).analysis, stored) == "old"
            assert analysis_plan(open_run(run))["checkpoints"] == "final"
        write_analysis(run, plan, stored["new"])  # the next analyze
        assert _which(read_analysis(run), stored) == "new"
        assert _hidden(run, "analysis") == [], k
        shutil.rmtree(run)
        if not killed:
            break
    assert k > 10 and seen == {"old", "new"} and aside >= 1


def test_report_killed_after_any_operation_leaves_the_old_or_the_new_report(stored, tmp_path, light_pages):
    old, new = [str(stored["run"])], [str(stored["other"])]
    seen = set()
    for k in itertools.count(1):
        out = tmp_path / f"k{k}" / "report"
        shutil.copytree(stored["report"], out)
        killed = killed_at(k, lambda: write_report([stored["other"]], out))
        shown = swap.current(out)  # the report folder, or the previous one set aside when killed in between
        assert shown is not None and (shown / "index.html").is_file(), k
        stores = _marker_stores(shown)
        assert stores in (old, new)
        seen.add("old" if stores == old else "new")
        if shown != out:
            assert stores == old
        assert write_report([stored["other"]], out) == out / "index.html"  # the next report
        assert _marker_stores(out) == new and (out / "index.html").is_file()
        assert [p.name for p in out.parent.iterdir()] == ["report"], k  # nothing left beside it
        shutil.rmtree(out.parent)
        if not killed:
            break
    assert k > 4 and seen == {"old", "new"}


def _spare_folder(final: Path, wait: bool):
    """A forked child that makes a temporary beside `final` and exits (a killed command), or keeps running
    until the returned pipe is closed (a concurrent command): (its pid, the pipe or None)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(write)
        swap.new_folder(final)
        if wait:
            os.read(read, 1)
        os._exit(0)
    os.close(read)
    if not wait:
        os.close(write)
        os.waitpid(pid, 0)
        return pid, None
    deadline = time.monotonic() + 30
    while not [t for t in swap.temporaries(final) if t.pid == pid] and time.monotonic() < deadline:
        time.sleep(0.01)
    return pid, write


def test_the_next_analyze_deletes_only_temporaries_of_processes_that_are_gone(stored, tmp_path):
    run = tmp_path / "r"
    shutil.copytree(stored["run"], run)
    final = run / "analysis"
    dead, _ = _spare_folder(final, wait=False)
    live, pipe = _spare_folder(final, wait=True)
    legacy_young, legacy_old = run / ".analysis.ab12cd34.tmp", run / ".analysis.zz99yy88.tmp"
    foreign = run / f".analysis.00000000-{os.getpid()}-1-1.partial"  # another machine's
    for folder in (legacy_young, legacy_old, foreign):
        folder.mkdir()
    two_days_ago = time.time() - 2 * swap.UNKNOWN_OWNER_SECONDS
    os.utime(legacy_old, (two_days_ago, two_days_ago))
    (run / ".analysis.notes").mkdir()  # not modsim's naming pattern: never touched
    plan = Analysis.model_validate(NEW_PLAN).model_dump(mode="json", by_alias=True)
    try:
        write_analysis(run, plan, stored["new"])
        left = {t.path.name for t in swap.temporaries(final)}
        assert {t.pid for t in swap.temporaries(final) if t.host is not None and t.pid != os.getpid()} == {live}
        assert legacy_young.name in left and foreign.name in left and legacy_old.name not in left
        assert not [t for t in swap.temporaries(final) if t.pid == dead]
    finally:
        os.close(pipe)
        os.waitpid(live, 0)
    write_analysis(run, plan, stored["new"])
    assert not [t for t in swap.temporaries(final) if t.pid == live]
    assert (run / ".analysis.notes").is_dir()


def test_results_an_older_modsim_set_aside_are_put_back(stored, tmp_path):
    """What a kill of an older `modsim analyze` left (the issue's reproduction): no analysis/, the previous
    results under mkdtemp's name + .old. Readers see them; the next analyze restores, then replaces them."""
    run = tmp_path / "r"
    shutil.copytree(stored["run"], run)
    os.rename(run / "analysis", run / ".analysis.k2j4_x9q.tmp.old")
    (run / ".analysis.k2j4_x9q.tmp").mkdir()
    assert _which(read_analysis(run), stored) == "old"
    assert swap.restore(run / "analysis") and _which(read_analysis(run), stored) == "old"
    assert not (run / ".analysis.k2j4_x9q.tmp.old").exists()


def test_report_and_analysis_folders_follow_the_umask(stored, tmp_path, light_pages):
    plan = Analysis.model_validate(NEW_PLAN).model_dump(mode="json", by_alias=True)
    for umask, folder_mode, file_mode in ((0o022, 0o755, 0o644), (0o027, 0o750, 0o640)):
        out, run = tmp_path / f"report-{umask:o}", tmp_path / f"r-{umask:o}"
        shutil.copytree(stored["run"], run)
        previous = os.umask(umask)
        try:
            index = write_report([stored["run"]], out)
            write_analysis(run, plan, stored["new"])
        finally:
            os.umask(previous)
        assert out.stat().st_mode & 0o777 == folder_mode
        assert index.stat().st_mode & 0o777 == file_mode
        assert (run / "analysis").stat().st_mode & 0o777 == folder_mode


def test_a_report_over_a_user_folder_that_appears_meanwhile_puts_it_back(stored, tmp_path, light_pages,
                                                                         monkeypatch):
    """A folder with other files put at OUT while the report is being written is refused and left in place."""
    import modsim.report as report

    out = tmp_path / "out"
    real = report.report_run

    def user_arrives(path, partial):
        result = real(path, partial)
        out.mkdir()
        (out / "thesis.tex").write_text("mine")
        return result

    monkeypatch.setattr(report, "report_run", user_arrives)
    with pytest.raises(FileExistsError, match="not a modsim report"):
        write_report([stored["run"]], out)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]


def _cli_killed(command: list[str], moved: str) -> subprocess.CompletedProcess:
    code = ("import sys; from tests.test_atomic_writes import kill_after_moving; "
            f"kill_after_moving({moved!r}); from modsim.cli import main; main(sys.argv[1:])")
    return subprocess.run([sys.executable, "-c", code, *command], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_modsim_analyze_killed_between_its_renames_keeps_the_old_results(stored, tmp_path):
    run = tmp_path / "r"
    shutil.copytree(stored["run"], run)
    done = _cli_killed(["analyze", str(run)], "analysis")
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert not (run / "analysis").exists()  # the old results are aside, the new ones not yet in place
    assert _which(read_analysis(run), stored) == "old"
    result = CliRunner().invoke(main, ["analyze", str(run)])
    assert result.exit_code == 0, result.output
    assert (run / "analysis").is_dir() and _hidden(run, "analysis") == []
    assert analysis_plan(open_run(run))["checkpoints"] == "all"  # the run's own plan replaced the old one


@pytest.mark.slow
def test_modsim_report_killed_between_its_renames_keeps_the_old_report(stored, tmp_path):
    out = tmp_path / "rep"
    shutil.copytree(stored["report"], out)
    done = _cli_killed(["report", str(stored["other"]), "-o", str(out)], "rep")
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert not out.exists() and _marker_stores(swap.current(out)) == [str(stored["run"])]
    result = CliRunner().invoke(main, ["report", str(stored["other"]), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert _marker_stores(out) == [str(stored["other"])]
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]


def test_a_run_is_never_finished_without_its_summary(tmp_path, monkeypatch):
    """`finish` (and every other multi-key attribute write) is one metadata write. zarr's `attrs.update` writes
    zarr.json once per key, in order, so a kill between two of them left a run `finished` without its summary
    or timestamp (seen in CI: `summarize` counted that run without metrics)."""
    import zarr.storage._local as local
    from modsim.store import RunWriter

    writer = RunWriter.create(tmp_path / "run", "run", {"name": "run"}, 0, "cpu")
    writes: list[dict] = []
    put = local._put

    def counting_put(path, value, exclusive=False):
        if Path(path).name == "zarr.json" and Path(path).parent == tmp_path / "run":
            writes.append(json.loads(bytes(value.as_buffer_like()))["attributes"])
        return put(path, value, exclusive=exclusive)

    monkeypatch.setattr(local, "_put", counting_put)
    writer.finish("finished", summary={"q_cor": 0.25, "mse": float("nan")})
    assert len(writes) == 1
    assert writes[0]["status"] == "finished" and writes[0]["summary"] == {"q_cor": 0.25, "mse": None}
    assert writes[0]["finished"] is not None


def test_no_module_writes_attributes_key_by_key():
    """`x.attrs.update(...)` is one zarr.json write per key (MutableMapping.update); modsim writes a group's
    attributes with `update_attributes`, one write."""
    import ast

    offenders = []
    for path in sorted((ROOT / "modsim").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update"
                    and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "attrs"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
