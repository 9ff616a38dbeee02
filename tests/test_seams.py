"""Typed seams between stages and concepts defined once: a checkpoint's typed result, a sweep outcome whose
status is the store layout's, executors that own their options, task data that holds arrays only, one name
rule, one result-key naming and no status written outside the layout."""

from __future__ import annotations

import ast
import dataclasses
import typing
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, strategies as st

from modsim import registry, result_keys
from modsim.names import MAX_NAME_LENGTH, check_name, name_problem, to_name
from modsim.result_keys import ResultKey, is_detection, is_integer, parse_result_key, result_key
from modsim.spec.analysis import CommunityDetection, InducedModularity
from modsim.store import layout
from modsim.store.layout import Outcome, RunStatus
from modsim.sweep import CommandOptions, RunOutcome, make_executor
from modsim.sweep.executor import collect
from modsim.sweep.expand import PlannedRun, _run_name, short_names
from modsim.sweep.local import LocalExecutor, LocalOptions
from modsim.sweep.ray import RayExecutor, RayOptions
from tests.conftest import ROOT

LAYOUT_STATUSES = {*RunStatus, layout.STATUS_SKIPPED, layout.STATUS_NOT_STARTED, layout.STATUS_BROKEN}
"""Every status the store layout defines: a run's, a sweep outcome's, an unreadable store's."""


def test_a_checkpoint_returns_a_frozen_typed_result():
    from modsim.evaluate import HeldOut
    from modsim.train import Checkpoint, checkpoint

    assert typing.get_type_hints(checkpoint)["return"] is Checkpoint
    assert [f.name for f in dataclasses.fields(Checkpoint)] == ["step", "heldout", "metrics"]
    assert typing.get_type_hints(Checkpoint)["heldout"] is HeldOut
    held = Checkpoint(0, None, {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        held.step = 1  # type: ignore[misc]


def test_every_sweep_outcome_status_is_the_layouts():
    assert {str(o) for o in Outcome} <= {str(s) for s in LAYOUT_STATUSES}
    assert {Outcome.FINISHED, Outcome.DIVERGED, Outcome.FAILED} == {RunStatus.FINISHED, RunStatus.DIVERGED,
                                                                    RunStatus.FAILED}
    assert typing.get_type_hints(RunOutcome)["status"] is Outcome
    assert [o for o in Outcome if o.ok] == [Outcome.FINISHED, Outcome.SKIPPED]


def test_a_raising_run_is_collected_as_a_failed_outcome():
    run = PlannedRun("seed=1", {"training.seed": 1}, None)
    seen: list[tuple[int, int, RunOutcome]] = []
    results: list[RunOutcome] = []

    def boom() -> RunOutcome:
        raise RuntimeError("no disk")

    collect(results, run, boom, 2, lambda done, total, outcome: seen.append((done, total, outcome)))
    assert results == [RunOutcome("seed=1", Outcome.FAILED, "RuntimeError: no disk")]
    assert seen == [(1, 2, results[0])] and not results[0].ok


def test_a_run_another_process_owns_is_skipped(tmp_path: Path, monkeypatch):
    from modsim.store import writer
    from modsim.store.lock import RunLocked
    from modsim.sweep import execute_planned

    def locked(path):
        raise RunLocked(f"{path} is in use by process 1")

    monkeypatch.setattr(writer, "claim_run", locked)
    outcome = execute_planned({}, {}, str(tmp_path / "seed=3"))
    assert (outcome.name, outcome.status) == ("seed=3", Outcome.SKIPPED) and outcome.ok
    assert "in use" in outcome.message


def test_each_executor_builds_its_own_options_from_the_command_line():
    given = CommandOptions(jobs=3, ray_address="head:6379", ray_cpus=5)
    assert make_executor("local", given).options == LocalOptions(jobs=3)
    assert make_executor("ray", given).options == RayOptions(address="head:6379", cpus=5)
    assert LocalExecutor().options == LocalOptions() and RayExecutor().options == RayOptions()
    for name in registry.executors.names():
        assert callable(getattr(registry.executors.get(name), "from_command", None)), name
    with pytest.raises(ValueError, match="jobs"):
        LocalOptions(jobs=0)


@dataclasses.dataclass(frozen=True)
class _EchoOptions:
    """A plugin executor's own options."""

    flavour: str
    """Read from `--executor-option flavour=...`."""


class _EchoExecutor:
    """Reports every run finished without training it (a plugin executor with options of its own)."""

    used: list[_EchoOptions] = []

    def __init__(self, options: _EchoOptions):
        self.options = options

    @classmethod
    def from_command(cls, given: CommandOptions) -> "_EchoExecutor":
        from modsim.errors import UserError

        if "flavour" not in given.settings:
            raise UserError("echo: give --executor-option flavour=NAME")
        return cls(_EchoOptions(given.settings["flavour"]))

    def run(self, sweep, runs, progress=None) -> list[RunOutcome]:
        _EchoExecutor.used.append(self.options)
        out = [RunOutcome(r.name, Outcome.FINISHED, seconds=0.0) for r in runs]
        for i, o in enumerate(out, 1):
            if progress is not None:
                progress(i, len(out), o)
        return out


def test_a_plugin_executor_reads_its_own_options_from_the_command_line(tmp_path: Path):
    from modsim.cli import main
    from tests.test_sweep import GRID, SPEC, TINY, sets

    registry.executors.register("echo", _EchoExecutor)
    try:
        base = ["sweep", str(SPEC), *sets(TINY + [GRID]), "--store", str(tmp_path), "--executor", "echo"]
        refused = CliRunner().invoke(main, base)
        assert refused.exit_code != 0 and "flavour=NAME" in refused.output
        bad = CliRunner().invoke(main, [*base, "--executor-option", "flavour"])
        assert bad.exit_code != 0 and "NAME=VALUE" in bad.output
        result = CliRunner().invoke(main, [*base, "--executor-option", "flavour=plain"])
        assert result.exit_code == 0, result.output
        assert "[6/6]" in result.output and "finished" in result.output and "done: 6/6" in result.output
        assert _EchoExecutor.used == [_EchoOptions("plain")]
    finally:
        registry.executors.unregister("echo")


def test_task_data_holds_arrays_only():
    from modsim.tasks import TaskData

    assert {f.name for f in dataclasses.fields(TaskData)} == {"train", "eval", "draw"}


@given(st.text(max_size=300))
def test_to_name_always_gives_an_accepted_name(text: str):
    name = to_name(text)
    assert name_problem(name) is None
    if name_problem(text) is None:
        assert name == text  # a name is kept as it is


_PATHS = st.from_regex(r"[a-z][a-z0-9_]{0,8}(\.[a-z][a-z0-9_]{0,8}|\[[0-9]\]){0,3}", fullmatch=True)
_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                     max_size=3), max_leaves=6)


