"""Cell specs: one model per recurrent cell kind (the torch cells they build are in `modsim.compile.cells`)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, NamedTuple

from pydantic import Field, model_validator

from .base import SpecModel


Units = Annotated[int, Field(gt=0, le=1_000_000)]
"""A number of recurrent units (at most a million: the weights alone would need 4 TB)."""
NoiseLevel = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
"""A noise standard deviation (0: no noise)."""


class Leak(NamedTuple):
    """A cell's own time constant and its step, in the units `network.time_constants` gives them in; the
    update rate is step / tau (at most 1)."""

    tau: float
    """The cell's own time constant."""
    step: float
    """Its Euler step (the shortest time constant allowed)."""
    unit: str
    """What they are measured in (`ms`, `time steps`), for messages."""


class CellSpec(SpecModel):
    """Base of every cell spec: a `kind` literal and the number of units. A plugin's cell spec subclasses
    it and is registered with `modsim.register_cell`."""

    kind: str
    """Cell family (each subclass narrows it to one literal)."""
    units: Units
    """Number of recurrent units N."""

    capabilities: ClassVar[frozenset[str]] = frozenset()
    """What the cell offers the analyses (`modsim.spec.capabilities`): `preactivation`, a separate
    pre-activation x (its torch cell's `forward(..., preactivation=True)` returns it and `has_preactivation`
    is true; the `tomoda` conventions then analyse x); `dynamics`, the Euler step the dynamics probes
    differentiate (its torch cell implements `modsim.compile.cells.DynamicsCell`). A plugin cell declares
    them here, and nothing else needs an edit."""

    stored_defaults: ClassVar[dict[str, Any]] = {}
    """Fields added after runs of this kind were first stored, with the value such a run was trained with
    (`Spec.from_stored` fills them in before validating a stored spec)."""

    weight_blocks: ClassVar[int] = 1
    """Row blocks of the cell's fused weight matrices (a GRU's three gates); the memory estimate uses it and
    the cell contract checks it against the torch cell's `gate_blocks`."""

    def time_step(self) -> float | None:
        """The cell's time step in ms, when it has one (the task's must equal it)."""
        return None

    def leak(self) -> Leak | None:
        """The cell's own time constant and step when its update has a leak rate alpha = step / tau, which
        `network.time_constants` may then set per group or per unit (or train); None for a cell without one (rnn,
        gru). A plugin cell that returns one gives its torch module a `use_time_constants(module)` method
        (`modsim.compile.cells`)."""
        return None

    @property
    def noisy(self) -> bool:
        """Whether the cell draws noise while it runs (held-out runs then use a fixed, seeded stream): its
        recurrent noise `sigma` or its input noise `input_sigma` (the fields every built-in cell has) is > 0."""
        return getattr(self, "sigma", 0.0) > 0 or getattr(self, "input_sigma", 0.0) > 0


class GRUCellSpec(CellSpec):
    """Gated recurrent unit (Chung et al. 2014) with torch's parameters and arithmetic; `kernel` says who runs
    it."""

    kind: Literal["gru"]
    """Cell family: a gated recurrent unit."""
    units: Units
    """Number of recurrent units N."""
    bias: bool = True
    """Whether the gates carry bias vectors."""
    kernel: Literal["auto", "modsim", "torch"] = "auto"
    """Who runs the time loop. `torch`: torch's `nn.GRU` kernel (cuDNN on a GPU; on a CPU, autograd through
    about ten recorded ops per time step). `modsim`: modsim's loop with a hand-written backward pass through
    time, the same forward numbers as torch's CPU loop to the bit and gradients equal to rounding; a training
    step of the quick GRU spec runs 1.2-1.7x faster than a bare `nn.GRU` step on a CPU (benchmarks/README.md).
    Its backward is once differentiable (no double backward or forward-mode AD). `auto`: modsim's on a CPU,
    torch's on a GPU. Runs stored before this field existed used `torch`. With `sigma` > 0 the two kernels agree to
    rounding, not to the bit (torch's gets the noise through extra input channels)."""
    sigma: NoiseLevel = 0.0
    """Recurrent (private) noise: standard deviation of Gaussian noise sigma xi (one independent draw per unit
    and step) added to the candidate's pre-activation, n = tanh(W_in,n u + b_in,n + sigma xi + r (W_hn h +
    b_hn)), h' = (1 - z) n + z h (the CTRNN's noise on the input of f, with 1 - z as its update rate); the reset
    and update gates are noise-free. modsim's kernel adds it inside its loop; torch's receives it as N extra
    input channels through a fixed sigma I block of the candidate's input weights. Drawn from the forward's
    generator, before the input noise."""
    input_sigma: NoiseLevel = 0.0
    """Input noise: standard deviation of Gaussian noise added to every input channel every step before the
    input weights (u_t + input_sigma eta_t), so it reaches all three gates through W_in and the input mask."""
    weight_blocks: ClassVar[int] = 3
    stored_defaults: ClassVar[dict[str, Any]] = {"kernel": "torch"}
    """Runs stored before `kernel` existed ran on torch's kernel."""


