"""Spec layer: pydantic models of a modsim experiment, YAML loading and errors. Never imports torch."""

from .analysis import Analysis
from .constraints import L1Constraint, L2Constraint, MineConstraint
from .experiment import Spec
from .io import Problem, SpecError, apply_overrides, load_analysis_plan, load_spec, parse_spec_text
from .network import Network, Readout
from .task import LorenzRosslerTask
from .training import Training

__all__ = [
    "Analysis", "L1Constraint", "L2Constraint", "LorenzRosslerTask", "MineConstraint", "Network",
    "Problem", "Readout", "Spec", "SpecError", "Training", "apply_overrides", "load_analysis_plan", "load_spec",
    "parse_spec_text",
]
