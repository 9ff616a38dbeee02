"""The `network` section: cell, named groups, recurrent masks, input pathways and readouts."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, PositiveInt, field_validator, model_validator

from ..names import name_problem
from .base import SpecModel
from .cells import CellSpec
from .dale import Dale
from .kinds import KindOf
from .time_constants import TimeConstants


class DenseMask(SpecModel):
    """All-to-all recurrent connectivity."""

    kind: Literal["dense"]
    """Every unit connects to every unit."""
    self_connections: bool = True
    """Keep the diagonal (unit-to-itself weights)."""


class ModularMask(SpecModel):
    """Dense within each group; a random fraction (or exact number) of connections between groups."""

    kind: Literal["modular"]
    """Block-modular connectivity over the named groups."""
    p: float | None = Field(default=None, ge=0.0, le=1.0)
    """Fraction of the possible connections kept from each group to each other group
    (round(p * n_i * n_j) per direction). Give exactly one of `p` and `count`."""
    count: int | None = Field(default=None, ge=0)
    """Exact number of connections kept from each group to each other group, per direction."""
    self_connections: bool = True
    """Keep the diagonal (unit-to-itself weights) inside each group."""
    seed: int | None = None
    """Seed for placing the inter-group connections; defaults to `training.seed`."""

    @model_validator(mode="after")
    def _one_density(self) -> "ModularMask":
        if (self.p is None) == (self.count is None):
            raise ValueError("give exactly one of `p` (a fraction) or `count` (connections per direction)")
        return self


RecurrentMask = Annotated[Union[DenseMask, ModularMask], Field(discriminator="kind")]
"""Recurrent connectivity mask; masked weights stay exactly zero during training."""


class SharedInputs(SpecModel):
    """Every unit receives every input channel."""

    kind: Literal["shared"]
    """All groups see the whole input."""


class PerGroupInputs(SpecModel):
    """Each listed group receives only its own input channels; unlisted groups receive none."""

    kind: Literal["per_group"]
    """Separate input pathways."""
    channels: dict[str, list[Annotated[int, Field(ge=0)] | str]]
    """Map from group name to the input channels that reach it: channel indices, or names of the
    task's input sets (e.g. `digit1` for the first image of the digit-parity task, `bit1` for the
    flip-flop's first ON/OFF pair)."""


Inputs = Annotated[Union[SharedInputs, PerGroupInputs], Field(discriminator="kind")]
"""Input pathway layout."""


class Readout(SpecModel):
    """A linear output head reading from a set of groups."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Name of this output head."""
    dim: PositiveInt
    """Number of outputs of this head."""
    from_: list[str] = Field(alias="from", min_length=1)
    """Groups whose units feed this head."""
    bottleneck: PositiveInt | None = None
    """Width of an optional linear bottleneck layer between the groups and this head."""
    init: Literal["torch", "glorot"] = "torch"
    """Initialisation of the head's weights: torch's nn.Linear default, or Glorot-uniform with zero
    bias (Keras' Dense default, used by the MI paper's code)."""


