"""What a spec can offer the metrics and analyses: capability names and what each means. A cell spec, a task
spec or a constraint declares the ones it offers (`capabilities` / `provides`); a metric lists those it
`needs`; validation and the docs' metrics page name them with these descriptions, followed by the registered
kinds that offer them (`offered_by`: read from the kinds themselves, plugins' included). A plugin's own
capability needs no entry here (it is named as is)."""

from __future__ import annotations

import re

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


def offered_by(capability: str) -> list[str]:
    """The registered kinds (cells, tasks, constraints, in registration order) whose specs may offer
    `capability`: a cell's or task's `capabilities`, a constraint's `provides`, a task's `target_kinds`;
    empty for what a spec's shape offers rather than a kind (`two_groups`, `input_sets`, `dale`)."""
    found = []
    for family, attribute in ((registry.cells, "capabilities"), (registry.tasks, "capabilities"),
                              (registry.constraints, "provides")):
        for name in family.names():
            spec = family.get(name).spec_class()
            offers = set(getattr(spec, attribute, frozenset()))
            if family is registry.tasks:
                offers |= getattr(spec, "target_kinds", frozenset({"regression"}))
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
