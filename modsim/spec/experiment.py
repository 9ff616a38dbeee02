"""The top-level spec: one experiment, its sections and the rules that span them."""

from __future__ import annotations

import json

from pydantic import Field, model_validator

from .. import registry
from .analysis import Analysis
from .base import SpecModel
from .capabilities import describe_capabilities
from .constraints import ConstraintSpec, MineConstraint
from .kinds import KindOf
from .network import Network, PerGroupInputs
from .sweep import Sweep
from .task import TaskSpec
from .training import QUICK_STEPS, Training


MEMORY_LIMIT_BYTES = 256 * 2**30
"""Specs whose estimated memory (weights and optimiser state, a minibatch's activations, the task's data)
exceeds this are refused at validation, before anything is allocated."""


NAME_LENGTH = 100
"""Longest spec name."""
QUICK_SUFFIX = "-quick"
"""Appended to the name of a spec shrunk by `Spec.quick_overrides` (`modsim run --quick`)."""
QUICK_NOTE = "Quick run (modsim run --quick)"
"""How the description of a spec shrunk by `Spec.quick_overrides` begins."""


class Spec(SpecModel):
    """A complete modsim experiment: network, task, constraints, training and analysis plan."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=NAME_LENGTH)
    """Experiment name; runs are stored as `store/<name>` (suffixed when taken)."""
    description: str = ""
    """Free text describing the experiment."""
    network: Network
    """Network topology."""
    task: KindOf("tasks", TaskSpec)
    """Training task; its `kind` selects the family (built-ins or a plugin's)."""
    constraints: list[KindOf("constraints", ConstraintSpec)] = []
    """Extra loss terms (MI minimisation `mine`, `l2`, `l1`, or a plugin's), each selected by its `kind`."""
    training: Training
    """Optimisation settings."""
    analysis: Analysis = Analysis()
    """Metrics recorded over training."""
    sweep: Sweep | None = None
    """Optional grid of runs over field paths and seeds (`modsim sweep`); `modsim run` ignores it."""

    @classmethod
    def from_stored(cls, spec_json: dict) -> "Spec":
        """The spec a run stored (its resolved JSON), read with the defaults it was made with, whatever today's
        (each cell's and constraint's kind declares them in `stored_defaults`: a stored `mine` constraint without
        `ramp_steps` predates the ramp and had none, a stored GRU cell without `kernel` ran on torch's kernel).
        Installed plugins' kinds are loaded first (`registry.load_plugins`)."""
        registry.load_plugins()
        doc = dict(spec_json)
        doc["constraints"] = [_with_stored_defaults("constraints", c) for c in doc.get("constraints", [])]
        network = doc.get("network")
        if isinstance(network, dict) and isinstance(network.get("cell"), dict):
            doc["network"] = {**network, "cell": _with_stored_defaults("cells", network["cell"])}
        return cls.model_validate(doc)

    def quick_overrides(self) -> list[str]:
        """`--set` overrides that make this spec a quick run (`modsim run --quick`) of the same structure (the
        same network, task kind, constraints, metrics and analyses, so the run stores every section a full
        one does) on tiny data: the task's own `shrink`, the training's (at most QUICK_STEPS steps, three
        checkpoints), every constraint's and the analysis's; the name gets QUICK_SUFFIX and the description
        says the run was shrunk, so the stored spec records it."""
        out = [*self.task.shrink(), *self.training.shrink()]
        for i, constraint in enumerate(self.constraints):
            out += constraint.shrink(i)
        out += self.analysis.shrink()
        name = self.name
        if not name.endswith(QUICK_SUFFIX):
            name = name[:NAME_LENGTH - len(QUICK_SUFFIX)] + QUICK_SUFFIX
        steps = min(self.training.steps, QUICK_STEPS)
        note = (f"{QUICK_NOTE} of {self.name}: its structure on tiny data, {steps} training steps; it shows that "
                "everything runs, its numbers are no result.")
        description = (self.description if self.description.startswith(QUICK_NOTE)
                       else f"{note} {self.description}".strip())
        return [*out, f"name={name}", f"description={json.dumps(description, ensure_ascii=False)}"]

    @property
    def mine(self) -> MineConstraint | None:
        """The MI constraint, if any."""
        found = [c for c in self.constraints if isinstance(c, MineConstraint)]
        return found[0] if found else None

    def analysis_groups(self) -> tuple[str, ...] | None:
        """The K groups compared by the separability indices (None with a single group): `analysis.groups`,
        else every group when the task has as many output sets, else the first two."""
        if self.analysis.groups is not None:
            return tuple(self.analysis.groups)
        names = list(self.network.groups)
        if len(names) < 2:
            return None
        return tuple(names) if len(self.task.output_sets()) >= len(names) else (names[0], names[1])

    def capabilities(self) -> frozenset[str]:
        """What this spec offers the metrics and analyses: `two_groups`, `input_sets` (two or more input
        sets), `classes` (a classification task) or `regression` (targets are values), `dale` (`network.dale`:
        excitatory and inhibitory units), the cell's, the task's and the constraints' own."""
        found = set(self.network.cell.capabilities) | set(self.task.capabilities)
        if self.network.dale is not None:
            found.add("dale")
        found |= {c for constraint in self.constraints for c in constraint.provides}
        if len(self.network.groups) >= 2:
            found.add("two_groups")
        if len(self.task.input_sets()) >= 2:
            found.add("input_sets")
        found.add("classes" if self.task.n_classes() is not None else "regression")
        return frozenset(found)

    @model_validator(mode="after")
    def _check_cross_section(self) -> "Spec":
        for i, c in enumerate(self.constraints):
            c.check(self, i)
        if self.network.output_dim != self.task.output_dim:
            raise ValueError(
                f"network readouts produce {self.network.output_dim} outputs but task "
                f"{self.task.kind!r} has {self.task.output_dim} targets")
        self._check_input_pathways()
        self._check_analysis()
        self._check_size()
        step = self.task.time_step()
        cell_step = self.network.cell.time_step()
        if step is not None and cell_step is not None and step != cell_step:
            raise ValueError(f"task.dt: {step} ms differs from network.cell.dt {cell_step} ms; "
                             "the task's time step must be the cell's Euler step")
        return self

    def cost_per_step(self) -> dict[str, tuple[float, str]]:
        """Rough floating-point operations of one model step by part, with what sets them: `network` (forward
        and backward of the recurrence and readout over a minibatch) and `constraints[i] (<kind>)` for each
        term that costs something (MINE's statistics steps), for the estimate printed before training."""
        n, inputs = self.network.units, self.task.input_dim
        steps = self.task.steps_per_sequence()
        blocks = self.network.cell.weight_blocks
        per_step = 2 * blocks * n * (n + inputs) + 2 * n * self.network.output_dim
        out = {"network": (3.0 * self.training.batch * steps * per_step, "")}
        for i, c in enumerate(self.constraints):
            flops = c.flops_per_step(self)
            if flops > 0:
                out[f"constraints[{i}] ({c.kind})"] = (flops, c.cost_note(self, i))
        return out

    def _check_size(self) -> None:
        """Refuse, before anything is allocated, a spec whose estimated memory exceeds MEMORY_LIMIT_BYTES,
        naming the field that makes it so."""
        n, inputs = self.network.units, self.task.input_dim
        blocks = self.network.cell.weight_blocks
        steps = self.task.steps_per_sequence()
        estimate = {"network.cell.units": 4 * 4 * blocks * n * (n + inputs + 1),  # weights, grads, Adam moments
                    "training.batch": 4 * 4 * blocks * self.training.batch * steps * n,  # activations kept for autograd
                    **self.task.data_bytes()}
        total = sum(estimate.values())
        if total > MEMORY_LIMIT_BYTES:
            field = max(estimate, key=estimate.get)
            parts = ", ".join(f"{k} {v / 2**30:.3g} GiB" for k, v in sorted(estimate.items(), key=lambda kv: -kv[1]))
            raise ValueError(f"{field}: this spec would need about {total / 2**30:.3g} GiB ({parts}; a minibatch's "
                             f"activations grow with training.batch x {steps} steps per sequence x units); the limit "
                             f"is {MEMORY_LIMIT_BYTES / 2**30:.0f} GiB")

    def _check_input_pathways(self) -> None:
        if not isinstance(self.network.inputs, PerGroupInputs):
            return
        sets = self.task.input_sets()
        for g, chans in self.network.inputs.channels.items():
            unknown = [c for c in chans if isinstance(c, str) and c not in sets]
            if unknown:
                raise ValueError(f"network.inputs.channels.{g}: {unknown} are not input sets of task "
                                 f"{self.task.kind!r}; known: {sorted(sets)}")
            bad = [c for c in chans if isinstance(c, int) and c >= self.task.input_dim]
            if bad:
                raise ValueError(f"network.inputs.channels.{g}: channels {bad} do not exist; task "
                                 f"{self.task.kind!r} has {self.task.input_dim} input channels")

    def _check_analysis(self) -> None:
        from .. import registry

        groups = set(self.network.groups)
        if self.analysis.groups is not None:
            for g in self.analysis.groups:
                if g not in groups:
                    raise ValueError(f"analysis.groups names {g!r}, not one of network.groups {sorted(groups)}")
        offered = self.capabilities()
        for name in self.analysis.metrics:
            missing = sorted(registry.metrics.get(name).needs - offered)
            if missing:
                raise ValueError(f"analysis.metrics: {name!r} needs {describe_capabilities(missing)}; this spec (task "
                                 f"{self.task.kind!r}, {len(groups)} group(s)) has none")
        compared = self.analysis_groups()
        for metric, sets in (("d_out", self.task.output_sets()), ("d_cor", self.task.output_sets()),
                             ("d_in", self.task.input_sets())):
            if metric in self.analysis.metrics and compared is not None and len(sets) < len(compared):
                raise ValueError(f"analysis.groups: {metric} compares {len(compared)} groups {list(compared)} with as "
                                 f"many sets, but task {self.task.kind!r} has {len(sets)} ({sorted(sets)})")
        if self.analysis.activity == "preactivation" and "preactivation" not in offered:
            raise ValueError(f"analysis.activity: 'preactivation' needs {describe_capabilities(['preactivation'])}; a "
                             f"{self.network.cell.kind} cell has no separate pre-activation (use hidden)")
        dynamics = self.analysis.dynamics
        if dynamics is None:
            return
        if "dynamics" not in offered:
            raise ValueError(f"analysis.dynamics: the dynamics analyses need {describe_capabilities(['dynamics'])}; "
                             f"a {self.network.cell.kind} cell does not declare the capability `dynamics`")
        if "trials" not in offered:
            raise ValueError(f"analysis.dynamics: needs a cognitive task, not {self.task.kind!r}")
        if dynamics.task_partitions is not None and "task_identity" not in offered:
            raise ValueError("analysis.dynamics.task_partitions: only for the multitask task")
        chunk = dynamics.task_partitions
        if chunk is not None and 4 * chunk > self.task.eval_trials:
            raise ValueError(f"analysis.dynamics.task_partitions: chunks of {chunk} trials need task.eval_trials "
                             f">= {4 * chunk} (two chunks per task), got {self.task.eval_trials}")


def _with_stored_defaults(family: str, section: object) -> object:
    """A stored cell or constraint section with the `stored_defaults` of its kind under it (fields added after
    such runs were stored, at the value they were trained with); unknown kinds are left to validation."""
    kinds = registry.FAMILIES[family]
    kind = section.get("kind") if isinstance(section, dict) else None
    if not isinstance(kind, str) or kind not in kinds:
        return section
    return {**kinds.get(kind).spec_class().stored_defaults, **section}
