"""Statistics over sweeps: mean, sd and n of every final metric per condition, Welch's t-tests."""

from __future__ import annotations

import csv
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..critic_check import REASON
from ..analysis.timecourse import rise_metrics, rise_steps
from ..result_keys import flagged_value, is_flagged
from ..store import layout
from ..store.describe import DIMENSIONLESS, array_attrs
from ..store.sweep import finished_runs
from ..store.writer import write_table
from ..errors import UserError

SEED_PATH = "training.seed"


@dataclass(frozen=True)
class RunRecord:
    """A finished run of a sweep: its swept values and final scalar metrics."""

    name: str
    values: dict
    metrics: dict[str, float]
    path: Path | None = None
    """The run group, when the record was read from a store."""


def collect(sweep_path: str | Path) -> list[RunRecord]:
    """Finished runs of a sweep store (unfinished ones are left out): final scalar metrics, plus
    `t50_<metric>`, the checkpoint step at which each modularity / separability time course first
    covers half of its rise (which rises first)."""
    records = []
    for run in finished_runs(sweep_path):
        summary = {k: float(v) for k, v in run.summary.items() if v is not None and k not in ("seconds", "steps")}
        summary.update(rise_steps(run.arrays(layout.METRICS)))
        records.append(RunRecord(run.path.name, dict(run.sweep_values or {}), summary, run.path))
    return records


def condition_of(record: RunRecord, by: list[str] | None) -> str:
    """Condition label: the values of `by` (default: every swept path except the seed)."""
    keys = by if by else [k for k in record.values if k != SEED_PATH]
    parts = [f"{k}={record.values.get(k)}" for k in keys]
    return ",".join(parts) if parts else "all"


def group_records(sweeps: list[str | Path], by: list[str] | None = None) -> dict[str, list[RunRecord]]:
    """Finished runs of one or more sweep stores by condition: with several stores each store is one
    condition (named after it, less `-sweep`: an MI sweep against its control), with one the swept values are."""
    groups: dict[str, list[RunRecord]] = {}
    records = {store: collect(store) for store in sweeps}
    by = _resolve_by(by, [r for recs in records.values() for r in recs])
    labels = store_labels(list(records))
    for store, recs in records.items():
        for rec in recs:
            label = labels[store] if len(sweeps) > 1 else condition_of(rec, by)
            groups.setdefault(label, []).append(rec)
    return groups


def store_labels(stores: list[str | Path]) -> dict[str | Path, str]:
    """The condition label of each sweep store compared with others: its name without the default `-sweep`
    (`store/wm_leaky_mi-sweep` -> `wm_leaky_mi`, the spec's name), or its whole name when that would make two
    labels alike."""
    names = [Path(store).name for store in stores]
    short = [name.removesuffix(layout.SWEEP_SUFFIX) or name for name in names]
    chosen = short if len(set(short)) == len(short) else names
    return dict(zip(stores, chosen))


def _resolve_by(by: list[str] | None, records: list[RunRecord]) -> list[str] | None:
    """`--by` paths as swept: a full path, or the short name used in run names (`weight` for
    `constraints[0].weight`); UserError naming the swept paths for anything else."""
    if not by or not records:
        return by
    from .expand import short_names

    swept = sorted({k for r in records for k in r.values})
    short = short_names(swept)
    out = []
    for name in by:
        matches = [p for p in swept if name in (p, short[p])]
        if len(matches) != 1:
            raise UserError(f"--by {name}: not a swept field of these runs; swept: {', '.join(swept)}")
        out.append(matches[0])
    return out


