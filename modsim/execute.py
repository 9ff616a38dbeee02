"""One way to run a spec into the store, used by the command line, the sweep workers and the tests."""

from __future__ import annotations

from pathlib import Path

from .spec import Spec


def execute_run(spec: Spec, path: str | Path, progress=None, overwrite: bool = False, experiment=None,
                extra_attrs: dict | None = None):
    """Compile `spec` (unless `experiment` is given), create its run group at `path` and train it there.

    Returns the `RunResult`; raises `RunDiverged` when the loss becomes non-finite (the run is kept, marked
    diverged) and re-raises an interruption after marking the run interrupted. `extra_attrs` are added to
    the run's attributes (a sweep records its swept values)."""
    from .compile import compile_experiment, resolve_device
    from .store import RunWriter
    from .train import train

    path = Path(path)
    device = experiment.device if experiment is not None else resolve_device(spec.training.device)
    experiment = experiment or compile_experiment(spec, device)
    writer = RunWriter.create(path, path.name, spec.model_dump(mode="json", by_alias=True), spec.training.seed,
                              str(device), overwrite=overwrite)
    if extra_attrs:
        writer.group.attrs.update(extra_attrs)
    return train(spec, writer, progress=progress, experiment=experiment)
