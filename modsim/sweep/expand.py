"""Expansion of a spec's `sweep` section into validated, named runs."""

from __future__ import annotations

import contextlib
import copy
import functools
import gc
import itertools
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..spec import Spec, SpecError
from ..spec.io import Loc, Problem, _Locator, load_located_spec, parse_override
from ..spec.sweep import MAX_SWEEP_RUNS
from ..names import to_name
from ..spec.variants import validate_variant


@dataclass(frozen=True)
class PlannedRun:
    """One expanded run of a sweep."""

    name: str
    """Run name, built from the swept values."""
    values: dict[str, Any]
    """Swept field path -> value of this run."""
    spec: Spec
    """The validated spec of this run (without the sweep section)."""

    @property
    def spec_json(self) -> dict:
        """The resolved spec as JSON data."""
        return self.spec.model_dump(mode="json", by_alias=True)


def _dump(value: Any) -> str:
    if type(value) is int:  # what YAML writes for an int (a seed)
        return str(value)
    try:  # a sweep repeats its values in every run; repr tells apart what compares equal (0.0 and -0.0)
        return _dump_scalar(type(value), repr(value), value)
    except TypeError:  # unhashable: a list or mapping
        return _dump_yaml(value)


@functools.lru_cache(maxsize=4096)
def _dump_scalar(kind: type, text: str, value: Any) -> str:
    return _dump_yaml(value)


