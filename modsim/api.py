"""The Python API for notebooks: run a spec, open a run or a sweep, read it as xarray, get its network back.

    import modsim
    spec = modsim.load_spec("specs/wm_leaky_mi.yaml", ["training.steps=50"])
    run = modsim.run(spec, store="store")          # -> Run
    run.metrics.q_cor.plot()                       # xarray over the checkpoint step
    net = run.model()                              # the torch network with the stored final weights
    outputs, activity = run.rerun_heldout()        # equals run.heldout.outputs exactly, noise included
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .result_keys import PARTITION, SEPARATOR
from .spec import Spec
from .store import RunStatus, layout

if TYPE_CHECKING:
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

    def _dataset(self, section: str, dims: dict[str, tuple[str, list]]) -> Any:
        import xarray as xr

        arrays = self.record.arrays(section)
        steps = arrays.pop("step", np.zeros(0, dtype=np.int64))
        data, coords = {}, {"step": steps}
        for name, values in arrays.items():
            extra = []
            for axis, size in enumerate(values.shape[1:]):
                dim = next((d for d, (key, labels) in dims.items() if name.endswith(key) and len(labels) == size),
                           f"{name}_dim{axis}")
                extra.append(dim)
                if dim in dims:
                    coords[dim] = dims[dim][1]
            data[name] = (("step", *extra), values)
        return xr.Dataset(data, coords=coords)

    @property
    def metrics(self) -> Any:
        """Every metric at every checkpoint, an xarray Dataset over `step` (per-output values over `output`,
        partitions over `unit`)."""
        spec = self.spec
        return self._dataset(layout.METRICS, {"output": ("_per_output", spec.task.output_names()),
                                              "unit": (SEPARATOR + PARTITION, list(range(spec.network.units)))})

    @property
    def train(self) -> Any:
        """Every loss term and monitored value at every model step, an xarray Dataset over `step`."""
        return self._dataset(layout.TRAIN, {})

    @property
    def heldout(self) -> Any:
        """The final held-out data with named dims: inputs (trial, time, input), targets (trial, time, target),
        outputs (trial, time, output), activity (trial, time, unit) with each unit's group."""
        import xarray as xr

        spec, data = self.spec, self.record.arrays(layout.EVAL)
        groups = np.empty(spec.network.units, dtype=object)
        for name, idx in spec.network.group_indices().items():
            groups[idx] = name
        targets = data["targets"]
        target_names = (spec.task.output_names() if targets.shape[-1] == spec.task.output_dim
                        else [f"target {j}" for j in range(targets.shape[-1])])
        return xr.Dataset(
            {"inputs": (("trial", "time", "input"), data["inputs"]),
             "targets": (("trial", "time", "target"), targets),
             "outputs": (("trial", "time", "output"), data["outputs"]),
             "activity": (("trial", "time", "unit"), data["hidden"])},
            coords={"input": spec.task.input_names(), "target": target_names, "output": spec.task.output_names(),
                    "unit": np.arange(spec.network.units), "group": ("unit", groups.astype(str))})

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

    def analyze(self, plan=None) -> dict[str, np.ndarray]:
        """Re-run an analysis plan (default: the run's own) on the stored checkpoints; see `modsim analyze`."""
        from .evaluate import analyze_run

        return analyze_run(self.path, plan)

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
        each swept field's value per condition as a coordinate; `left_out` counts the runs whose flag left
        their value out of n (an MI whose critic diverged: `mi_diverged` = 1)."""
        import xarray as xr

        from .sweep import stats

        summary = stats.summarize(stats.group_records([self.path], by))
        t, p = summary.against(summary.conditions[0])
        swept = {name: ("condition", values) for name, values in stats.condition_coordinates(summary).items()}
        return xr.Dataset({**{name: (("condition", "metric"), getattr(summary, name))
                              for name in ("mean", "sd", "n", "left_out")},
                           "t": (("condition", "metric"), t), "p": (("condition", "metric"), p)},
                          coords={"condition": summary.conditions, "metric": summary.metrics, **swept},
                          attrs={"reference_condition": summary.conditions[0]})


def run(spec: Spec, store: str | Path = "store", name: str | None = None, overwrite: bool = False,
        progress=None) -> Run:
    """Train `spec` into `store/<name>` (default: the spec's name, suffixed -2, -3 when taken) and return the
    stored `Run`. `progress(step, values)` is called after every step."""
    from .execute import execute_run
    from .store import new_run_path

    exact = name is not None or overwrite
    path = new_run_path(Path(store), spec.name if name is None else name, exact=exact, overwrite=overwrite)
    return Run(execute_run(spec, path, progress, overwrite=overwrite, unique=not exact).path)


def open_run(path: str | Path) -> Run:
    """A stored run (FileNotFoundError when `path` is not one)."""
    return Run(path)


def open_sweep(path: str | Path) -> Sweep:
    """A stored sweep (`modsim sweep SPEC` keeps it in `store/<spec name>-sweep`); `modsim.errors.UserError`, a
    ValueError, saying what `path` holds when it is not one (a run, a missing folder, ...) and where the sweep
    may be."""
    return Sweep(path)
