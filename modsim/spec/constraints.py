"""The `constraints` section: extra loss terms that shape the network."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, PositiveFloat, PositiveInt

from .base import SpecModel

WeightSet = Literal["input", "recurrent", "readout"]
"""Named weight sets a penalty can act on."""


def check_between(kind: str, between: list[str], spec: Any, index: int, field: str = "between") -> None:
    """ValueError unless `between` names different groups of the network (every kind that relates or selects
    groups; `field` names the constraint's field in the message)."""
    groups = set(spec.network.groups)
    for g in between:
        if g not in groups:
            raise ValueError(f"constraints[{index}].{field}: {kind} names group {g!r}, which is not one of "
                             f"network.groups {sorted(groups)}")
    if len(set(between)) != len(between):
        raise ValueError(f"constraints[{index}].{field}: {kind} names a group twice, got {between}; it needs "
                         "different groups")


QUICK_HIDDEN = 16
"""Widest hidden layer of a constraint's own network (a critic, a variational net) in a `--quick` run."""
QUICK_FIT_STEPS = 2
"""Most warm-up and per-step fitting steps of a constraint's own network in a `--quick` run."""
QUICK_ROWS = 64
"""Most activity rows a constraint samples per step in a `--quick` run."""
QUICK_NEGATIVES = 8
"""Most negatives per block of MINE's InfoNCE bound in a `--quick` run."""


def shrink_network(at: str, hidden: int, warmup_steps: int, steps_field: str, steps: int,
                   samples: int | None) -> list[str]:
    """The quick overrides of a constraint that trains a network of its own (MINE's critic, CLUB's q): at most
    QUICK_HIDDEN wide, QUICK_FIT_STEPS warm-up and per-step fitting steps (`steps_field`), QUICK_ROWS rows."""
    return [f"{at}.hidden={min(hidden, QUICK_HIDDEN)}",
            f"{at}.warmup_steps={min(warmup_steps, QUICK_FIT_STEPS)}",
            f"{at}.{steps_field}={min(steps, QUICK_FIT_STEPS)}",
            f"{at}.samples={min(samples or QUICK_ROWS, QUICK_ROWS)}"]


class ConstraintSpec(SpecModel):
    """Base of every constraint spec (an extra loss term). A plugin's constraint subclasses it and registers
    its `LossTerm` class with `modsim.register_constraint`."""

    kind: str
    """Constraint kind (each subclass narrows it to one literal)."""
    provides: ClassVar[frozenset[str]] = frozenset()
    """Capabilities the term adds to a spec (`mine`: an MI estimate on held-out activity, the metric `mi`)."""
    stored_defaults: ClassVar[dict[str, Any]] = {}
    """Fields added after runs with this kind were first stored, with the value such a run was trained with
    (`Spec.from_stored` fills them in before validating a stored spec)."""

    def check(self, spec: Any, index: int) -> None:
        """Rules that span sections (e.g. named groups exist); raise ValueError starting with the field path
        `constraints[index].<field>`."""

    def flops_per_step(self, spec: Any) -> float:
        """Rough floating-point operations the term adds to one model step (the cost estimate printed before
        training); 0 for terms whose cost is negligible next to the network's."""
        return 0.0

    def cost_note(self, spec: Any, index: int) -> str:
        """What the cost depends on, for the estimate (e.g. which fields set it); empty when nothing to say."""
        return ""

    def shrink(self, index: int) -> list[str]:
        """`--set` overrides (paths under `constraints[index]`) that keep the term but make it cheap, for
        `modsim run --quick`: fewer or narrower whatever its cost grows with; none by default."""
        return []


class MineConstraint(ConstraintSpec):
    """Penalise the dependence among groups' activity (mutual information; total correlation for more than
    two groups), estimated with MINE.

    A statistics network T(x, y) is trained adversarially to maximise the Donsker-Varadhan bound
    E_joint[T] - log E_marginal[exp T]; the model then minimises `weight` times that estimate.
    """

    kind: Literal["mine"]
    """Mutual-information minimisation (Belghazi et al. 2018 estimator)."""
    provides: ClassVar[frozenset[str]] = frozenset({"mine"})
    stored_defaults: ClassVar[dict[str, Any]] = {"ramp_steps": 0, "bound": "dv"}
    """Runs stored before `ramp_steps` existed had no ramp; before `bound` existed, the DV bound."""
    between: list[str] = Field(min_length=2)
    """The groups whose activity is made independent (two or more, all different)."""
    objective: Literal["total_correlation", "pairwise"] = "total_correlation"
    """For more than two groups: minimise their total correlation KL(p(x_1..x_K) || prod_k p(x_k)) with one
    statistics network on all groups, or the sum of the pairwise mutual informations with one statistics
    network per pair. For two groups both are the mutual information (the same numbers)."""
    weight: float = Field(ge=0.0)
    """lambda_I: weight of the MI estimate in the model loss. 0 only monitors the MI."""
    hidden: PositiveInt = 100
    """Width of the statistics network's layers."""
    activation: Literal["relu", "leaky_relu"] = "leaky_relu"
    """Activation of the statistics network."""
    negative_slope: float = Field(default=0.25, ge=0.0)
    """Slope of leaky_relu for negative inputs."""
    output_bias: bool = False
    """Whether the statistics network's last layer has a bias."""
    noise: float = Field(default=0.05, ge=0.0)
    """Standard deviation of Gaussian noise added to both inputs of the statistics network."""
    warmup_steps: Annotated[int, Field(ge=0)] = 100
    """Statistics-network steps before the first model step."""
    steps_per_update: Annotated[int, Field(ge=1)] = 20
    """Statistics-network steps per model step."""
    samples: PositiveInt | None = 4096
    """(batch x time) rows drawn per statistics step and for the model's MI term; null uses all rows (the
    paper's choice; on a CPU the statistics steps then cost many times the network's own)."""
    optimizer: Literal["adam", "rmsprop"] = "adam"
    """Optimiser of the statistics network."""
    lr: PositiveFloat = 0.01
    """Learning rate of the statistics network."""
    clip_value: PositiveFloat | None = 1.0
    """Clip each gradient element of the statistics network to [-clip_value, clip_value]."""
    clip_norm: PositiveFloat | None = None
    """Clip the statistics network's gradient norm."""
    standardize: bool = False
    """z-score every unit over the sampled rows before the noise. MI is invariant to per-unit affine
    maps, so this leaves the estimated quantity unchanged but stops the model from hiding a group's
    information by shrinking its amplitude below `noise` (silencing a group). Off in the paper."""
    bound: Literal["dv", "nwj", "infonce", "clipped_dv"] = "dv"
    """The variational lower bound the statistics network maximises and the model minimises
    (`modsim.compile.losses.mine_bounds`): `dv`, Donsker-Varadhan E_P[T] - log E_Q[e^T] (the MINE paper's);
    `nwj`, Nguyen-Wainwright-Jordan E_P[T] - e^-1 E_Q[e^T] (unbiased minibatch gradients, more variance);
    `infonce`, InfoNCE with the other rows of a block of `negatives` rows as negatives (low variance, but
    never above log(negatives) nats); `clipped_dv`, SMILE (Song & Ermon 2020): DV with the partition
    term's scores clipped to [-clip, clip], the critic trained by the Jensen-Shannon gradient. P is the
    joint, Q the product of the marginals."""
    clip: PositiveFloat = 5.0
    """tau of `bound: clipped_dv`: the scores in the partition term are clipped to [-tau, tau] (SMILE's
    tau = 5; smaller trades bias for variance). Ignored by the other bounds."""
    negatives: Annotated[int, Field(ge=2)] = 32
    """Rows per block of `bound: infonce`: each row is scored against the `negatives` rows of its block (itself
    included), so a pass scores samples x negatives rows (16x DV's 2 x samples at 32) and the estimate is at
    most log(negatives) nats (3.47 at 32). Ignored by the other bounds."""
    moving_average: float | None = Field(default=None, gt=0.0, le=1.0)
    """Rate of MINE's moving-average gradient correction for log E[exp T] (`bound: dv` only); null for the
    plain bound."""
    ramp_steps: Annotated[int, Field(ge=0)] = 0
    """Model steps over which the penalty's weight rises linearly to `weight` (weight / ramp_steps at the
    first step; the estimate is monitored from the first step), so the groups learn the task before the
    penalty bites. 0 (the paper's schedule): full weight from the first step. Without the engagement
    term the ramp halves the 3-group runs that silence a group; with it, the ramp left more 2-group runs
    mixed (README, "Dependence penalties"), so it is not the default."""

    def rows(self, spec: Any) -> int:
        """Activity rows each statistics step sees: `samples`, or every (batch x time) row after the washout."""
        available = spec.training.batch * max(1, spec.task.steps_per_sequence() - spec.task.washout)
        return available if self.samples is None else min(self.samples, available)

    def flops_per_step(self, spec: Any) -> float:
        """`steps_per_update` statistics steps plus the penalty's pass, each a forward and backward (x3) of
        the critic's first layers on the rows and its body on joint and marginal rows (InfoNCE: on rows x
        negatives pairs), for every critic."""
        dims = [spec.network.groups[g] for g in self.between]
        critics = ([dims] if self.objective == "total_correlation" or len(dims) == 2
                   else [[a, b] for i, a in enumerate(dims) for b in dims[i + 1:]])
        h, rows = self.hidden, self.rows(spec)
        scored = rows * (min(self.negatives, rows) if self.bound == "infonce" else 2)
        one = sum(2 * rows * sum(d) * h + 2 * scored * (h * h + h) for d in critics)
        return 3.0 * one * (self.steps_per_update + 1)

    def cost_note(self, spec: Any, index: int) -> str:
        """The statistics steps and rows behind the cost, and the fields that set them."""
        if self.bound == "infonce":
            return (f"{self.steps_per_update} statistics steps on {self.rows(spec)} rows x "
                    f"{min(self.negatives, self.rows(spec))} negatives, set by constraints[{index}].steps_per_update, "
                    f".samples and .negatives")
        return (f"{self.steps_per_update} statistics steps on {self.rows(spec)} rows, set by "
                f"constraints[{index}].steps_per_update and .samples")

    def shrink(self, index: int) -> list[str]:
        """A narrow statistics network, few warm-up and statistics steps on few rows (and negatives)."""
        at = f"constraints[{index}]"
        return [*shrink_network(at, self.hidden, self.warmup_steps, "steps_per_update", self.steps_per_update,
                                self.samples),
                *([f"{at}.negatives={min(self.negatives, QUICK_NEGATIVES)}"] if self.bound == "infonce" else [])]

    def check(self, spec: Any, index: int) -> None:
        """`between` names two different groups of the network; a moving average only with the DV bound."""
        check_between("mine", self.between, spec, index)
        if self.moving_average is not None and self.bound != "dv":
            raise ValueError(f"constraints[{index}].moving_average: corrects the DV bound only, and bound is "
                             f"{self.bound!r} (set moving_average: null or bound: dv)")


class EngagementConstraint(ConstraintSpec):
    """Keep every group engaged with the outputs: each group's mean |corr(unit, output)| on the step's
    activity must stay above `floor` times the most engaged group's, and its activity (mean sd of its units)
    above `activity_floor` times the most active group's, or pay weight * (shortfall / floor)^2 for each.

    It closes the MI penalty's cheapest exits, the two ways to silence a group: its units turn to noise
    (the leaky network's mode: no correlation left with the outputs), or its amplitude shrinks below what
    the statistics network resolves (the GRU's mode). With every group engaged and active, the only way to
    independence left is to specialise. The `silenced` metric flags a group below a fifth of the leading
    group's on either measure; the default floors keep every group above that."""

    kind: Literal["engagement"]
    """Anti-silencing term for the groups of an MI constraint."""
    stored_defaults: ClassVar[dict[str, Any]] = {"activity_floor": None}
    """Runs stored before `activity_floor` existed had no activity floor."""
    groups: list[str] | None = Field(default=None, min_length=2)
    """The groups kept engaged (null: every group of the network)."""
    floor: float = Field(default=0.5, gt=0.0, le=1.0)
    """Smallest engagement, as a fraction of the most engaged group's, that costs nothing."""
    activity_floor: float | None = Field(default=0.25, gt=0.0, le=1.0)
    """Smallest activity (mean sd of a group's units), as a fraction of the most active group's, that costs
    nothing (null: amplitude is free). Leaky units keep their private noise, so this binds only where a
    group's amplitude can collapse (GRU, noiseless cells)."""
    weight: float = Field(default=1.0, ge=0.0)
    """Coefficient of the squared relative shortfall."""

    def check(self, spec: Any, index: int) -> None:
        """`groups` names groups of the network."""
        known = set(spec.network.groups)
        check_between("engagement", self.groups or [], spec, index, "groups")
        if len(known) < 2:
            raise ValueError(f"constraints[{index}]: engagement needs at least two groups in network.groups")


class L2Constraint(ConstraintSpec):
    """Weight decay term weight * sum(w^2) over the chosen weight sets."""

    kind: Literal["l2"]
    """Squared-weight penalty."""
    weight: float = Field(ge=0.0)
    """lambda_reg: coefficient of the penalty."""
    weights: list[WeightSet] = Field(default=["input", "recurrent", "readout"], min_length=1)
    """Weight sets penalised."""


class L1Constraint(ConstraintSpec):
    """Sparsity term weight * sum(|w|) over the chosen weight sets."""

    kind: Literal["l1"]
    """Absolute-weight (sparsity) penalty."""
    weight: float = Field(ge=0.0)
    """Coefficient of the penalty."""
    weights: list[WeightSet] = Field(default=["recurrent"], min_length=1)
    """Weight sets penalised."""
