"""Sweep expansion is linear and bounded: a cap on the runs refused from the axes' sizes, one read, parse and
full validation of the file however many runs, a linear duplicate-name check, a byte limit on what a spec
read takes in, and runs equal to loading the file once per run with their values as `--set` overrides.

Work is bounded by counting (reads, parses, validations, comparisons), never by time."""

from __future__ import annotations

import importlib
import itertools
import os
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

import modsim.spec.io as spec_io
from modsim.cli import main
from modsim.spec import Spec, SpecError, load_spec
from modsim.spec.io import MAX_SPEC_BYTES
from modsim.spec.sweep import MAX_SWEEP_RUNS
from modsim.sweep import expand, load_with_runs
from tests.conftest import ROOT
from tests.test_spec_errors import GOOD

expand_module = importlib.import_module("modsim.sweep.expand")  # `modsim.sweep.expand` is also the function
WM = ROOT / "specs" / "wm_leaky_mi.yaml"

BASE = GOOD.replace("device: cpu}", "device: cpu, seed: 40}")
"""A tiny GRU spec (the spec-error tests' own) with a fixed seed."""

GRID_ZIP_SEEDS = BASE + """\
sweep:
  grid:
    constraints[0].weight: [0.0, 0.05]
    analysis.metrics: [[r2], [r2, mse]]
  zip:
    network.cell.units: [8, 10]
    network.groups.g1: [4, 5]
    network.groups.g2: [4, 5]
  seeds: 2
"""