@dataclass(frozen=True)
class Summary:
    """mean, sd (ddof 1) and n of every metric per condition; each swept field's value per condition; Welch's
    t-test of each condition against a reference condition."""

    conditions: list[str]
    metrics: list[str]
    mean: np.ndarray
    sd: np.ndarray
    n: np.ndarray
    samples: dict[tuple[str, str], np.ndarray]
    values: dict[str, list] = field(default_factory=dict)
    """Swept path (the seed excepted) -> its value in each condition (None where the condition's runs differ)."""
    left_out: np.ndarray | None = None
    """(condition, metric) count of runs whose value their own flag calls unreliable, left out of `n` (`mi`
    where `mi_diverged` is 1); None: none counted."""

    def against(self, reference: str) -> tuple[np.ndarray, np.ndarray]:
        """Welch's t and two-sided p of every (condition, metric) against condition `reference` (NaN on its
        own row)."""
        if reference not in self.conditions:
            raise UserError(f"unknown condition {reference!r}; conditions: {', '.join(self.conditions)}")
        t = np.full(self.mean.shape, np.nan)
        p = t.copy()
        for i, c in enumerate(self.conditions):
            if c == reference:
                continue
            for j, m in enumerate(self.metrics):
                t[i, j], p[i, j] = welch_p(self.samples[(c, m)], self.samples[(reference, m)])
        return t, p


def swept_values(groups: dict[str, list[RunRecord]]) -> dict[str, list]:
    """Each swept path's value per condition (None where the condition's runs do not share one value)."""
    paths = sorted({k for recs in groups.values() for r in recs for k in r.values if k != SEED_PATH})
    out = {}
    for path in paths:
        column = []
        for recs in groups.values():
            seen = {repr(r.values.get(path)) for r in recs}
            column.append(recs[0].values.get(path) if len(seen) == 1 else None)
        out[path] = column
    return out


def summarize(groups: dict[str, list[RunRecord]]) -> Summary:
    """Per-condition statistics of every metric present in any run; a value its run flags as unreliable (`mi`
    where `mi_diverged` is 1: the critic diverged) is left out, as a non-finite one is (`left_out` counts them)."""
    conditions = list(groups)
    metrics = sorted({m for recs in groups.values() for r in recs for m in r.metrics})
    mean = np.full((len(conditions), len(metrics)), np.nan)
    sd, n = mean.copy(), np.zeros_like(mean, dtype=np.int64)
    dropped = n.copy()
    samples = {}
    for i, c in enumerate(conditions):
        for j, m in enumerate(metrics):
            dropped[i, j] = sum(m in r.metrics and is_flagged(r.metrics, m) for r in groups[c])
            x = np.array([r.metrics[m] for r in groups[c] if m in r.metrics and math.isfinite(r.metrics[m])
                          and not is_flagged(r.metrics, m)])
            samples[(c, m)] = x
            n[i, j] = x.size
            if x.size:
                mean[i, j] = x.mean()
            if x.size > 1:
                sd[i, j] = x.std(ddof=1)
    return Summary(conditions, metrics, mean, sd, n, samples, swept_values(groups), dropped)


