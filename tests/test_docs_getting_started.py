"""docs/getting-started.md runs as written: in an empty folder holding a copy of `specs/`, the page is followed
from top to bottom: every `modsim ...` line of its bash blocks is run (training commands shrunk by appended
`--set` overrides only, the command text otherwise verbatim), every file it shows (a block with a `title`) is
written under that name, and every Python block is executed. Each command's result is checked."""

from __future__ import annotations

import csv
import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import modsim
from modsim.cli import main
from modsim.spec.io import load_analysis_plan
from modsim.store import read_analysis
from tests.conftest import ROOT, SHRINK, shrink_mine, shrink_task

PAGE = ROOT / "docs" / "getting-started.md"
SWEEP_SEEDS = 2
"""Seeds per condition of a shrunk sweep (the page's sweep has 8)."""


def page_steps(text: str) -> list[tuple[str, str, str]]:
    """The page's blocks in order: ("modsim", command line, ""), ("setup", line, "") for other shell lines,
    ("file", body, name) for a block with a `title`, ("python", code, "")."""
    steps = []
    for lang, attrs, body in re.findall(r"^```(\w+)([^\n]*)\n(.*?)^```", text, re.S | re.M):
        title = re.search(r'title="([^"]+)"', attrs)
        if title:
            steps.append(("file", body, title.group(1)))
        elif lang == "bash":
            for line in body.splitlines():
                argv = shlex.split(line, comments=True)
                if argv:
                    steps.append(("modsim" if argv[0] == "modsim" else "setup", line, ""))
        elif lang == "python":
            steps.append(("python", body, ""))
    return steps


def shrunk(argv: list[str]) -> list[str]:
    """`modsim run|sweep SPEC ...` with overrides appended that make it run in seconds; other commands as they
    are."""
    if argv[1] not in ("run", "sweep"):
        return argv
    spec = modsim.load_spec(argv[2])
    overrides = SHRINK + shrink_task(spec.task.kind)
    if spec.constraints and spec.constraints[0].kind == "mine":
        overrides += shrink_mine()
    if argv[1] == "sweep":
        overrides.append(f"sweep.seeds={SWEEP_SEEDS}")
    return argv + [arg for override in overrides for arg in ("--set", override)]


def _spec_name(path: str) -> str:
    return modsim.load_spec(path).name


def check(argv: list[str], output: str, made: dict[str, list[str]]) -> None:
    """What each command of the page must have done, from its arguments (`made`: the runs and sweep stores made
    so far, by the paths the commands printed)."""
    command, args = argv[1], [a for a in argv[2:] if not a.startswith("-")]
    if command == "run":
        name = _spec_name(args[0]) + ("-quick" if "--quick" in argv else "")
        run = modsim.open_run(f"store/{name}")
        assert str(run.status) == "finished" and run.record.provenance.last_step == 2
        assert run.metrics["step"].values.tolist() == [0, 1, 2]
        assert f"stored in store/{name}" in output
        made["runs"].append(name)
    elif command == "ls":
        assert made["runs"]
        for name in made["runs"]:
            assert re.search(rf"\b{re.escape(name)}\s.*finished\s.*\b2\b", output), (name, output)
    elif command == "report":
        index = Path(args[0] + "-report") / "index.html"
        assert index.is_file() and f"report -> {index}" in output
        assert len(list(index.parent.glob("*.png"))) >= 3
    elif command == "diff":
        a, b = (modsim.open_run(p).spec for p in args[:2])
        assert (a.constraints[0].weight, b.constraints[0].weight) == (0.01, 0.0)
        assert re.search(r"constraints\[0\]\.weight\s.*0\.01\s.*0\.0\b", output), output
        assert "1 field(s) differ" in output
    elif command == "analyze":
        results = read_analysis(args[0])
        plan = load_analysis_plan(argv[argv.index("--plan") + 1])
        assert results["step"].tolist() == [2]
        assert set(plan.metrics) <= set(results)
        assert "leiden_signed_activity_corr_nmi" in results
        assert f"written to {args[0]}/analysis (1 checkpoints)" in output
    elif command == "sweep":
        total = 2 * SWEEP_SEEDS
        path = re.search(rf"^done: {total}/{total} finished in (\S+)$", output, re.M).group(1)
        sweep = modsim.open_sweep(path)
        assert len(sweep.names) == len(sweep.finished()) == total
        assert sweep.record.spec.name == _spec_name(args[0])
        made["sweeps"].append(path)
    elif command == "summarize":
        assert args[0] in made["sweeps"], f"the page summarizes {args[0]}; its sweep went to {made['sweeps']}"
        with open(Path(args[0]) / "summary.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["metric"] == "d_cor"]
        assert sorted(r["condition"] for r in rows) == ["constraints[0].weight=0.0", "constraints[0].weight=0.01"]
        assert [int(r["n"]) for r in rows] == [SWEEP_SEEDS] * 2
    elif command == "kinds":
        for kind in ("gru", "lorenz_rossler", "mine", "d_cor", "local"):
            assert re.search(rf"\b{kind}\b", output), kind
    elif command == "schema":
        schema = json.loads(Path("schemas/spec.schema.json").read_text())
        assert {"network", "task", "constraints", "training"} <= set(schema["properties"])
    else:
        raise AssertionError(f"the page runs `{' '.join(argv)}`: add what it must do to this test")


def check_python(namespace: dict) -> None:
    """The page's Python block: a run opened with xarray, its network rebuilt."""
    import torch

    run = namespace["run"]
    assert run.metrics.sizes["step"] == 3
    activity = run.heldout["activity"]
    assert activity.dims == ("trial", "time", "unit") and activity.shape[2] == 64
    assert isinstance(namespace["net"], torch.nn.Module)


def test_page_steps_are_found():
    steps = page_steps(PAGE.read_text(encoding="utf-8"))
    commands = [shlex.split(line, comments=True)[1] for kind, line, _ in steps if kind == "modsim"]
    assert commands == ["run", "report", "run", "run", "ls", "report", "diff", "analyze", "sweep", "summarize", "kinds",
                        "schema"]
    assert [line for kind, line, _ in steps if kind == "setup"] == ["pip install torch==2.13.0 -e '.[test]'"]
    assert [name for kind, _, name in steps if kind == "file"] == ["my_plan.yaml"]
    assert sum(kind == "python" for kind, _, _ in steps) == 1


@pytest.mark.slow
def test_every_command_of_the_getting_started_page_runs(tmp_path: Path, monkeypatch):
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    ran, made = [], {"runs": [], "sweeps": []}
    for kind, text, name in page_steps(PAGE.read_text(encoding="utf-8")):
        if kind == "file":
            Path(name).write_text(text)
        elif kind == "python":
            namespace: dict = {}
            exec(compile(text, str(PAGE), "exec"), namespace)
            check_python(namespace)
        elif kind == "modsim":
            argv = shlex.split(text, comments=True)
            result = runner.invoke(main, shrunk(argv)[1:])
            assert result.exit_code == 0, f"{text}\n{result.output}\n{result.exception!r}"
            check(argv, result.output, made)
            ran.append(argv[1])
    assert len(ran) == 12
