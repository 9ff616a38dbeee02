"""What every stored array holds: a one-line description and its units (the `description` and `units`
attributes of each array, so a run opened with xarray explains itself)."""

from __future__ import annotations

from functools import lru_cache

from .. import registry
from ..result_keys import flagged_value
from . import layout

DIMENSIONLESS = "1"
"""The units of a ratio, an index, a correlation, a loss of standardised quantities, a flag or a count."""

_FIXED = {
    (layout.TRAIN, "step"): ("model step of the logged values", "steps"),
    (layout.TRAIN, "total"): ("training objective: the sum of every weighted loss term", DIMENSIONLESS),
    (layout.TRAIN, "task"): ("task loss (MSE or cross-entropy, as the task defines)", DIMENSIONLESS),
    (layout.METRICS, "step"): ("model step of the checkpoint", "steps"),
    (layout.CHECKPOINTS, "step"): ("model step of the checkpoint", "steps"),
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



def _units(name: str) -> str:
    """nats for MI estimates (`mi`, `mi_<i>` and their per-step monitors), seconds for times, else 1."""
    stem = name.removesuffix("_estimate").removesuffix("_statistics")
    if stem == "mi" or (stem.startswith("mi_") and stem[3:].isdigit()):
        return "nats"
    return "s" if name == "seconds" else DIMENSIONLESS


@lru_cache(maxsize=1)
def _metric_labels() -> dict[str, str]:
    """Label of every key a registered metric lists in run summaries (the metric registry's, plugins' included)."""
    return {key: label for metric in registry.metrics for key, label in metric.summary}


def array_attrs(section: str, name: str) -> dict[str, str]:
    """{'description': ..., 'units': ...} of the array `name` of a run's `section`."""
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
    elif section in (layout.METRICS, layout.ANALYSIS):
        label = _metric_labels().get(name)
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
