"""Expansion of a spec's `sweep` section into validated, named runs."""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..spec import Spec, SpecError, load_spec
from ..spec.io import Problem, parse_override


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
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def short_names(paths: list[str]) -> dict[str, str]:
    """The name each swept path goes by in run names and tables: its last part (`constraints[0].weight` ->
    `weight`), or the whole path without brackets where two last parts clash."""
    last = {p: re.split(r"[.\[\]]+", p.strip("]"))[-1] or p for p in paths}
    counts = {v: list(last.values()).count(v) for v in last.values()}
    return {p: (last[p] if counts[last[p]] == 1 else re.sub(r"[\[\]]", "", p)) for p in paths}


def _run_name(values: dict[str, Any], names: dict[str, str]) -> str:
    parts = []
    for path, value in values.items():
        if path in names:
            text = _dump(value) if not isinstance(value, (int, float, str)) else str(value)
            parts.append(f"{names[path]}={text}")
    name = ",".join(parts) or "run"
    return re.sub(r"[^A-Za-z0-9_.=,+-]", "_", name)[:200]


def expand(spec_file: str | Path, overrides: list[str] | None = None) -> tuple[Spec, list[PlannedRun]]:
    """Validate a sweep spec and every run it expands to; raise SpecError listing every bad run."""
    base = load_spec(spec_file, overrides)
    if base.sweep is None:
        raise SpecError([Problem("sweep", str(spec_file), "this spec has no `sweep` section; use `modsim run`")])
    sweep = base.sweep
    lines = _sweep_lines(spec_file)
    for path in [*sweep.grid, *sweep.zip]:
        try:
            parse_override(f"{path}=0")  # path syntax
        except SpecError as exc:
            raise SpecError([Problem(f"sweep: {path}", lines.get(path, str(spec_file)), p.message)
                             for p in exc.problems]) from None
    axes: list[list[dict[str, Any]]] = []
    for path, values in sweep.grid.items():
        axes.append([{path: v} for v in values])
    if sweep.zip:
        length = len(next(iter(sweep.zip.values())))
        axes.append([{p: vals[i] for p, vals in sweep.zip.items()} for i in range(length)])
    if sweep.seeds is not None:
        axes.append([{"training.seed": base.training.seed + i} for i in range(sweep.seeds)])
    swept = [p for axis in axes for p in axis[0]]
    names = short_names(sweep.name_fields or swept)
    runs, problems = [], []
    for combo in itertools.product(*axes):
        values = {k: v for part in combo for k, v in part.items()}
        name = _run_name(values, names)
        run_overrides = list(overrides or []) + [f"{p}={_dump(v)}" for p, v in values.items()] + ["sweep=null"]
        try:
            spec = load_spec(spec_file, run_overrides)
        except SpecError as exc:
            problems += [Problem(p.field, _swept_source(p.source, values, lines, name), p.message) for p in exc.problems]
            continue
        runs.append(PlannedRun(name, values, spec))
    dupes = sorted({r.name for r in runs if [x.name for x in runs].count(r.name) > 1})
    if dupes:
        problems.append(Problem("sweep.name_fields", lines.get("", str(spec_file)), f"runs share the names {dupes}; "
                                "add the distinguishing paths to name_fields"))
    if problems:
        raise SpecError(problems)
    return base, runs


def _sweep_lines(spec_file: str | Path) -> dict[str, str]:
    """`file:line` of every swept path of a spec's sweep section (key "" for the section itself)."""
    from ..spec.io import _Locator, _parse_yaml

    _, node = _parse_yaml(Path(spec_file).read_text(encoding="utf-8"), str(spec_file))
    locator = _Locator(node, str(spec_file))
    out = {"": locator.source(("sweep",))}
    for loc in locator.lines:
        if len(loc) == 3 and loc[0] == "sweep" and loc[1] in ("grid", "zip"):
            out[str(loc[2])] = locator.source(loc)
    if ("sweep", "seeds") in locator.lines:
        out["training.seed"] = locator.source(("sweep", "seeds"))
    return out


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