class RNNCellSpec(CellSpec):
    """Discrete-time vanilla RNN h <- f(W_in u + W h + b), run with the fused torch kernel."""

    kind: Literal["rnn"]
    """Cell family: a plain (Elman) recurrent network."""
    units: Units
    """Number of recurrent units N."""
    nonlinearity: Literal["tanh", "relu"] = "tanh"
    """Activation f of the hidden state."""
    bias: bool = True
    """Whether the update carries a bias vector (the specialisation paper uses none)."""
    sigma: NoiseLevel = 0.0
    """Recurrent (private) noise: standard deviation of Gaussian noise sigma xi (one independent draw per unit
    and step) added to the pre-activation, h <- f(W_in u + W h + b + sigma xi). torch's fused kernel still runs
    the loop: the noise enters as N extra input channels through a fixed sigma I block of input weights. Drawn
    from the forward's generator, before the input noise."""
    input_sigma: NoiseLevel = 0.0
    """Input noise: standard deviation of Gaussian noise added to every input channel every step before the
    input weights (u_t + input_sigma eta_t), so it reaches each unit through W_in and the input mask."""


class LeakyCellSpec(CellSpec):
    """Leaky-integrator RNN (the MI paper's working-memory network), run with modsim's own time loop:
    x <- (1 - alpha) x + alpha (W_in (u + input_sigma eta) + W tanh(x) + b) + sigma xi, activity r = tanh(x).

    The analysed activity (correlations, MI, readout) is r. W ~ N(0, g^2 / N); W_in Glorot-uniform."""

    kind: Literal["leaky"]
    """Cell family: leaky integrator with tanh rates."""
    capabilities: ClassVar[frozenset[str]] = frozenset({"preactivation"})
    units: Units
    """Number of recurrent units N."""
    alpha: float = Field(default=0.1, gt=0.0, le=1.0)
    """Leak rate alpha = dt / tau (1 makes it a plain RNN on the pre-activation); `network.time_constants` can
    set it per group or per unit (tau in time steps, alpha = 1 / tau)."""
    sigma: float = Field(default=0.1, ge=0.0, allow_inf_nan=False)
    """Recurrent (private) noise: standard deviation of the Gaussian noise sigma xi (one independent draw per
    unit and step) added to x every step after the leak, x <- (1 - alpha) x + alpha (...) + sigma xi (not
    scaled by alpha). Drawn from the forward's generator, before the input noise."""
    input_sigma: NoiseLevel = 0.0
    """Input noise: standard deviation of Gaussian noise added to every input channel every step before the
    input weights (u_t + input_sigma eta_t), so it reaches each unit through W_in and the input mask, scaled
    by alpha like the input."""
    g: float = Field(default=1.0, gt=0.0)
    """Gain of the recurrent initialisation: W_ij ~ N(0, g^2 / N)."""
    bias: bool = True
    """Whether the update carries a bias vector b (initialised to zero)."""

    def leak(self) -> Leak:
        """Time constant 1 / alpha, in time steps (the step is 1)."""
        return Leak(1.0 / self.alpha, 1.0, "time steps")


class CTRNNCellSpec(CellSpec):
    """Continuous-time RNN (rates) discretised with Euler steps, as in the modular-boundaries paper:
    tau dr/dt = -r + f(W_in u + W r + b), i.e. r <- (1 - dt/tau) r + (dt/tau) f(W_in u + W r + b + sigma xi)
    (input noise: u + input_sigma eta).

    The analysed activity is r. Weights start as torch's nn.Linear default (uniform +-1/sqrt(fan_in))."""

    kind: Literal["ctrnn"]
    """Cell family: continuous-time rate network."""
    capabilities: ClassVar[frozenset[str]] = frozenset({"dynamics"})
    units: Units
    """Number of recurrent units N."""
    tau: float = Field(default=100.0, gt=0.0)
    """Time constant (ms); `network.time_constants` can set it per group or per unit, or train it."""
    dt: float = Field(default=20.0, gt=0.0)
    """Euler step (ms); dt / tau is the update rate and must not exceed 1."""
    activation: Literal["relu", "tanh", "softplus"] = "relu"
    """Rate function f."""
    sigma: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    """Recurrent (private) noise: standard deviation of Gaussian noise sigma xi (one independent draw per unit
    and step) added to the input of f every step, r <- (1 - a) r + a f(W_in u + W r + b + sigma xi), so it
    reaches the rates scaled by the update rate a. Drawn from the forward's generator, before the input noise."""
    input_sigma: NoiseLevel = 0.0
    """Input noise: standard deviation of Gaussian noise added to every input channel every step before the
    input weights (u_t + input_sigma eta_t), so it reaches each unit through W_in and the input mask."""
    bias: bool = True
    """Whether the update carries a bias vector b."""

    def time_step(self) -> float:
        """The Euler step `dt`."""
        return self.dt

    def leak(self) -> Leak:
        """Time constant `tau` and step `dt`, in ms."""
        return Leak(self.tau, self.dt, "ms")

    @model_validator(mode="after")
    def _stable_step(self) -> "CTRNNCellSpec":
        if self.dt > self.tau:
            raise ValueError(f"dt ({self.dt}) must not exceed tau ({self.tau}); the Euler update needs dt/tau <= 1")
        return self
