"""What a spec can offer the metrics and analyses: capability names and what each means. A cell spec, a task
spec or a constraint declares the ones it offers (`capabilities` / `provides`); a metric lists those it
`needs`; validation and the docs' metrics page name them with these descriptions, followed by the registered
kinds that offer them (`offered_by`: read from the kinds themselves, plugins' included). A plugin's own
capability needs no entry here (it is named as is)."""

from __future__ import annotations

import re
from typing import get_type_hints

from .. import registry

CAPABILITIES = {
    "two_groups": "at least two groups",
    "input_sets": "a task whose input channels split into sets (e.g. flipflop bits)",
    "classes": "a classification task",
    "regression": "a task whose targets are values, not class indices",
    "mine": "a `mine` constraint (weight 0 to only monitor)",
    "digit_pairs": "the digit-parity trial blocks",
    "trials": "a cognitive task with trials: a `TrialTask`",
    "task_identity": "a task whose trials come from several tasks",
    "preactivation": "a cell with a separate pre-activation x",
    "dynamics": "a ctrnn cell or another cell declaring `dynamics` (its torch module a `DynamicsCell`, whose "
                "Euler step the dynamics probes differentiate)",
    "dale": "a network with Dale's law (`network.dale`: every unit excitatory or inhibitory)",
}
"""What each capability a metric or analysis may need means (named in validation errors and the docs, each
followed by the kinds that offer it, `describe_capability`)."""

TARGETS = ("classes", "regression")
"""The capabilities a task offers by its targets (`Spec.capabilities`): `classes` where `n_classes()` is a number,
`regression` where it is None."""


def _task_targets(task: type) -> set[str]:
    """Which of `TARGETS` a task kind's specs may offer, read from its `n_classes`: the base one (always None)
    gives `regression`, one annotated to return an int `classes`, any other (`int | None`: set by a field) both."""
    from .task import TaskSpec

    method = getattr(task, "n_classes", TaskSpec.n_classes)
    if method is TaskSpec.n_classes:
        return {"regression"}
    try:
        returns = get_type_hints(method).get("return")
    except Exception:  # a plugin's annotation that does not resolve: it may be either
        returns = None
    return {"classes"} if returns is int else set(TARGETS)


def offered_by(capability: str) -> list[str]:
    """The registered kinds (cells, tasks, constraints, in registration order) whose specs may offer
    `capability`: a cell's or task's `capabilities`, a constraint's `provides`, a task's targets (`TARGETS`);
    empty for what a spec's shape offers rather than a kind (`two_groups`, `input_sets`, `dale`)."""
    found = []
    for family, attribute in ((registry.cells, "capabilities"), (registry.tasks, "capabilities"),
                              (registry.constraints, "provides")):
        for name in family.names():
            spec = family.get(name).spec_class()
            offers = set(getattr(spec, attribute, frozenset()))
            if family is registry.tasks:
                offers |= _task_targets(spec)
            if capability in offers:
                found.append(name)
    return found


def describe_capability(name: str) -> str:
    """A capability in words followed by the kinds that offer it (`a classification task (digit_parity, ...)`),
    unless its description already names every one (`a `mine` constraint`); a plugin's own capability, which no
    description names, as `the capability 'name'`."""
    kinds = offered_by(name)
    text = CAPABILITIES.get(name, f"the capability {name!r}")
    if kinds and not all(re.search(rf"(?<![\w-]){re.escape(kind)}(?![\w-])", text) for kind in kinds):
        text += f" ({', '.join(kinds)})"
    return text


def describe_capabilities(names: list[str]) -> str:
    """The missing capabilities `names`, in words with the kinds that offer them, joined with `and`."""
    return " and ".join(describe_capability(c) for c in names)
