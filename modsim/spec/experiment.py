"""The top-level spec: one experiment, its sections and the rules that span them."""

from __future__ import annotations

from pydantic import Field, model_validator

from .analysis import Analysis
from .base import SpecModel
from .constraints import Constraint, MineConstraint
from .network import Network, PerGroupInputs
from .sweep import Sweep
from .task import Task
from .training import Training


class Spec(SpecModel):
    """A complete modsim experiment: network, task, constraints, training and analysis plan."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    """Experiment name; runs are stored as `store/<name>` (suffixed when taken)."""
    description: str = ""
    """Free text describing the experiment."""
    network: Network
    """Network topology."""
    task: Task
    """Training task."""
    constraints: list[Constraint] = []
    """Extra loss terms (MI minimisation, L2, L1)."""
    training: Training
    """Optimisation settings."""
    analysis: Analysis = Analysis()
    """Metrics recorded over training."""
    sweep: Sweep | None = None
    """Optional grid of runs over field paths and seeds (`modsim sweep`); `modsim run` ignores it."""

    @property
    def mine(self) -> MineConstraint | None:
        """The MI constraint, if any."""
        found = [c for c in self.constraints if isinstance(c, MineConstraint)]
        return found[0] if found else None

    def analysis_groups(self) -> tuple[str, str] | None:
        """The two groups compared by the separability indices (None with a single group)."""
        if self.analysis.groups is not None:
            return self.analysis.groups
        names = list(self.network.groups)
        return (names[0], names[1]) if len(names) >= 2 else None

    @model_validator(mode="after")
    def _check_cross_section(self) -> "Spec":
        groups = set(self.network.groups)
        mines = [c for c in self.constraints if isinstance(c, MineConstraint)]
        if len(mines) > 1:
            raise ValueError("constraints: at most one `mine` constraint is supported")
        for i, c in enumerate(self.constraints):
            if not isinstance(c, MineConstraint):
                continue
            for g in c.between:
                if g not in groups:
                    raise ValueError(f"constraints[{i}].between: mine names group {g!r}, which is not one of "
                                     f"network.groups {sorted(groups)}")
            if c.between[0] == c.between[1]:
                raise ValueError(f"constraints[{i}].between: mine needs two different groups")
        if self.network.output_dim != self.task.output_dim:
            raise ValueError(
                f"network readouts produce {self.network.output_dim} outputs but task "
                f"{self.task.kind!r} has {self.task.output_dim} targets")
        if isinstance(self.network.inputs, PerGroupInputs):
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
        if self.analysis.groups is not None:
            for g in self.analysis.groups:
                if g not in groups:
                    raise ValueError(f"analysis.groups names {g!r}, not one of network.groups {sorted(groups)}")
        needs_two = {"d_out", "d_cor", "d_in"} & set(self.analysis.metrics)
        if needs_two and len(groups) < 2:
            raise ValueError(f"analysis metrics {sorted(needs_two)} need at least two groups")
        if "d_in" in self.analysis.metrics and len(self.task.input_sets()) < 2:
            raise ValueError(f"analysis.metrics: 'd_in' needs a task whose input channels split into sets "
                             f"(e.g. flipflop bits); task {self.task.kind!r} has none")
        needs_classes = {"accuracy", "specialisation"} & set(self.analysis.metrics)
        if needs_classes and not hasattr(self.task, "classes"):
            raise ValueError(f"analysis.metrics: {sorted(needs_classes)} need a classification task "
                             f"(digit_parity, perceptual_decision, gonogo, multitask, neurogym); task {self.task.kind!r} is not one")
        if "specialisation" in self.analysis.metrics and self.task.kind != "digit_parity":
            raise ValueError(f"analysis.metrics: 'specialisation' needs the digit_parity task, not {self.task.kind!r}")
        if "specialisation" in self.analysis.metrics and len(groups) < 2:
            raise ValueError("analysis.metrics: 'specialisation' needs two modules (groups)")
        if self.analysis.activity == "preactivation" and self.network.cell.kind != "leaky":
            raise ValueError(f"analysis.activity: 'preactivation' is the leaky cell's x; a "
                             f"{self.network.cell.kind} cell has no separate pre-activation (use hidden)")
        if self.analysis.dynamics is not None:
            if self.network.cell.kind != "ctrnn":
                raise ValueError("analysis.dynamics: the dynamics analyses need a ctrnn cell")
            if self.task.kind not in ("perceptual_decision", "gonogo", "multitask"):
                raise ValueError(f"analysis.dynamics: needs a cognitive task, not {self.task.kind!r}")
            if self.analysis.dynamics.task_partitions is not None and self.task.kind != "multitask":
                raise ValueError("analysis.dynamics.task_partitions: only for the multitask task")
            chunk = self.analysis.dynamics.task_partitions
            if chunk is not None and 4 * chunk > self.task.eval_trials:
                raise ValueError(f"analysis.dynamics.task_partitions: chunks of {chunk} trials need task.eval_trials "
                                 f">= {4 * chunk} (two chunks per task), got {self.task.eval_trials}")
        if self.network.cell.kind == "ctrnn" and hasattr(self.task, "dt") and self.task.dt != self.network.cell.dt:
            raise ValueError(f"task.dt: {self.task.dt} ms differs from network.cell.dt {self.network.cell.dt} ms; "
                             "the task's time step must be the cell's Euler step")
        if "mi" in self.analysis.metrics and not mines:
            raise ValueError("analysis metric 'mi' needs a `mine` constraint (weight 0 to only monitor)")
        return self