class Network(SpecModel):
    """Topology of the recurrent network."""

    cell: KindOf("cells", CellSpec)
    """Recurrent cell: its `kind` (gru, rnn, leaky, ctrnn or a plugin's) selects the family."""
    groups: dict[str, PositiveInt | tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]]]
    """Named partition of the units: either sizes in unit order (`{g1: 50, g2: 50}`) or half-open
    index ranges (`{g1: [0, 50], g2: [50, 100]}`). Together they must cover every unit exactly once."""
    recurrent: RecurrentMask = DenseMask(kind="dense")
    """Recurrent connectivity mask."""
    inputs: Inputs = SharedInputs(kind="shared")
    """Input pathways."""
    readouts: list[Readout] = Field(min_length=1)
    """Output heads. Without competition the network output is their concatenation in order."""
    competition: Literal["none", "max"] = "none"
    """`max`: all heads have the same width and, per sample, the head whose largest output is
    largest gives the network output (competing readouts)."""
    dale: Dale | None = None
    """Dale's law: which units of each group are excitatory and which inhibitory (`modsim.spec.dale`); every
    unit's outgoing recurrent weights then keep its sign throughout training. For the rnn, leaky and ctrnn
    cells (one recurrent matrix acting on the activity)."""
    spectral_radius: float | None = Field(default=None, gt=0.0)
    """Scale the initial recurrent matrix (after masks, and after Dale's balance) so that its largest
    eigenvalue modulus is this value; None keeps the cell's own initialisation. For cells with one recurrent
    matrix."""
    time_constants: TimeConstants | None = None
    """Per-group or per-unit time constants, optionally learnable within bounds (`modsim.spec.time_constants`),
    for cells with a leak (leaky: tau in time steps; ctrnn: tau in ms). None: every unit has the cell's own."""

    @property
    def units(self) -> int:
        """Number of recurrent units."""
        return self.cell.units

    def group_indices(self) -> dict[str, list[int]]:
        """Unit indices of each group, in declaration order."""
        out: dict[str, list[int]] = {}
        start = 0
        for name, value in self.groups.items():
            if isinstance(value, int):
                out[name] = list(range(start, start + value))
                start += value
            else:
                out[name] = list(range(value[0], value[1]))
        return out

    def unit_signs(self) -> list[int] | None:
        """+1 for every excitatory unit and -1 for every inhibitory one, in unit order; None without `dale`."""
        if self.dale is None:
            return None
        signs = [0] * self.units
        for name, idx in self.group_indices().items():
            n_e, _ = self.dale.groups[name].counts(len(idx), name)
            for k, unit in enumerate(idx):
                signs[unit] = 1 if k < n_e else -1
        return signs

    @property
    def output_dim(self) -> int:
        """Width of the network output."""
        if self.competition == "max":
            return self.readouts[0].dim
        return sum(r.dim for r in self.readouts)

    @field_validator("groups")
    @classmethod
    def _check_group_names(cls, groups: dict) -> dict:
        for name in groups:
            problem = name_problem(name)
            if problem is not None:  # names become store array names (activity_sd_<group>, ...)
                raise ValueError(f"group name {name!r}: {problem}")
        return groups

    @model_validator(mode="after")
    def _check_topology(self) -> "Network":
        n = self.units
        kinds = {isinstance(v, int) for v in self.groups.values()}
        if len(kinds) > 1:
            raise ValueError("groups: give either all sizes or all [start, stop) ranges, not a mix")
        if len(self.groups) < 1:
            raise ValueError("groups: at least one group is needed")
        for name, value in self.groups.items():
            if not isinstance(value, int) and not value[0] < value[1]:
                raise ValueError(f"groups.{name}: range [{value[0]}, {value[1]}) is empty; expected start < stop")
        seen = [0] * n
        for name, idx in self.group_indices().items():
            for i in idx:
                if i >= n:
                    raise ValueError(
                        f"groups: group {name!r} reaches unit {i} but the cell has {n} units; "
                        f"the groups must partition units 0..{n - 1}")
                seen[i] += 1
        covered = sum(1 for s in seen if s > 0)
        if any(s > 1 for s in seen) or covered != n:
            total = sum(len(v) for v in self.group_indices().values())
            raise ValueError(
                f"groups must partition the {n} units exactly once; they cover {covered} units "
                f"with {total} assignments")
        names = set(self.groups)
        if isinstance(self.inputs, PerGroupInputs):
            for g in self.inputs.channels:
                if g not in names:
                    raise ValueError(f"inputs.channels.{g}: names group {g!r}; known groups: {sorted(names)}")
        head_names = [r.name for r in self.readouts]
        if len(set(head_names)) != len(head_names):
            raise ValueError(f"readouts: head names must be unique, got {head_names}")
        for i, r in enumerate(self.readouts):
            for g in r.from_:
                if g not in names:
                    raise ValueError(f"readouts[{i}].from: readout {r.name!r} reads from unknown group {g!r}; "
                                     f"known: {sorted(names)}")
        self._check_dale()
        if self.spectral_radius is not None and self.cell.weight_blocks != 1:
            raise ValueError(
                f"spectral_radius: a {self.cell.kind} cell has {self.cell.weight_blocks} recurrent weight blocks "
                "(gates); a target spectral radius needs one recurrent matrix (rnn, leaky, ctrnn)")
        if self.competition == "max" and len({r.dim for r in self.readouts}) != 1:
            raise ValueError("competition 'max' needs readouts of equal `dim`")
        if isinstance(self.recurrent, ModularMask) and self.recurrent.count is not None:
            sizes = [len(v) for v in self.group_indices().values()]
            smallest = min(a * b for i, a in enumerate(sizes) for j, b in enumerate(sizes) if i != j) \
                if len(sizes) > 1 else 0
            if len(sizes) > 1 and self.recurrent.count > smallest:
                raise ValueError(
                    f"recurrent.count = {self.recurrent.count} exceeds the {smallest} possible connections "
                    "between the smallest pair of groups")
        return self

    def _check_dale(self) -> None:
        """Dale's law needs one recurrent matrix, every group listed, and counts that make each group."""
        if self.dale is None:
            return
        if self.cell.weight_blocks != 1:
            raise ValueError(
                f"dale: Dale's law needs a cell whose one recurrent matrix acts on its activity (rnn, leaky, "
                f"ctrnn); a {self.cell.kind} cell's recurrent weights feed {self.cell.weight_blocks} gates "
                "whose products mix signs, so a unit's outgoing effect has no fixed sign")
        names = list(self.groups)
        unknown = [g for g in self.dale.groups if g not in self.groups]
        if unknown:
            raise ValueError(f"dale.groups: names unknown group(s) {unknown}; known groups: {names}")
        missing = [g for g in names if g not in self.dale.groups]
        if missing:
            raise ValueError(f"dale.groups: every group must say how many of its units are excitatory; "
                             f"missing {missing}")
        for name, idx in self.group_indices().items():
            self.dale.groups[name].counts(len(idx), name)
        if self.dale.readout == "excitatory":
            signs = self.unit_signs() or []
            groups = self.group_indices()
            for i, r in enumerate(self.readouts):
                if not any(signs[u] > 0 for g in r.from_ for u in groups[g]):
                    raise ValueError(f"readouts[{i}].from: readout {r.name!r} reads only excitatory units "
                                     "(dale.readout) but its groups have none")

    @model_validator(mode="after")
    def _check_time_constants(self) -> "Network":
        if self.time_constants is not None:
            self.time_constants.check(self.group_indices(), self.cell)
        return self
