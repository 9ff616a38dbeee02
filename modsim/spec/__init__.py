"""Spec layer: pydantic models of a modsim experiment, YAML loading and errors. Never imports torch.

The task, cell, constraint, metric and logger unions are built from `modsim.registry`; whenever a kind is
registered (a plugin), `rebuild_models` re-creates the models' validators and schemas. Installed plugins
(entry points) are loaded by the first registry lookup or validation (`load_spec`, `spec_from_dict`,
`Spec.from_stored`), never while this package is imported.
"""

from .. import registry
from .analysis import Analysis
from .cells import CellSpec
from .constraints import ConstraintSpec, EngagementConstraint, L1Constraint, L2Constraint, MineConstraint
from .experiment import Spec
from .io import (Problem, SpecError, analysis_plan_from_dict, apply_overrides, load_analysis_plan, load_spec,
                 parse_spec_text, spec_from_dict)
from .network import Network, Readout
from .task import LorenzRosslerTask, TaskSpec
from .training import Training


def rebuild_models() -> None:
    """Re-create the validators and JSON schemas of the models whose fields are registry unions."""
    for model in (Network, Analysis, Training, Spec):
        model.model_rebuild(force=True)


registry.on_change(rebuild_models)

__all__ = [
    "Analysis", "CellSpec", "ConstraintSpec", "EngagementConstraint", "L1Constraint", "L2Constraint", "LorenzRosslerTask", "MineConstraint",
    "Network", "Problem", "Readout", "Spec", "SpecError", "TaskSpec", "Training", "analysis_plan_from_dict",
    "apply_overrides",
    "load_analysis_plan", "load_spec", "parse_spec_text", "rebuild_models", "spec_from_dict",
]