def welch_p(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Welch's t statistic and two-sided p-value (NaN when either side has fewer than 2 values)."""
    from scipy import stats as sstats

    if a.size < 2 or b.size < 2:
        return float("nan"), float("nan")
    if np.all(a == a[0]) and np.all(b == b[0]):
        return (float("nan"), float("nan")) if a[0] == b[0] else (math.copysign(math.inf, a[0] - b[0]), 0.0)
    with warnings.catch_warnings():  # nearly constant samples: scipy warns, the p-value is still defined
        warnings.simplefilter("ignore", RuntimeWarning)
        result = sstats.ttest_ind(a, b, equal_var=False)
    return float(result.statistic), float(result.pvalue)


def compare(summary: Summary, first: str, second: str) -> list[dict]:
    """Welch's t-test of every metric between two conditions."""
    for c in (first, second):
        if c not in summary.conditions:
            raise UserError(f"--compare: unknown condition {c!r}; conditions: {', '.join(summary.conditions)}")
    rows = []
    for j, m in enumerate(summary.metrics):
        a, b = summary.samples[(first, m)], summary.samples[(second, m)]
        t, p = welch_p(a, b)
        rows.append({"metric": m, "a": first, "b": second,
                     "mean_a": float(a.mean()) if a.size else float("nan"),
                     "mean_b": float(b.mean()) if b.size else float("nan"), "t": t, "p": p})
    return rows


def write_outputs(out_dir: str | Path, summary: Summary, comparison: list[dict] | None,
                  reference: str | None = None) -> list[Path]:
    """summary.csv, comparison.csv and summary.zarr: mean, sd, n, and Welch's t and p against the
    `reference` condition (default: the first) over (condition, metric), with every swept field's value per
    condition as a coordinate (numbers as numbers), each metric's label and units as the coordinates
    `metric_label` and `metric_units`, and in summary.zarr `left_out`, the runs whose flag left their value out
    of n; every statistic carries its `long_name`, `description` and (where one holds for every metric) `units`
    (`STATISTICS`). `modsim.open_summary(path)` opens it as xarray with its labels (every array is a number
    type any Zarr v3 implementation reads: text as indices into the array's `labels` attribute)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "summary.csv"]
    with open(written[0], "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["condition", "metric", "mean", "sd", "n"])
        for i, c in enumerate(summary.conditions):
            for j, m in enumerate(summary.metrics):
                w.writerow([c, m, summary.mean[i, j], summary.sd[i, j], summary.n[i, j]])
    if comparison:
        written.append(out / "comparison.csv")
        with open(written[-1], "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(comparison[0]))
            w.writeheader()
            w.writerows(comparison)
    reference = reference or summary.conditions[0]
    t, p = summary.against(reference)
    arrays = {**{name: getattr(summary, name) for name in ("mean", "sd", "n")}, "t": t, "p": p,
              **({"left_out": summary.left_out} if summary.left_out is not None else {})}
    write_table(out / "summary.zarr", {layout.DIM_CONDITION: summary.conditions, layout.DIM_METRIC: summary.metrics},
                arrays, per_condition=condition_coordinates(summary),
                per_metric=metric_coordinates(summary.metrics), array_attrs=STATISTICS,
                attrs={"reference_condition": reference,
                       "p": f"Welch's two-sided p of each condition against {reference!r}"})
    written.append(out / "summary.zarr")
    return written


_REFERENCE = "the reference condition's (the table's attribute `reference_condition`, by default the first condition)"
_COUNTED = ("the condition's finished runs whose final value of the metric is finite and not flagged as unreliable by "
            "its own flag (see `left_out`)")
STATISTICS: dict[str, dict[str, str]] = {
    "mean": {"long_name": "mean over runs",
             "description": f"mean of the metric over {_COUNTED}, in the metric's units (`metric_units`)"},
    "sd": {"long_name": "standard deviation over runs",
           "description": f"sample standard deviation (ddof 1) of the metric over {_COUNTED}, in the metric's units "
                          "(`metric_units`); NaN with fewer than 2 runs"},
    "n": {"long_name": "runs counted", "description": f"number of {_COUNTED}: the runs `mean` and `sd` are over",
          "units": DIMENSIONLESS},
    "t": {"long_name": "Welch's t against the reference condition",
          "description": "Welch's t statistic (unequal variances) of the condition's counted values of the metric "
                         f"against {_REFERENCE}: positive where the condition's mean is the higher; NaN on the "
                         "reference condition's own row and where either side has fewer than 2 values, +-inf "
                         "where both sides are constant and differ",
          "units": DIMENSIONLESS},
    "p": {"long_name": "Welch's p against the reference condition",
          "description": f"two-sided p-value of Welch's t-test of the condition against {_REFERENCE} (`t`); NaN "
                         "where `t` is",
          "units": DIMENSIONLESS},
    "left_out": {"long_name": "runs left out (flagged)",
                 "description": "number of the condition's runs whose value of the metric its own flag calls "
                                "unreliable (`mi` where `mi_diverged` is 1: the MINE critic diverged), left out of "
                                "`n`, `mean` and `sd`",
                 "units": DIMENSIONLESS},
}
"""The `long_name`, `description` and `units` of each statistic of a summary table (`Sweep.summary()`,
`summary.zarr`); `mean` and `sd` have no one unit: theirs are each metric's (the coordinate `metric_units`)."""

METRIC_LABEL, METRIC_UNITS = "metric_label", "metric_units"
"""The coordinates over `metric` of a summary table: each metric's label and units (`metric_attrs`)."""


def metric_attrs(name: str) -> tuple[str, str]:
    """(label, units) of a metric of a summary table: a run metric's `long_name` and `units`, as its stored
    array carries them (`modsim.store.describe.array_attrs`, the one definition), and for a rise step
    (`t50_<metric>`) its label (`modsim.labels.label`) in steps."""
    from ..labels import RISE_PREFIX, label

    if name.startswith(RISE_PREFIX) and name[len(RISE_PREFIX):] in rise_metrics():
        return label(name), array_attrs(layout.METRICS, layout.DIM_STEP)["units"]
    attrs = array_attrs(layout.METRICS, name)
    return attrs["long_name"], attrs["units"]


def metric_coordinates(metrics: list[str]) -> dict[str, np.ndarray]:
    """`metric_label` and `metric_units`: each metric's label and units (`metric_attrs`), text over `metric`."""
    described = [metric_attrs(m) for m in metrics]
    return {METRIC_LABEL: np.array([label for label, _ in described], dtype=object),
            METRIC_UNITS: np.array([units for _, units in described], dtype=object)}


TABLE_NAMES = frozenset({layout.DIM_CONDITION, layout.DIM_METRIC, *STATISTICS, METRIC_LABEL, METRIC_UNITS})
"""Names the summary table uses itself (a swept field with one of these short names keeps its full path)."""


def condition_coordinates(summary: Summary) -> dict[str, np.ndarray]:
    """Each swept field's value per condition as an array named by its short name (`weight` for
    `constraints[0].weight`, the full path when two short names clash): float where every value is a number,
    else text."""
    from .expand import short_names

    values = summary.values or {}
    short = short_names(list(values))
    out = {}
    for path, column in values.items():
        name = short[path] if short[path] not in TABLE_NAMES else re.sub(r"[\[\]]", "", path)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in column)
        out[name] = (np.array(column, dtype=np.float64) if numeric
                     else np.array(["" if v is None else str(v) for v in column], dtype=object))
    return out


