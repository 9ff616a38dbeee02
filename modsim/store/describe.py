"""What every stored array holds: a short name, a one-line description and its units (the `long_name`,
`description` and `units` attributes of each array, so a run opened with xarray explains itself and labels
its plots). One definition: the writer stores them, the Python API puts them on its xarray variables (runs
stored before `long_name` was written included). Results are named after their labels in
`modsim.labels`."""

from __future__ import annotations

from .. import result_keys as keys
from ..labels import metric_labels, registered_labels
from ..result_keys import dynamics_name, flagged_value, parse_result_key
from . import layout

DIMENSIONLESS = "1"
"""The units of a ratio, an index, a correlation, a loss of standardised quantities, a flag or a count."""

_FIXED = {
    (layout.TRAIN, "step"): ("model step of the logged values", "steps"),
    (layout.TRAIN, "total"): ("training objective: the sum of every weighted loss term", DIMENSIONLESS),
    (layout.TRAIN, "task"): ("task loss (MSE or cross-entropy, as the task defines)", DIMENSIONLESS),
    (layout.METRICS, "step"): ("model step of the checkpoint", "steps"),
    (layout.CHECKPOINTS, "step"): ("model step of the checkpoint", "steps"),
    (layout.ANALYSIS, "step"): ("model step of the analysed checkpoint", "steps"),
    (layout.EVAL, "inputs"): ("held-out input of each trial over time", "task units"),
    (layout.EVAL, "targets"): ("held-out target of each trial over time", "task units"),
    (layout.EVAL, "outputs"): ("network output on the held-out inputs (its noise included)", "task units"),
    (layout.EVAL, "hidden"): ("unit activity on the held-out inputs (the analysed activity of the cell)",
                              "activity (a.u.)"),
    (layout.STRUCTURE, "group_labels"): ("group index of every unit (names in the attribute group_names)",
                                         DIMENSIONLESS),
    (layout.WEIGHTS, "recurrent"): ("final effective recurrent matrix (to unit, from unit), as the metrics see "
                                    "it", DIMENSIONLESS),
    (layout.WEIGHTS, "inputs"): ("final effective input matrix (unit, input channel)", DIMENSIONLESS),
    (layout.WEIGHTS, "readout"): ("final effective readout matrix (output channel, unit)", DIMENSIONLESS),
}



_FIXED_NAMES = {
    (layout.TRAIN, "step"): "model step", (layout.TRAIN, "total"): "total loss", (layout.TRAIN, "task"): "task loss",
    (layout.METRICS, "step"): "model step", (layout.CHECKPOINTS, "step"): "model step",
    (layout.ANALYSIS, "step"): "model step", (layout.EVAL, "inputs"): "input", (layout.EVAL, "targets"): "target",
    (layout.EVAL, "outputs"): "output", (layout.EVAL, "hidden"): "activity",
    (layout.STRUCTURE, "group_labels"): "group", (layout.WEIGHTS, "recurrent"): "recurrent weight",
    (layout.WEIGHTS, "inputs"): "input weight", (layout.WEIGHTS, "readout"): "readout weight",
}
"""The `long_name` of the arrays of `_FIXED`."""

_PART_NAMES = {keys.NMI: "NMI", keys.ARI: "ARI", keys.COUNT: "community count", keys.Q: "Q",
               keys.PARTITION: "community", keys.P_VALUE: "p", keys.NULL_MEAN: "null mean", keys.NULL_SD: "null sd"}
"""How a community detection's or induced modularity's part reads after its label."""


def _units(name: str) -> str:
    """nats for MI estimates (`mi`, `mi_<i>` and their per-step monitors), seconds for times, else 1."""
    stem = name.removesuffix("_estimate").removesuffix("_statistics")
    if stem == "mi" or (stem.startswith("mi_") and stem[3:].isdigit()) or name == "dependence_audit":
        return "nats"
    return "s" if name == "seconds" else DIMENSIONLESS


