"""docs/tutorial.md runs as written: in an empty folder holding a copy of `specs/`, the spec the page builds
(its YAML blocks under the `name:` line it asks for) is saved under the name it gives, every `modsim ...` line
of its bash blocks is run in order (training commands shrunk by appended `--set` overrides only, the command
text otherwise verbatim) and its Python block is executed. Each command's exit code and the store contents
the page promises are checked, and so is the validation error the page quotes."""

from __future__ import annotations

import csv
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import modsim
from modsim.cli import main
from tests.conftest import ROOT, SHRINK, shrink_mine, shrink_task

PAGE = ROOT / "docs" / "tutorial.md"
SWEEP_SEEDS = 2
"""Seeds per sweep when shrunk (the page's sweeps have 8)."""


def page_text() -> str:
    return PAGE.read_text(encoding="utf-8")


def spec_file(text: str) -> tuple[str, str]:
    """(file name, file text) of the spec the page asks the reader to save: its name line, then every YAML
    block in order."""
    found = re.search(r"with a `name: ([\w.-]+)` line on top, as `([\w.-]+\.yaml)`", text)
    assert found, "the page no longer says which name line and file name the spec gets"
    name, file = found.groups()
    blocks = re.findall(r"^```yaml\n(.*?)^```", text, re.S | re.M)
    return file, f"name: {name}\n" + "".join(blocks)


def page_commands(text: str) -> list[list[str]]:
    """Every `modsim ...` line of the page's bash blocks, split as a shell would (comments dropped)."""
    commands = []
    for body in re.findall(r"^```bash\n(.*?)^```", text, re.S | re.M):
        for line in body.splitlines():
            argv = shlex.split(line, comments=True)
            if argv:
                assert argv[0] == "modsim", f"the page runs {line!r}: only modsim commands are followed"
                commands.append(argv)
    return commands


def page_python(text: str) -> str:
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert len(blocks) == 1
    return blocks[0]


def shrunk(argv: list[str]) -> list[str]:
    """`modsim run|sweep SPEC ...` with overrides appended that make it run in seconds; others (and a run that
    is `--quick` already) as they are."""
    if argv[1] not in ("run", "sweep") or "--quick" in argv:
        return argv
    spec = modsim.load_spec(argv[2])
    overrides = SHRINK + shrink_task(spec.task.kind) + shrink_mine()
    assert spec.constraints[0].kind == "mine"  # shrink_mine's paths
    if argv[1] == "sweep":
        overrides.append(f"sweep.seeds={SWEEP_SEEDS}")
    return argv + [arg for override in overrides for arg in ("--set", override)]


def test_the_page_runs_validate_run_two_sweeps_summarize_and_report():
    commands = [argv[1] for argv in page_commands(page_text())]
    assert commands == ["validate", "run", "run", "sweep", "sweep", "summarize", "report"]


def test_the_quoted_validation_error_is_what_the_mistake_gives(tmp_path: Path, monkeypatch):
    text = page_text()
    file, spec = spec_file(text)
    mistake = re.search(r"e\.g\. with `(\w+): (\d+)`: `([^`]+)`", text)
    assert mistake, "the page no longer quotes a validation error with the mistake that gives it"
    group, size, message = mistake.groups()
    monkeypatch.chdir(tmp_path)
    good = re.search(rf"\b{group}: (\d+)", spec).group(0)
    Path(file).write_text(spec.replace(good, f"{group}: {size}", 1))
    result = CliRunner().invoke(main, ["validate", file])
    assert result.exit_code == 2
    assert " ".join(message.split()) in " ".join(result.output.split()), result.output


def _finished_sweep(path: str, seeds: list[int]) -> modsim.Sweep:
    sweep = modsim.open_sweep(path)
    assert sweep.names == [f"seed={s}" for s in seeds]
    assert [r.path.name for r in sweep.finished()] == sweep.names
    for run in sweep.finished():
        assert run.record.provenance.last_step == 2 and run.metrics.sizes["step"] == 3
    return sweep