def silenced_runs(groups: dict[str, list[RunRecord]]) -> list[tuple[str, list[str], int]]:
    """(condition, names of its runs whose `silenced` metric flagged a group, runs) for conditions with any."""
    out = []
    for condition, records in groups.items():
        flagged = [r.name for r in records if r.metrics.get("silenced", 0) > 0]
        if flagged:
            out.append((condition, flagged, len(records)))
    return out


@dataclass(frozen=True)
class LeftOut:
    """The runs of one condition whose value of one metric their own flag calls unreliable (left out of means)."""

    condition: str
    metric: str
    """The value left out (`mi`)."""
    flag: str
    """The flag that says so (`mi_diverged`)."""
    runs: list[str]
    """Names of the runs left out."""
    total: int
    """Runs of the condition that have the metric."""

    def line(self) -> str:
        """`mi: 3 of 8 runs left out (critic diverged: mi_diverged)`."""
        return f"{self.metric}: {len(self.runs)} of {self.total} runs left out ({REASON}: {self.flag})"


def left_out(groups: dict[str, list[RunRecord]]) -> list[LeftOut]:
    """Per condition and flagged metric, the runs whose value `summarize` left out because their flag called it
    unreliable (`mi` where `mi_diverged` is 1); only the (condition, metric) pairs with any."""
    out = []
    for condition, records in groups.items():
        flags = sorted({k for r in records for k in r.metrics if flagged_value(k) is not None})
        for flag in flags:
            metric = flagged_value(flag)
            having = [r for r in records if metric in r.metrics]
            runs = [r.name for r in having if is_flagged(r.metrics, metric)]
            if runs:
                out.append(LeftOut(condition, metric, flag, runs, len(having)))
    return out


def success_rates(groups: dict[str, list[RunRecord]]) -> list[tuple[str, int, int]]:
    """(condition, successful runs, runs) for conditions whose runs record `success`."""
    return [(condition, sum(r.metrics.get("success", 0) > 0 for r in records), len(records))
            for condition, records in groups.items() if any("success" in r.metrics for r in records)]