def line_of(text: str, start: str) -> int:
    """The 1-based line of `text` that starts with `start`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(start))


def spec_file(tmp_path: Path, text: str, name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def variant_calls(monkeypatch) -> list[int]:
    """Counts the runs validated by the expansion (one call per run)."""
    calls: list[int] = []
    real = expand_module.validate_variant

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(expand_module, "validate_variant", counting)
    return calls


def test_a_sweep_past_the_cap_is_refused_at_the_sweep_section_before_any_run_is_made(variant_calls):
    result = CliRunner().invoke(main, ["validate", str(WM), "--set", f"sweep.seeds={MAX_SWEEP_RUNS + 1}"])
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert f"{WM}:{line_of(WM.read_text(), 'sweep:')}: sweep: this sweep expands to 100001 runs" in out
    assert "100001 (seeds)" in out and "at most 100000 (MAX_SWEEP_RUNS)" in out
    assert variant_calls == []
    dry = CliRunner().invoke(main, ["sweep", str(WM), "--set", f"sweep.seeds={MAX_SWEEP_RUNS + 1}", "--dry-run"])
    assert dry.exit_code == 2 and "100001 runs" in dry.output and "Traceback" not in dry.output
    assert variant_calls == []


def test_a_million_combination_grid_is_refused_from_its_axes_sizes(tmp_path, variant_calls):
    values = "[" + ", ".join(str(v) for v in range(1, 11)) + "]"
    grid = "".join(f"    {path}: {values}\n" for path in ("training.steps", "training.batch", "training.seed",
                                                         "task.train_trajectories", "task.eval_trajectories",
                                                         "constraints[0].samples"))
    text = BASE + "description: a grid of 10^6 runs\nsweep:\n  grid:\n" + grid
    path = spec_file(tmp_path, text)
    with pytest.raises(SpecError) as info:
        expand(path)
    problem, = info.value.problems
    assert problem.source == f"{path}:{line_of(text, 'sweep:')}" and problem.field == "sweep"
    assert "1000000 runs" in problem.message and "10 (grid training.steps)" in problem.message
    assert "10 (grid constraints[0].samples)" in problem.message
    assert variant_calls == []
    assert load_spec(path).sweep.run_count() == 10**6


def test_the_cap_itself_is_allowed(monkeypatch, variant_calls):
    monkeypatch.setattr(expand_module, "MAX_SWEEP_RUNS", 8)
    base, runs = expand(WM)
    assert len(runs) == 8 == len(variant_calls)
    with pytest.raises(SpecError, match="9 runs"):
        expand(WM, ["sweep.seeds=9"])


@pytest.mark.slow
def test_100000_seeds_read_parse_and_fully_validate_the_file_once(monkeypatch, variant_calls):
    reads: list[str] = []
    parses: list[str] = []
    validations: list[int] = []
    real_read, real_parse, real_validate = spec_io._read_text, spec_io._parse_yaml, Spec.model_validate

    def counting_read(path, what):
        reads.append(str(path))
        return real_read(path, what)

    def counting_parse(text, filename):
        parses.append(filename)
        return real_parse(text, filename)

    def counting_validate(cls, *args, **kwargs):
        validations.append(1)
        return real_validate.__func__(cls, *args, **kwargs)

    def no_load_spec(*args, **kwargs):
        raise AssertionError("load_spec is not called per run")

    monkeypatch.setattr(spec_io, "_read_text", counting_read)
    monkeypatch.setattr(spec_io, "_parse_yaml", counting_parse)
    monkeypatch.setattr(spec_io, "load_spec", no_load_spec)
    monkeypatch.setattr(Spec, "model_validate", classmethod(counting_validate))
    base, runs = expand(WM, ["sweep.seeds=100000"])
    assert len(runs) == 100_000 == len(variant_calls)
    assert reads == [str(WM)] and parses.count(str(WM)) == 1
    assert len(validations) == 100_001  # the base spec once, then each run once (no second pass)
    assert [r.name for r in runs[:2]] == ["seed=1001", "seed=1002"] and runs[-1].name == "seed=101000"
    assert runs[-1].spec.training.seed == 101_000 and runs[-1].spec.sweep is None
    assert runs[0].spec.network is runs[-1].spec.network  # untouched sections are shared, not copied
    result = CliRunner().invoke(main, ["sweep", str(WM), "--set", "sweep.seeds=100000", "--dry-run"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == 100_001 and lines[0] == "seed=1001: training.seed=1001" and lines[-1] == "100000 runs"


class CountingName(str):
    """A run name that counts how often it is compared with another name."""

    comparisons = 0

    def __eq__(self, other):
        CountingName.comparisons += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_the_duplicate_name_check_is_linear_in_the_runs(tmp_path, monkeypatch):
    real = expand_module._run_name
    monkeypatch.setattr(expand_module, "_run_name", lambda values, names: CountingName(real(values, names)))
    monkeypatch.setattr(CountingName, "comparisons", 0)
    text = BASE + "sweep:\n  grid: {'constraints[0].weight': [0.01, 0.02]}\n  seeds: 1000\n" \
                  "  name_fields: ['constraints[0].weight']\n"
    path = spec_file(tmp_path, text)
    with pytest.raises(SpecError) as info:
        expand(path)
    problem, = info.value.problems
    assert problem.field == "sweep.name_fields" and problem.source == f"{path}:{line_of(text, 'sweep:')}"
    assert "['weight=0.01', 'weight=0.02']" in problem.message
    assert CountingName.comparisons <= 3 * 2000  # a pairwise check makes about 2000 x 1000


def test_every_run_equals_loading_the_file_with_its_values_as_overrides(tmp_path, variant_calls):
    path = spec_file(tmp_path, GRID_ZIP_SEEDS)
    overrides = ["training.steps=3", "constraints[0].samples=16", "task.length=50"]  # swept and untouched sections
    base, runs = expand(path, overrides)
    expected = [
        f"weight={w},metrics={m},units={u},g1={g},g2={g},seed={s}"
        for w, m, (u, g), s in itertools.product(["0.0", "0.05"], ["_r2_", "_r2,_mse_"], [(8, 4), (10, 5)], [40, 41])]
    assert [r.name for r in runs] == expected and len(variant_calls) == 16
    assert base.sweep is not None and base.training.steps == 3 and runs[5].spec.task.length == 50
    for run in runs:
        old = load_spec(path, overrides + [f"{p}={expand_module._dump(v)}" for p, v in run.values.items()]
                        + ["sweep=null"])
        assert run.spec == old, run.name
        assert run.spec.model_dump() == old.model_dump()
        assert run.spec.model_dump(exclude_unset=True) == old.model_dump(exclude_unset=True)
        assert run.spec_json == old.model_dump(mode="json", by_alias=True)
    last = runs[-1].spec
    assert (last.mine.weight, last.analysis.metrics, last.network.cell.units, dict(last.network.groups),
            last.training.seed, last.constraints[0].samples) == (0.05, ["r2", "mse"], 10, {"g1": 5, "g2": 5}, 41, 16)
    runs[0].spec.analysis.metrics.append("q_cor")  # a run's swept list is its own
    assert runs[2].spec.analysis.metrics == ["r2"] and base.sweep.grid["analysis.metrics"][0] == ["r2"]


def test_a_bad_swept_value_is_located_at_its_line_with_the_run(tmp_path):
    text = BASE + "sweep:\n  grid:\n    constraints[0].weight: [0.1, -1.0]\n    network.cell.units: [8, 9]\n"
    path = spec_file(tmp_path, text)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    weight_line, units_line = line_of(text, "    constraints[0].weight"), line_of(text, "    network.cell.units")
    assert f"{path}:{weight_line} (run weight=-1.0,units=8): constraints[0].weight: Input should be greater" in out
    assert f"{path}:{weight_line} (run weight=-1.0,units=9): constraints[0].weight" in out
    assert f"{path}:{line_of(text, '  groups:')} (run weight=0.1,units=9): network.groups: groups must partition " \
           "the 9 units exactly once" in out  # a rule across fields: at its field in the file, with the run
    assert "(run weight=0.1,units=8)" not in out  # the one valid run


def test_a_swept_index_past_a_list_is_located_at_the_sweep(tmp_path):
    text = BASE + "sweep:\n  grid:\n    constraints[3].weight: [0.1]\n"
    path = spec_file(tmp_path, text)
    with pytest.raises(SpecError) as info:
        expand(path)
    problem, = info.value.problems
    assert problem.field == "constraints[3]" and problem.message == "index out of range for this list"
    assert problem.source == f"{path}:{line_of(text, '    constraints[3]')} (run weight=0.1)"


def test_a_spec_without_a_sweep_has_no_runs_and_expand_refuses_it(tmp_path):
    path = spec_file(tmp_path, BASE)
    spec, runs = load_with_runs(path)
    assert runs == [] and spec == load_spec(path)
    with pytest.raises(SpecError, match="no `sweep` section"):
        expand(path)


def test_dev_zero_is_refused_after_reading_past_the_limit_only(monkeypatch):
    read: list[tuple[int, int]] = []
    real = spec_io._read_at_most

    def recording(path, limit):
        data = real(path, limit)
        read.append((limit, len(data)))
        return data

    monkeypatch.setattr(spec_io, "_read_at_most", recording)
    result = CliRunner().invoke(main, ["validate", "/dev/zero"])
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert f"/dev/zero:1: <spec>: the file has more than {MAX_SPEC_BYTES} bytes; a spec file has at most " \
           f"{MAX_SPEC_BYTES}" in out
    assert read == [(MAX_SPEC_BYTES + 1, MAX_SPEC_BYTES + 1)]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_an_endless_fifo_is_refused_at_the_limit(tmp_path, monkeypatch):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    monkeypatch.setattr(spec_io, "MAX_SPEC_BYTES", 100_000)
    keeper = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, so the writer connects at once
    connected = threading.Event()
    written = [0]

    def endless_writer():
        with open(fifo, "wb", buffering=0) as out:  # unbuffered: nothing left to flush into a broken pipe
            connected.set()
            try:
                while True:
                    out.write(b"name: x\n" * 1024)
                    written[0] += 8 * 1024
            except BrokenPipeError:  # every reader is gone
                pass

    writer = threading.Thread(target=endless_writer, daemon=True)
    writer.start()
    connected.wait()
    try:
        with pytest.raises(SpecError) as info:
            load_spec(fifo)
    finally:
        os.close(keeper)  # the writer fills the pipe, then stops at the broken pipe
        writer.join()
    problem, = info.value.problems
    assert problem.source == f"{fifo}:1" and "more than 100000 bytes" in problem.message
    assert written[0] <= 100_000 + (1 << 20)  # at most the limit plus what the pipe and a write buffer hold


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_nobody_writes_to_reads_as_empty_without_waiting(tmp_path):
    fifo = tmp_path / "plan.yaml"
    os.mkfifo(fifo)
    result = CliRunner().invoke(main, ["validate", str(fifo)])
    assert result.exit_code == 2
    assert f"{fifo}:1: <spec>: a spec must be a YAML mapping" in " ".join(result.output.split())


def test_an_unreadable_path_names_the_file(tmp_path):
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path)
    problem, = info.value.problems
    assert (problem.source, problem.message) == (str(tmp_path), "cannot read spec file: Is a directory")
