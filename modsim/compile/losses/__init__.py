"""Loss terms: the task loss and every constraint (L1, L2, MINE) behind one `LossTerm` interface, so the
training loop is generic. A constraint kind is registered with its spec model and its term class
(`modsim.register_constraint`); `build_terms` builds the task loss and one term per constraint of a spec.

A term (see `LossTerm`) has a `name` (its train-log key; terms of one name are summed), an `order` (its
place in the summed objective, so the sum is always added in the same order), and hooks: `warmup`
(before the first checkpoint), `before_loss` (every step, before the objective: MINE trains its
statistics network there), `loss` (its weighted term and monitored values) and `heldout` (values on the
held-out activity at every checkpoint, e.g. MINE's `mi`).
"""

from __future__ import annotations

from dataclasses import replace


from ... import registry
from .base import LossTerm, TermContext
from .task import TaskLoss

__all__ = ["LossTerm", "TaskLoss", "TermContext", "build_terms"]


def build_terms(spec, context: TermContext) -> list[LossTerm]:
    """The task loss and one term per constraint of `spec`, in summation order (stable in spec order)."""
    terms: list[LossTerm] = [TaskLoss(spec.task, context)]
    seen: dict[str, int] = {}
    for constraint in spec.constraints:
        index = seen[constraint.kind] = seen.get(constraint.kind, -1) + 1
        term_context = replace(context, index=index, seed=context.seed + 1000 * index)
        terms.append(registry.constraints.get(constraint.kind).implementation()(constraint, term_context))
    return sorted(terms, key=lambda t: t.order)