@pytest.mark.slow
def test_the_tutorial_runs_verbatim(tmp_path: Path, monkeypatch):
    text = page_text()
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    file, spec = spec_file(text)
    Path(file).write_text(spec)
    name = modsim.load_spec(file).name
    control = modsim.load_spec("specs/flipflop3_nomi.yaml").name
    seed = modsim.load_spec(file).training.seed
    seeds = list(range(seed, seed + SWEEP_SEEDS))
    runner = CliRunner()
    run_finished = None
    for argv in page_commands(text):
        result = runner.invoke(main, shrunk(argv)[1:])
        assert result.exit_code == 0, f"{shlex.join(argv)}\n{result.output}\n{result.exception!r}"
        command = argv[1]
        if command == "validate":
            assert f"ok {file}" in result.output
        elif command == "run" and "--quick" in argv:  # store/<name>-quick, complete, at three checkpoints
            run = modsim.open_run(f"store/{name}-quick")
            assert str(run.status) == "finished" and run.spec.name == f"{name}-quick"
            assert run.metrics["step"].values.tolist() == [0, 10, 20]
            assert {"success", "silenced", "d_cor", "mi"} <= set(run.summary)
        elif command == "run":  # store/<name>, its report beside it
            run = modsim.open_run(f"store/{name}")
            assert str(run.status) == "finished" and run.record.sweep_values is None
            assert run.metrics["step"].values.tolist() == [0, 1, 2]
            assert {"success", "silenced_g1", "silenced_g2", "silenced_g3", "d_cor"} <= set(run.summary)
            assert Path(f"store/{name}-report/index.html").is_file()
            run_finished = run.record.provenance.finished
        elif command == "sweep" and argv[2] == file:  # store/<name>-sweep; the run is untouched
            _finished_sweep(f"store/{name}-sweep", seeds)
            assert modsim.open_run(f"store/{name}").record.provenance.finished == run_finished
        elif command == "sweep":  # the control: weight 0
            sweep = _finished_sweep(f"store/{control}-sweep", seeds)
            assert sweep.record.spec.constraints[0].weight == 0.0
        elif command == "summarize":  # one condition per sweep, the tables in the first sweep store
            out = Path(f"store/{name}-sweep")
            assert {"summary.csv", "comparison.csv", "summary.zarr"} <= {p.name for p in out.iterdir()}
            with open(out / "summary.csv", newline="") as f:
                rows = [r for r in csv.DictReader(f) if r["metric"] == "d_cor"]
            assert sorted(r["condition"] for r in rows) == sorted([name, control])
            assert [int(r["n"]) for r in rows] == [SWEEP_SEEDS] * 2
            table = modsim.open_summary(out / "summary.zarr")
            assert table["p"].dims == ("condition", "metric")
            assert sorted(table.condition.values) == sorted([name, control])
            assert "Welch p" in result.output
        elif command == "report":  # bars per condition, and each run's page linked
            report = Path(f"store/{name}-sweep+{control}-sweep-report")
            page = (report / "index.html").read_text()
            assert f"report -> {report / 'index.html'}" in result.output
            assert "conditions" in {p.stem for p in report.glob("*.png")}
            links = re.findall(r'<a href="(runs/[^"]+/index.html)">', page)
            assert len(links) == 2 * SWEEP_SEEDS and all((report / link).is_file() for link in links)
        else:
            raise AssertionError(f"the page runs `{shlex.join(argv)}`: add what it must do to this test")

    namespace: dict = {}
    exec(compile(page_python(text), str(PAGE), "exec"), namespace)
    summary, run = namespace["summary"], namespace["run"]
    assert summary["mean"].dims == ("condition", "metric") and "d_cor" in summary.metric.values
    assert run.path == Path(f"store/{name}-sweep/runs/seed={seed}")
    assert sorted(namespace["by_group"].group.values.tolist()) == ["g1", "g2", "g3"]
    outputs, _ = run.rerun_heldout()  # "reproduces the stored outputs, noise included"
    np.testing.assert_array_equal(outputs, run.heldout["outputs"].values)
