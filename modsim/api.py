"""The Python API for notebooks: run a spec, open a run or a sweep, read it as xarray, get its network back.

    import modsim
    spec = modsim.load_spec("specs/wm_leaky_mi.yaml", ["training.steps=50"])
    run = modsim.run(spec, store="store")          # -> Run
    run.metrics.q_cor.plot()                       # xarray over the checkpoint step
    net = run.model()                              # the torch network with the stored final weights
    outputs, activity = run.rerun_heldout()        # equals run.heldout.outputs exactly, noise included
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .spec import Spec
from .store import RunStatus, layout

if TYPE_CHECKING:
    from .spec import Analysis
    from .store import StoredRun, StoredSweep


class Run:
    """One stored run: its spec, status, metrics and training log (xarray), held-out data and network."""

    def __init__(self, path: str | Path):
        from .store import read_run

        self.path = Path(path)
        """Where the run is stored."""
        self.record: StoredRun = read_run(self.path)
        """The run's typed record: spec, status, summary, swept values, provenance and its group."""

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, status={str(self.status)!r}, steps={self.record.provenance.last_step})"

    @property
    def group(self) -> Any:
        """The run's Zarr group (read-only)."""
        return self.record.group

    @property
    def spec(self) -> Spec:
        """The resolved spec the run was trained with (validated once)."""
        return self.record.spec

    @property
    def status(self) -> RunStatus:
        """finished, running, interrupted, diverged, failed, or dead (its process is gone)."""
        return self.record.shown_status()

    @property
    def summary(self) -> dict[str, Any]:
        """The final scalar numbers."""
        return dict(self.record.summary)

    def _coordinates(self, sizes: Mapping[str, int]) -> dict[str, Any]:
        """Labels of the named dimensions of a run's arrays, where their sizes fit the spec: each unit's index
        and group, the input, output and target channels' names."""
        spec = self.spec
        units = spec.network.units
        groups = np.empty(units, dtype=object)
        for name, idx in spec.network.group_indices().items():
            groups[idx] = name
        outputs = spec.task.output_names()
        labels = {layout.DIM_UNIT: np.arange(units), layout.DIM_UNIT_PRE: np.arange(units),
                  layout.DIM_OTHER_UNIT: np.arange(units), layout.DIM_INPUT: spec.task.input_names(),
                  layout.DIM_OUTPUT: outputs,
                  layout.DIM_TARGET: (outputs if sizes.get(layout.DIM_TARGET) == spec.task.output_dim
                                      else [f"target {j}" for j in range(sizes.get(layout.DIM_TARGET, 0))])}
        coords: dict[str, Any] = {dim: values for dim, values in labels.items()
                                  if dim in sizes and len(values) == sizes[dim]}
        if layout.DIM_UNIT in coords:
            coords["group"] = (layout.DIM_UNIT, groups.astype(str))
        return coords

    def _dataset(self, section: str, rename: Mapping[str, str] | None = None) -> Any:
        """The arrays of a run's `section` as an xarray Dataset: each axis named as stored (`StoredRun.dims`),
        `step` and the units, inputs, outputs and targets as coordinates, and each variable's `long_name`,
        `description` and `units` (`modsim.store.describe`, as the store writes them). `rename`: stored name ->
        variable name."""
        import xarray as xr

        from .store.describe import array_attrs
        from .store.integrity import section_of

        arrays, dims = self.record.arrays(section), self.record.dims(section)
        kind = section_of(section)
        rename = rename or {}
        variables = {rename.get(name, name): xr.Variable(dims[name], values, attrs=array_attrs(kind, name))
                     for name, values in arrays.items()}
        if layout.DIM_STEP not in variables and kind in (layout.TRAIN, layout.METRICS, layout.CHECKPOINTS,
                                                         layout.ANALYSIS):
            variables[layout.DIM_STEP] = xr.Variable((layout.DIM_STEP,), np.zeros(0, dtype=np.int64),
                                                     attrs=array_attrs(kind, layout.DIM_STEP))
        sizes: dict[str, int] = {}
        for variable in variables.values():
            sizes.update(variable.sizes)
        return xr.Dataset(variables).assign_coords(self._coordinates(sizes))

    @property
    def metrics(self) -> Any:
        """Every metric at every checkpoint, an xarray Dataset over `step` (per-output values over `output`,
        partitions over `unit` with each unit's `group`); each variable's attributes `long_name` (its label in
        summaries: `Q_cor`), `description` and `units` (MI in nats) label xarray's plots."""
        return self._dataset(layout.METRICS)

    @property
    def train(self) -> Any:
        """Every loss term and monitored value at every model step, an xarray Dataset over `step` (attributes
        `long_name`, `description`, `units`)."""
        return self._dataset(layout.TRAIN)

    @property
    def analysis(self) -> Any:
        """The results of the run's last `modsim analyze` (or `analyze`), an xarray Dataset over the analysed
        checkpoints' `step` (the dynamics results, of the final network, over their own dimensions) with
        `long_name`, `description` and `units`; None when the run has not been analysed."""
        from .store.reader import analysis_section

        section = analysis_section(self.path)
        return None if section is None else self._dataset(section)

    @property
    def weights(self) -> Any:
        """The final effective weight matrices as the metrics see them: `recurrent` (unit, unit_pre), `inputs`
        (unit, input), `readout` (output, unit), with each unit's group."""
        return self._dataset(layout.WEIGHTS)

    @property
    def heldout(self) -> Any:
        """The final held-out data with named dims: inputs (trial, time, input), targets (trial, time, target),
        outputs (trial, time, output), activity (trial, time, unit) with each unit's group."""
        return self._dataset(layout.EVAL, {"hidden": "activity"})

    def model(self, step: int = -1):
        """The torch network (CPU, evaluation mode) with exactly the weights of checkpoint `step` (an index
        into the stored checkpoints; -1: the last)."""
        from .evaluate import build_network, load_weights
        from .store.reader import read_checkpoint

        return load_weights(build_network(self.spec), read_checkpoint(self.group, step), f"{self.path} checkpoint {step}")

    def rerun_heldout(self, step: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """Outputs and activity of the network of checkpoint `step` on the stored held-out inputs, with the
        run's own held-out noise stream and thread count: for the last checkpoint they equal the stored ones."""
        import torch

        from .evaluate import run_heldout

        threads = torch.get_num_threads()
        torch.set_num_threads(self.spec.training.threads)
        try:
            inputs = self.record.arrays(layout.EVAL, ("inputs",))["inputs"]
            outputs, hidden, _ = run_heldout(self.model(step), inputs, torch.device("cpu"))
        finally:
            torch.set_num_threads(threads)
        return outputs, hidden

    def analyze(self, plan: Analysis | Mapping | str | os.PathLike | None = None) -> Any:
        """Re-run an analysis plan on the stored checkpoints as `modsim analyze` does (no retraining; the results
        replace the run's `analysis/`) and return them as `analysis` does: an xarray Dataset over the analysed
        checkpoints' `step`, each variable with `long_name`, `description` and `units`.

        `plan`: None (the run's own `analysis` section), an `Analysis`, a dict (the body of a spec's `analysis`
        section: a `modsim.SpecError` names each bad field, `<python>: metrics[0]: ...`), or the path of a YAML
        plan file (what `modsim analyze --plan` reads; errors name the file and line). A plan that does not fit
        the run (a metric its task cannot give, a group it lacks) is a SpecError too, before any work."""
        from .evaluate import analyze_run

        analyze_run(self.path, self._plan(plan))
        return self.analysis

    def _plan(self, plan: Any) -> Analysis | None:
        """`plan` as an `Analysis`, checked against the run (see `analyze`)."""
        from .spec import Analysis, analysis_plan_from_dict, load_analysis_plan

        if plan is None or isinstance(plan, Analysis):
            return plan
        if isinstance(plan, (str, os.PathLike)):
            return load_analysis_plan(plan, self.record.spec_json, str(self.path))
        if isinstance(plan, Mapping):
            return analysis_plan_from_dict(dict(plan), self.record.spec_json, str(self.path))
        raise TypeError(f"plan must be None, an Analysis, a dict or the path of a YAML plan file, not "
                        f"{type(plan).__name__}")

    def report(self, out: str | Path | None = None) -> Path:
        """Write the run's report (figures and index.html); returns index.html."""
        from .report import write_report

        return write_report([self.path], out)


class Sweep:
    """One stored sweep: its runs and the statistics of their final numbers."""

    def __init__(self, path: str | Path):
        from .store import sweep_store

        self.path = Path(path)
        """Where the sweep is stored."""
        self.record: StoredSweep = sweep_store(self.path)
        """The sweep store's typed record: its spec, planned runs and swept paths."""
        self.names = list(self.record.run_names)
        """Every planned run, in order."""

    def __repr__(self) -> str:
        return f"Sweep({str(self.path)!r}, runs={len(self.names)}, finished={len(self.finished())})"

    def run(self, name: str) -> Run:
        """One run of the sweep by its name (e.g. `seed=2001`)."""
        from .errors import UserError

        if name not in self.names:
            raise UserError(f"{self.path} has no run {name!r}; its runs: {', '.join(self.names)}")
        return Run(self.record.run_path(name))

    def finished(self) -> list[Run]:
        """The finished runs."""
        from .store.sweep import finished_runs

        return [Run(r.path) for r in finished_runs(self.path)]

    def summary(self, by: list[str] | None = None) -> Any:
        """Mean, sd and n of every final metric per condition (default: every swept path but the seed), and
        Welch's t and p of each condition against the first, an xarray Dataset over (condition, metric) with
        each swept field's value per condition as a coordinate and each metric's label and units as the
        coordinates `metric_label` and `metric_units`; `left_out` counts the runs whose flag left their value out
        of n (an MI whose critic diverged: `mi_diverged` = 1). Each statistic's attributes `long_name`,
        `description` and `units` (not on `mean` and `sd`, whose units are each metric's) say what it is, as in
        `summary.zarr`."""
        import xarray as xr

        from .sweep import stats

        summary = stats.summarize(stats.group_records([self.path], by))
        t, p = summary.against(summary.conditions[0])
        dims = (layout.DIM_CONDITION, layout.DIM_METRIC)
        swept = {name: (dims[0], values) for name, values in stats.condition_coordinates(summary).items()}
        described = {name: (dims[1], values.astype(str))
                     for name, values in stats.metric_coordinates(summary.metrics).items()}
        values = {**{name: getattr(summary, name) for name in ("mean", "sd", "n", "left_out")}, "t": t, "p": p}
        return xr.Dataset({name: xr.Variable(dims, data, attrs=stats.STATISTICS[name])
                           for name, data in values.items()},
                          coords={dims[0]: summary.conditions, dims[1]: summary.metrics, **swept, **described},
                          attrs={"reference_condition": summary.conditions[0]})


def run(spec: Spec, store: str | Path = "store", name: str | None = None, overwrite: bool = False,
        progress=None) -> Run:
    """Train `spec` into `store/<name>` (default: the spec's name, suffixed -2, -3 when taken) and return the
    stored `Run`. `progress`: None (the default) shows a progress bar with the step's losses inside IPython or
    Jupyter (`tqdm.auto`, a widget when ipywidgets is installed) and nothing in a plain script; True shows it
    anywhere, False never; a `modsim.progress.TrainingProgress` receives every step and phase, and a callable
    `progress(step, values)` every step. `modsim.errors.UserError` when `store` is (or lies inside) a run or a
    sweep store: runs never nest."""
    from .execute import execute_run
    from .progress import progress_for
    from .store import new_run_path

    exact = name is not None or overwrite
    path = new_run_path(Path(store), spec.name if name is None else name, exact=exact, overwrite=overwrite)
    shown, bar = progress_for(progress, spec.training.steps, path.name)
    try:
        return Run(execute_run(spec, path, shown, overwrite=overwrite, unique=not exact).path)
    finally:
        if bar is not None:
            bar.close()


def open_run(path: str | Path) -> Run:
    """A stored run (FileNotFoundError when `path` is not one)."""
    return Run(path)


def open_sweep(path: str | Path) -> Sweep:
    """A stored sweep (`modsim sweep SPEC` keeps it in `store/<spec name>-sweep`); `modsim.errors.UserError`, a
    ValueError, saying what `path` holds when it is not one (a run, a missing folder, ...) and where the sweep
    may be."""
    return Sweep(path)


def open_summary(path: str | Path) -> Any:
    """The table `modsim summarize` writes (`summary.zarr`) as an xarray Dataset over (condition, metric), its
    text restored: `mean`, `sd`, `n`, Welch's `t` and `p` against the reference condition (attribute
    `reference_condition`), `left_out`, each with its `long_name` and `description` (and `units`, but for `mean`
    and `sd`), each swept field's value per condition and each metric's label and units (`metric_label`,
    `metric_units`) as coordinates, so `open_summary(path)["mean"].sel(metric="q_cor").plot(x="weight")` works.
    Tables written before the labels were stored read with them. (Every array of the table is a number type that
    any Zarr v3 implementation reads: text is stored as indices into the array's `labels` attribute, which plain
    `xarray.open_zarr` shows as integers.) FileNotFoundError when `path` holds no table."""
    import xarray as xr

    from .store import read_table
    from .sweep import stats

    variables, attrs = read_table(path)
    coordinates = {name for _, _, a in variables.values() for name in str(a.get("coordinates", "")).split()}
    coordinates |= {name for name, (dims, _, _) in variables.items() if dims == (name,)}
    data, coords = {}, {}
    for name, (dims, values, a) in variables.items():
        a = {key: value for key, value in a.items() if key != "coordinates"
             and not key.startswith("modsim_")}  # modsim's own markers
        if not a and dims == (layout.DIM_CONDITION, layout.DIM_METRIC):
            a = dict(stats.STATISTICS.get(name, {}))  # a table written before its statistics were described
        (coords if name in coordinates else data)[name] = xr.Variable(dims, values, attrs=a)
    if layout.DIM_METRIC in coords and stats.METRIC_LABEL not in coords:  # written before the metrics' labels
        metrics = [str(m) for m in coords[layout.DIM_METRIC].values]
        coords.update({name: xr.Variable((layout.DIM_METRIC,), values.astype(str))
                       for name, values in stats.metric_coordinates(metrics).items()})
    return xr.Dataset(data, coords=coords, attrs=attrs)
