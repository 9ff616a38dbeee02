"""A plan that is valid alone but does not fit the run it is for (`modsim analyze RUN --plan PLAN`) exits 2
naming the plan's file:line, its field and the run, writes nothing; unsafe `--name`s are refused naming
`--name`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import zarr
from click.testing import CliRunner

from modsim.cli import main
from modsim.evaluate import analyze_run
from modsim.spec import SpecError, load_analysis_plan
from modsim.spec.analysis import Analysis
from tests.conftest import ROOT
from tests.test_pipeline import run_tiny, tiny_spec


@pytest.fixture(scope="module")
def gru_run(tmp_path_factory) -> Path:
    """A finished tiny GRU run on the Lorenz-Roessler task (no input sets, not a CTRNN, groups g1 and g2),
    trained once for the module; tests that change it work on a copy."""
    return run_tiny(tiny_spec(), tmp_path_factory.mktemp("store"), "gru")[1]


MISFITS = {
    "metric of another task": ("metrics: [r2, accuracy]\n", 1, "metrics",
                               "'accuracy' needs a classification task"),
    "d_in without input sets": ("checkpoints: final\nmetrics:\n  - q_cor\n  - d_in\n", 2, "metrics",
                                "'d_in' needs a task whose input channels split into sets"),
    "dynamics on a GRU": ("metrics: [r2]\ndynamics:\n  jacobian: false\n", 2, "dynamics",
                          "the dynamics analyses need a ctrnn cell"),
    "group the network lacks": ("metrics: [q_cor]\ngroups: [g1, g7]\n", 2, "groups",
                                "names 'g7', not one of network.groups ['g1', 'g2']"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(MISFITS))
def test_a_plan_that_does_not_fit_the_run_exits_2_at_its_line(case, gru_run, tmp_path):
    text, line, field, message = MISFITS[case]
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    load_analysis_plan(plan)  # valid alone
    result = CliRunner().invoke(main, ["analyze", str(gru_run), "--plan", str(plan)])
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert f"error {plan}:{line} (run {gru_run}): {field}: {message}" in out, out
    assert "Traceback" not in result.output and "ValidationError" not in result.output
    assert not (gru_run / "analysis").exists()


@pytest.mark.slow
def test_a_misfit_plan_given_to_the_library_names_the_plan_field_and_the_run(gru_run):
    plan = Analysis(metrics=["q_cor"], groups=["g1", "g7"])
    with pytest.raises(SpecError) as info:
        analyze_run(gru_run, plan)
    problem, = info.value.problems
    assert (problem.field, problem.source) == ("groups", f"<plan> (run {gru_run})")
    assert problem.message == "names 'g7', not one of network.groups ['g1', 'g2']"
    assert not (gru_run / "analysis").exists()


@pytest.mark.slow
def test_a_stored_spec_that_no_longer_validates_is_named_as_the_run(gru_run, tmp_path):
    run = tmp_path / "old"
    shutil.copytree(gru_run, run)
    group = zarr.open_group(str(run), mode="r+")
    spec = dict(group.attrs["spec"])
    spec["training"] = {**spec["training"], "steps": -4}
    group.attrs["spec"] = spec
    result = CliRunner().invoke(main, ["analyze", str(run)])
    assert result.exit_code == 2, result.output
    assert f"error {run} (stored spec): training.steps: Input should be greater than 0" in \
        " ".join(result.output.split())


@pytest.mark.slow
def test_a_fitting_plan_still_runs(gru_run, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("metrics: [q_cor, d_out]\ngroups: [g1, g2]\ncheckpoints: final\n")
    run = tmp_path / "copy"
    shutil.copytree(gru_run, run)
    result = CliRunner().invoke(main, ["analyze", str(run), "--plan", str(plan)])
    assert result.exit_code == 0, result.output
    assert "q_cor" in result.output and (run / "analysis").exists()


@pytest.mark.parametrize("command,name,extra", [
    *[("run", name, extra) for name in ("../x", "a/b", ".hidden", "") for extra in ([], ["--resume"])],
    *[("sweep", name, extra) for name in ("../x", "a/b") for extra in ([], ["--dry-run"])]])
def test_an_unsafe_name_is_refused_naming_the_option(command, name, extra, tmp_path):
    result = CliRunner().invoke(main, [command, str(ROOT / "specs" / "wm_leaky_mi.yaml"), "--name", name,
                                       "--store", str(tmp_path / "store"), *extra])
    assert result.exit_code == 2, result.output
    assert f"error --name: {command.replace('sweep', 'sweep name').replace('run', 'run name')} {name!r} is not " \
           "allowed: expected" in " ".join(result.output.split())
    assert not (tmp_path / "store").exists()
