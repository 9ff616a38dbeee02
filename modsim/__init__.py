"""modsim: declarative, spec-driven simulator of modular recurrent networks.

The public API: `load_spec`, `spec_from_dict`, `Spec`, `run` (-> `Run`), `open_run`, `open_sweep`, `open_summary`,
`analyze_run`, `execute_run`, `resume_run`, and the `register_*` calls
that add a kind from outside the package (the same registries are filled from the entry-point groups
`modsim.cells`, `modsim.tasks`, `modsim.constraints`, `modsim.metrics`, `modsim.loggers`,
`modsim.executors`). Importing `modsim` loads neither torch nor zarr; each name is imported on first use.
"""

from __future__ import annotations

import typing
from importlib import import_module
from typing import Any

from . import registry

_LAZY = {"load_spec": "modsim.spec", "spec_from_dict": "modsim.spec", "Spec": "modsim.spec", "SpecError": "modsim.spec",
         "execute_run": "modsim.execute", "resume_run": "modsim.execute", "analyze_run": "modsim.evaluate",
         "run": "modsim.api", "open_run": "modsim.api", "open_sweep": "modsim.api", "Run": "modsim.api",
         "Sweep": "modsim.api", "open_summary": "modsim.api",
         "Metric": "modsim.analysis.metrics", "LossTerm": "modsim.compile.losses",
         "TaskData": "modsim.tasks", "SequenceData": "modsim.tasks", "Logger": "modsim.loggers"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'modsim' has no attribute {name!r}")


def _kind_name(spec: type) -> str:
    """The `kind` literal of a spec model."""
    field = spec.model_fields.get("kind")
    args = typing.get_args(field.annotation) if field is not None else ()
    if len(args) != 1 or not isinstance(args[0], str):
        raise TypeError(f"{spec.__name__} needs a field `kind: Literal['<name>']`")
    return args[0]


def register_cell(spec: type, cell: Any, replace: bool = False) -> str:
    """Add a cell kind: its spec model (a `modsim.spec.CellSpec` with `kind: Literal[name]`) and its torch
    module class (the `modsim.compile.cells.Cell` protocol). Returns the kind name."""
    name = _kind_name(spec)
    registry.cells.register(name, registry.Kind(name, spec, cell), replace)
    return name


def register_task(spec: type, build: Any, replace: bool = False) -> str:
    """Add a task kind: its spec model (a `modsim.spec.TaskSpec`) and its data builder
    `build(spec, seed) -> modsim.TaskData`. Returns the kind name."""
    name = _kind_name(spec)
    registry.tasks.register(name, registry.Kind(name, spec, build), replace)
    return name


def register_constraint(spec: type, term: Any, replace: bool = False) -> str:
    """Add a constraint kind: its spec model (a `modsim.spec.ConstraintSpec`) and its loss-term class
    (`modsim.LossTerm`, built as `term(spec, context)`). Returns the kind name."""
    name = _kind_name(spec)
    registry.constraints.register(name, registry.Kind(name, spec, term), replace)
    return name


def register_metric(metric: Any, replace: bool = False) -> str:
    """Add a metric (a `modsim.Metric`): its name becomes valid in `analysis.metrics`. Returns the name."""
    registry.metrics.register(metric.name, metric, replace)
    return metric.name


def register_logger(spec: type, logger: Any, replace: bool = False) -> str:
    """Add a training logger kind (`training.loggers`): its spec model (a `modsim.spec.loggers.LoggerSpec` with
    `kind: Literal[name]`) and its `modsim.Logger` class (built as `logger(spec, context)`). Returns the kind
    name."""
    name = _kind_name(spec)
    registry.loggers.register(name, registry.Kind(name, spec, logger), replace)
    return name


def register_executor(name: str, executor: Any, replace: bool = False) -> str:
    """Add a sweep executor class (`modsim.sweep.Executor`) under `name` (`modsim sweep --executor name`)."""
    registry.executors.register(name, executor, replace)
    return name


__all__ = ["Logger", "LossTerm", "Metric", "Run", "SequenceData", "Spec", "SpecError", "Sweep", "TaskData", "analyze_run",
           "execute_run", "load_spec", "open_run", "open_summary", "open_sweep", "register_cell", "register_constraint",
           "register_executor", "register_logger", "register_metric", "register_task", "registry", "resume_run",
           "run", "spec_from_dict"]


def __dir__() -> list[str]:
    return sorted(__all__)
