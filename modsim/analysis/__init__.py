"""Pure metric functions on numpy arrays, and the runner that evaluates an analysis plan."""

from .correlation import cosine_similarity, cross_corr
from .modularity import directed_q, functional_adjacency, newman_q, q_cor, q_max, q_str, structural_adjacency
from .performance import mse, r2_per_output
from .metrics import Metric, PlanContext
from .plan import evaluate_plan
from .snapshot import Correlations, Snapshot
from .separability import d_cor, d_k, d_weights, output_correlations

__all__ = [
    "Correlations", "Metric", "PlanContext", "Snapshot", "cosine_similarity", "cross_corr", "d_cor", "d_weights", "directed_q", "evaluate_plan", "functional_adjacency",
    "mse", "newman_q", "output_correlations", "q_cor", "q_max", "q_str", "r2_per_output",
    "d_k", "structural_adjacency",
]