def _dump_yaml(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def short_names(paths: list[str]) -> dict[str, str]:
    """The name each swept path goes by in run names and tables: its last part (`constraints[0].weight` ->
    `weight`), or the whole path without brackets where two last parts clash."""
    last = {p: re.split(r"[.\[\]]+", p.strip("]"))[-1] or p for p in paths}
    counts = Counter(last.values())
    return {p: (last[p] if counts[last[p]] == 1 else re.sub(r"[\[\]]", "", p)) for p in paths}


def _run_name(values: dict[str, Any], names: dict[str, str]) -> str:
    parts = []
    for path, value in values.items():
        if path in names:
            text = _dump(value) if not isinstance(value, (int, float, str)) else str(value)
            parts.append(f"{names[path]}={text}")
    return to_name(",".join(parts) or "run")


def expand(spec_file: str | Path, overrides: list[str] | None = None) -> tuple[Spec, list[PlannedRun]]:
    """Validate a sweep spec and every run it expands to; raise SpecError listing every bad run."""
    base, runs = load_with_runs(spec_file, overrides)
    if base.sweep is None:
        raise SpecError([Problem("sweep", str(spec_file), "this spec has no `sweep` section; use `modsim run`")])
    return base, runs


def _check_run_count(sweep, lines: dict[str, str]) -> None:
    """SpecError at the sweep section when it expands to more than MAX_SWEEP_RUNS runs (from the axes' sizes)."""
    total = sweep.run_count()
    if total > MAX_SWEEP_RUNS:
        sizes = " x ".join(f"{n} ({axis})" for axis, n in sweep.axis_sizes().items())
        raise SpecError([Problem("sweep", lines[""], f"this sweep expands to {total} runs ({sizes}); a sweep has "
                                 f"at most {MAX_SWEEP_RUNS} (MAX_SWEEP_RUNS): split it into several sweeps")])


def _swept_locations(sweep, lines: dict[str, str], spec_file: str | Path) -> dict[str, Loc]:
    """The field location of every swept path (SpecError at the path's line when its syntax is wrong)."""
    locs: dict[str, Loc] = {}
    for path in [*sweep.grid, *sweep.zip]:
        try:
            locs[path] = parse_override(f"{path}=0")[0]  # path syntax
        except SpecError as exc:
            raise SpecError([Problem(f"sweep: {path}", lines.get(path, str(spec_file)), p.message)
                             for p in exc.problems]) from None
    locs["training.seed"] = ("training", "seed")
    return locs


def _axes(sweep, first_seed: int) -> list[list[dict[str, Any]]]:
    """The sweep's axes in order (each grid path, the zip as one axis, the seeds), each a list of the values
    it sets per step."""
    axes: list[list[dict[str, Any]]] = [[{path: v} for v in values] for path, values in sweep.grid.items()]
    if sweep.zip:
        length = len(next(iter(sweep.zip.values())))
        axes.append([{p: vals[i] for p, vals in sweep.zip.items()} for i in range(length)])
    if sweep.seeds is not None:
        axes.append([{"training.seed": first_seed + i} for i in range(sweep.seeds)])
    return axes


def load_with_runs(spec_file: str | Path, overrides: list[str] | None = None) -> tuple[Spec, list[PlannedRun]]:
    """A spec file's validated spec and, when it has a `sweep` section, every run it expands to (else none);
    SpecError listing every bad run.

    The file is read, parsed and validated once; a sweep of more than MAX_SWEEP_RUNS runs is refused from its
    axes' sizes before any run is made; each run is the base data with its swept values set, validated as a
    whole spec by pydantic (`modsim.spec.variants`), so a run costs well under a millisecond. A problem with a
    swept value is located at that value's line in the sweep section, with the run's name."""
    located = load_located_spec(spec_file, overrides)
    base, sweep = located.spec, located.spec.sweep
    if sweep is None:
        return base, []
    lines = _sweep_lines(located.locator)
    _check_run_count(sweep, lines)
    locs = _swept_locations(sweep, lines, spec_file)
    axes = _axes(sweep, base.training.seed)
    swept = [p for axis in axes for p in axis[0]]
    names = short_names(sweep.name_fields or swept)
    paths = {loc: path for path, loc in locs.items()}
    paths[("sweep",)] = "sweep"

    def describe_change(loc: Loc, value: Any) -> str:
        return f"--set {paths[loc]}={_dump(value)}"

    runs, problems = [], []
    with _collector_paused():
        for combo in itertools.product(*axes):
            values = {k: v for part in combo for k, v in part.items()}
            name = _run_name(values, names)
            changes = [(locs[p], copy.deepcopy(v) if isinstance(v, (list, dict)) else v) for p, v in values.items()]
            try:
                spec = validate_variant(located, [*changes, (("sweep",), None)], describe_change)
            except SpecError as exc:
                problems += [Problem(p.field, _swept_source(p.source, values, lines, name), p.message)
                             for p in exc.problems]
                continue
            runs.append(PlannedRun(name, values, spec))
    dupes = sorted(n for n, count in Counter(r.name for r in runs).items() if count > 1)
    if dupes:
        problems.append(Problem("sweep.name_fields", lines[""], f"runs share the names {dupes}; "
                                "add the distinguishing paths to name_fields"))
    if problems:
        raise SpecError(_merge_repeated(problems))
    return base, runs


@contextlib.contextmanager
def _collector_paused():
    """Pause Python's cyclic garbage collector: the runs built here are kept, not garbage, yet every few
    hundred of them would start a collection that scans all the runs built so far (about 40% of the time
    of expanding 100 000 runs). Collection resumes, as it was, when the expansion ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _sweep_lines(locator: _Locator) -> dict[str, str]:
    """`file:line` of every swept path of a spec's sweep section in the file (key "" for the section itself,
    `training.seed` for `seeds`), or the `--set` that changed it."""
    out = {"": locator.source(("sweep",))}
    for loc in locator.lines:
        if len(loc) == 3 and loc[0] == "sweep" and loc[1] in ("grid", "zip"):
            out[str(loc[2])] = locator.source(loc)
    if ("sweep", "seeds") in locator.lines:
        out["training.seed"] = locator.source(("sweep", "seeds"))
    return out


REPEATS_SHOWN = 3
"""A problem found alike in more runs than this is reported once, with the count and the first runs."""


def _merge_repeated(problems: list[Problem]) -> list[Problem]:
    """One problem per (field, place in the spec, message), naming how many runs share it: a mistake every run
    makes (an unknown key) is one line, not one per run."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for p in problems:
        place, _, run = p.source.partition(" (run ")
        groups.setdefault((p.field, place, p.message), []).append(run.removesuffix(")") if run else "")
    merged = []
    for (field, place, message), runs in groups.items():
        named = [r for r in runs if r]
        if len(named) <= REPEATS_SHOWN:
            merged += [Problem(field, f"{place} (run {r})" if r else place, message) for r in runs]
        else:
            merged.append(Problem(field, f"{place} ({len(named)} runs: {', '.join(named[:REPEATS_SHOWN])}, ...)",
                                  message))
    return merged


def _swept_source(source: str, values: dict[str, Any], lines: dict[str, str], name: str) -> str:
    """Where a run's problem comes from: the spec's line of the swept value that caused it, else the run."""
    if source.startswith("--set "):
        path = source.removeprefix("--set ").split("=", 1)[0]
        if path in values and path in lines:
            return f"{lines[path]} (run {name})"
    return f"{source} (run {name})"


def describe(runs: list[PlannedRun]) -> list[str]:
    """One line per run: its name and the values it sets."""
    return [f"{r.name}: " + ", ".join(f"{p}={_dump(v)}" for p, v in r.values.items()) for r in runs]


def eta_text(started: float, done: int, total: int) -> str:
    """`elapsed s, eta s` for a progress line."""
    elapsed = time.perf_counter() - started
    eta = elapsed / done * (total - done) if done else float("nan")
    return f"elapsed {elapsed:.0f}s, eta {eta:.0f}s"
