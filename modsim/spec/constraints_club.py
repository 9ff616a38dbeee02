"""The `club` constraint: an upper bound on the mutual information (total correlation) among groups, with
a variational Gaussian fitted by maximum likelihood instead of an adversarial critic."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, PositiveFloat, PositiveInt

from .constraints import ConstraintSpec, check_between, shrink_network


class ClubConstraint(ConstraintSpec):
    """Penalise the dependence among groups with CLUB, the contrastive log-ratio upper bound (Cheng et al.,
    ICML 2020) on their mutual information; for K groups, on their total correlation by the chain rule
    TC(x_1..x_K) = sum_{k=2..K} I(x_1..x_{k-1}; x_k), one bound per link.

    Each link fits a variational Gaussian q(x_k | x_<k) (a one-hidden-layer ReLU network predicting the
    mean and log-variance of group k's units from the groups before it) by maximum likelihood on the
    (detached) activity, `fit_steps` Adam steps per model step, as the authors do. The model then
    minimises the sampled vCLUB E_p(x,y)[log q(y|x)] - log q(y'|x) with y' the row of a random
    permutation: 1/2 mean_i sum_d ((y'_id - mu_id)^2 - (y_id - mu_id)^2) / sigma_id^2. With q equal to
    p(y|x) this is an upper bound on I(x; y) (for Gaussian pairs with correlation rho per dimension it is
    rho^2 / (1 - rho^2) per dimension against the MI's -1/2 log(1 - rho^2): tight near independence,
    loose for strong dependence); with a poorly fitted q it is no bound. Nothing is adversarial: q and the
    model both move the same quantity's fit, q towards the likelihood, the model towards independence."""

    kind: Literal["club"]
    """Contrastive log-ratio upper bound (CLUB) on the mutual information."""
    between: list[str] = Field(min_length=2)
    """The groups whose activity is made independent (two or more, all different; for K > 2 their order
    sets the chain x_1 -> x_2, (x_1, x_2) -> x_3, ...)."""
    weight: float = Field(ge=0.0)
    """Weight of the estimate (summed over the chain's links) in the model loss; 0 only monitors it."""
    hidden: PositiveInt = 64
    """Width of the hidden layer of each variational network q(x_k | x_<k)."""
    fit_steps: Annotated[int, Field(ge=1)] = 1
    """Maximum-likelihood steps of every q per model step, on the step's detached rows. Measured on Gaussian
    pairs of 20 dims (benchmarks/README.md, "Dependence penalties: cost per step"): one step tracks a
    dependence that fades over 200 model steps as closely as 10 do, and re-settles within 5% 9-12 model
    steps after a sudden change (4-8 with 5 or 10 steps, at 5-10x the cost)."""
    warmup_steps: Annotated[int, Field(ge=0)] = 200
    """Fitting steps of q on the initial network before the first model step (20 per fresh minibatch); q
    settles within 3-5% of the Gaussian closed form in 100-200 steps."""
    samples: PositiveInt | None = 4096
    """(batch x time) rows drawn per fitting step and for the model's estimate; null uses all rows."""
    lr: PositiveFloat = 0.005
    """Learning rate of q's Adam optimiser."""
    standardize: bool = True
    """z-score every unit over the sampled rows first (MI is invariant to it), so q fits activity of any
    amplitude at one learning rate and a group cannot meet the penalty by shrinking its amplitude."""

    def rows(self, spec: Any) -> int:
        """Activity rows each fitting step sees: `samples`, or every (batch x time) row after the washout."""
        available = spec.training.batch * max(1, spec.task.steps_per_sequence() - spec.task.washout)
        return available if self.samples is None else min(self.samples, available)

    def flops_per_step(self, spec: Any) -> float:
        """`fit_steps` fitting steps plus the penalty's pass, each a forward and backward (x3) of every
        link's q (inputs -> hidden -> mean and log-variance) on the rows."""
        dims = [spec.network.groups[g] for g in self.between]
        h, rows = self.hidden, self.rows(spec)
        one = sum(2 * rows * (sum(dims[:k]) * h + 2 * h * dims[k]) for k in range(1, len(dims)))
        return 3.0 * one * (self.fit_steps + 1)

    def cost_note(self, spec: Any, index: int) -> str:
        """The fitting steps and rows behind the cost, and the fields that set them."""
        return (f"{self.fit_steps} fitting steps on {self.rows(spec)} rows, set by "
                f"constraints[{index}].fit_steps and .samples")

    def shrink(self, index: int) -> list[str]:
        """Narrow variational networks, few warm-up and fitting steps on few rows."""
        return shrink_network(f"constraints[{index}]", self.hidden, self.warmup_steps, "fit_steps", self.fit_steps,
                              self.samples)

    def check(self, spec: Any, index: int) -> None:
        """`between` names different groups of the network."""
        check_between("club", self.between, spec, index)