@given(st.dictionaries(_PATHS, _VALUES, min_size=1, max_size=6))
def test_sweep_run_names_always_pass_the_store_name_rule(values: dict):
    name = _run_name(values, short_names(list(values)))
    assert check_name(name, "run name") == name and len(name) <= MAX_NAME_LENGTH


def _plan_labels() -> list[str]:
    """The label of every community detection and induced modularity a spec can ask for."""
    labels = []
    for on in typing.get_args(CommunityDetection.model_fields["on"].annotation):
        for algorithm in typing.get_args(CommunityDetection.model_fields["algorithm"].annotation):
            labels.append(CommunityDetection(algorithm=algorithm, on=on).label)
        labels += [InducedModularity(on=on).label, f"{result_keys.INDUCED_PREFIX}_signed_{on}"]
    return labels


@pytest.mark.parametrize("label", _plan_labels())
def test_result_keys_round_trip_for_every_plan_label(label: str):
    induced = label.startswith(result_keys.INDUCED_PREFIX)
    for part in (None, *result_keys.INDUCED_PARTS) if induced else result_keys.COMMUNITY_PARTS:
        assert parse_result_key(result_key(label, part)) == ResultKey(label, part)


@given(st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True),
       st.sampled_from(result_keys.COMMUNITY_PARTS + result_keys.INDUCED_PARTS))
def test_result_keys_round_trip_for_any_named_detection(label: str, part: str):
    assert parse_result_key(result_key(label, part)) == ResultKey(label, part)


def test_no_registered_metric_key_reads_as_a_plan_result():
    from modsim.analysis.specialisation import MEASURES

    for metric in registry.metrics:
        for template in metric.stored_keys:
            for group in ("g1", "g2"):
                for measure in MEASURES:
                    key = template.replace("<group>", group).replace("<measure>", measure)
                    assert parse_result_key(key) is None, (metric.name, key)
                    assert not is_detection(key) and not is_integer(key), (metric.name, key)


def test_the_plan_runner_stores_its_results_under_the_one_naming():
    from modsim.analysis import Snapshot, evaluate_plan
    from modsim.spec import Analysis

    rng = np.random.default_rng(0)
    act = rng.standard_normal((2, 40, 6))
    snap = Snapshot(activity=act, outputs=act[..., :2], targets=act[..., :2], recurrent_weights=rng.random((6, 6)),
                    readout_weights=np.ones((2, 6)), input_weights=np.ones((6, 1)), labels=np.repeat([0, 1], 3),
                    group_names=["g1", "g2"], output_sets=([0], [1]), groups=(0, 1))
    plan = Analysis(metrics=["q_cor"], communities=[CommunityDetection(algorithm="louvain")],
                    induced_q=[InducedModularity(permutations=5)])
    out = evaluate_plan(plan, snap)
    detection, induced = plan.communities[0].label, plan.induced_q[0].label
    assert {k for k in out if k != "q_cor"} == {result_key(detection, p) for p in result_keys.COMMUNITY_PARTS} | {
        result_key(induced, p) for p in (None, *result_keys.INDUCED_PARTS)}
    assert {k for k in out if is_detection(k)} == {result_key(detection, result_keys.NMI), result_key(
        detection, result_keys.COUNT), induced, result_key(induced, result_keys.P_VALUE)}
    assert [k for k in out if is_integer(k)] == [result_key(detection, result_keys.PARTITION)]


def test_the_dynamics_labels_are_integers_when_analyze_stores_them():
    for name in result_keys.INTEGER_DYNAMICS:
        key = result_keys.dynamics_key(name)
        assert is_integer(key) and result_keys.dynamics_name(key) == name
    assert not is_integer(result_keys.dynamics_key("partition_ari")) and is_integer(result_keys.STEP)


def _status_literals(path: Path) -> list[tuple[int, str]]:
    """String constants naming a status, other than dict keys (attribute names) and docstrings."""
    tree = ast.parse(path.read_text())
    skipped = {id(k) for node in ast.walk(tree) if isinstance(node, ast.Dict) for k in node.keys if k is not None}
    skipped |= {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    statuses = {str(s) for s in LAYOUT_STATUSES}
    return [(node.lineno, node.value) for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and node.value in statuses and id(node) not in skipped]


def test_no_status_is_written_outside_the_layout():
    layout_file = ROOT / "modsim" / "store" / "layout.py"
    found = {str(p.relative_to(ROOT)): hits for p in sorted((ROOT / "modsim").rglob("*.py"))
             if p != layout_file and (hits := _status_literals(p))}
    assert found == {}
