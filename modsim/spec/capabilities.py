"""What a spec can offer the metrics and analyses: capability names and what each means. A cell spec, a task
spec or a constraint declares the ones it offers (`capabilities` / `provides`); a metric lists those it
`needs`; validation names the missing ones with these descriptions. A plugin's own capability needs no entry
here (it is named as is)."""

from __future__ import annotations

CAPABILITIES = {
    "two_groups": "at least two groups",
    "input_sets": "a task whose input channels split into sets (e.g. flipflop bits)",
    "classes": "a classification task (digit_parity, perceptual_decision, gonogo, multitask, neurogym)",
    "regression": "a task whose targets are values (lorenz_rossler, flipflop), not class indices",
    "mine": "a `mine` constraint (weight 0 to only monitor)",
    "digit_pairs": "the digit_parity task",
    "trials": "a cognitive task with trials (perceptual_decision, gonogo, multitask): a `TrialTask`",
    "task_identity": "a task whose trials come from several tasks (multitask)",
    "preactivation": "a cell with a separate pre-activation x (leaky)",
    "dynamics": "a ctrnn cell or another cell declaring `dynamics` (its torch module a `DynamicsCell`, whose "
                "Euler step the dynamics probes differentiate)",
    "dale": "a network with Dale's law (`network.dale`: every unit excitatory or inhibitory)",
}
"""What each capability a metric or analysis may need means (named in validation errors)."""


def describe_capabilities(names: list[str]) -> str:
    """The missing capabilities `names`, in words, joined with `and`."""
    return " and ".join(CAPABILITIES.get(c, f"the capability {c!r}") for c in names)