def result_long_name(name: str) -> str:
    """A short name of the stored result `name` (metrics/, analysis/, dynamics/) for plots and tables: its
    label in run summaries (`Q_cor`, `MI estimate (nats)`), `<label> diverged (0/1)` for a flag, `<label> NMI`
    for a community detection's part, else the key with spaces for underscores."""
    labels = registered_labels()
    dynamics = dynamics_name(name)
    if dynamics is not None:
        return result_long_name(dynamics)
    if name in labels:
        return labels[name]
    value = flagged_value(name)
    if value is not None:
        return f"{result_long_name(value).removesuffix(f' ({_units(value)})')} diverged (0/1)"
    parsed = parse_result_key(name)
    if parsed is not None:  # an induced modularity's Q is stored under its label
        return parsed.label if parsed.part is None else f"{parsed.label} {_PART_NAMES.get(parsed.part, parsed.part)}"
    return name.replace("_", " ")


def long_name(section: str, name: str) -> str:
    """The `long_name` of the array `name` of a run's `section`."""
    if (section, name) in _FIXED_NAMES:
        return _FIXED_NAMES[(section, name)]
    if section in (layout.METRICS, layout.ANALYSIS, layout.DYNAMICS):
        return result_long_name(name)
    if section == layout.TRAIN:
        for suffix, what in (("_estimate", "MINE estimate"), ("_statistics", "MINE statistics bound")):
            if name.endswith(suffix):
                return f"{name.removesuffix(suffix)} {what}"
        return name.replace("_", " ") if name.endswith(("_min", "_scale")) else f"{name} loss term"
    if section == layout.CHECKPOINTS:
        return f"parameter {name}"
    if section == layout.STRUCTURE and name.startswith("mask_"):
        return f"mask of {name.removeprefix('mask_')}"
    return name.replace("_", " ")


def array_attrs(section: str, name: str) -> dict[str, str]:
    """{'long_name': ..., 'description': ..., 'units': ...} of the array `name` of a run's `section`."""
    described = _described(section, name)
    name = long_name(section, name).removesuffix(f" ({described['units']})")  # xarray adds [units] itself
    return {"long_name": name, **described}


def _described(section: str, name: str) -> dict[str, str]:
    if (section, name) in _FIXED:
        description, units = _FIXED[(section, name)]
        return {"description": description, "units": units}
    units = _units(name)
    if section == layout.TRAIN:
        if name.endswith("_estimate"):
            text = f"MINE estimate of the constraint {name.removesuffix('_estimate')!r} on the step's minibatch"
        elif name.endswith("_statistics"):
            text = f"last Donsker-Varadhan bound reached by {name.removesuffix('_statistics')!r}'s statistics network"
        elif name.endswith(("_min", "_scale")):
            text = f"monitored value {name!r} at every model step (not optimised)"
        else:
            text = f"weighted loss term {name!r} at every model step"
    elif section in (layout.METRICS, layout.ANALYSIS) and flagged_value(name) is not None:
        from ..critic_check import RULE

        text = (f"1 where the MINE critic's held-out estimate {flagged_value(name)!r} is not a converged estimate "
                f"({RULE}), else 0, at every checkpoint; a flagged estimate is left out of means over runs")
    elif section == layout.ANALYSIS and dynamics_name(name) is not None:
        text = f"dynamics analysis {dynamics_name(name)!r} of the final network"
    elif section in (layout.METRICS, layout.ANALYSIS):
        label = metric_labels().get(name)
        text = f"{label} at every checkpoint" if label else f"metric {name!r} at every checkpoint"
    elif section == layout.CHECKPOINTS:
        text = f"network parameter {name!r} at every checkpoint"
    elif section == layout.STRUCTURE:
        text = f"connectivity mask of {name.removeprefix('mask_')!r} (true: the weight may be non-zero)"
    elif section == layout.DYNAMICS:
        text = f"dynamics analysis {name!r} of the final network"
    else:
        text = name
    return {"description": text, "units": units}
