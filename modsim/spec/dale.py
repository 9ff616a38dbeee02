"""The `network.dale` section: excitatory and inhibitory units (Dale's law).

Each unit is excitatory or inhibitory: all its outgoing recurrent weights are >= 0 (excitatory) or <= 0
(inhibitory), whatever the optimiser does. Within each group the excitatory units come first, then the
inhibitory ones (so `g1: 20` with `{excitatory: 16, inhibitory: 4}` makes units 0-15 excitatory and 16-19
inhibitory). The weights are parametrised as in PsychRNN (Song, Yang & Wang 2016; Ehrlich et al. 2021): the
effective recurrent matrix is (|W| * mask) @ diag(signs), so a unit's outgoing weights (its column of the
[post, pre] matrix) carry its sign after every optimiser step, and masked weights stay exactly zero.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator

from .base import SpecModel

class ExcitatoryInhibitory(SpecModel):
    """How a group's units divide into excitatory and inhibitory ones: counts, or fractions of the group."""

    excitatory: int | float = Field(ge=0)
    """Excitatory units of the group: a count (int), or a fraction of the group (float in [0, 1], rounded to
    the nearest count, halves up). They are the group's first units."""
    inhibitory: int | float | None = Field(default=None, ge=0)
    """Inhibitory units: a count or a fraction, or omitted for the rest of the group. Counts must add up to
    the group's size; fractions to 1 (then the inhibitory units are what the excitatory fraction leaves)."""

    @model_validator(mode="after")
    def _fractions(self) -> "ExcitatoryInhibitory":
        for name in ("excitatory", "inhibitory"):
            value = getattr(self, name)
            if isinstance(value, float) and value > 1.0:
                raise ValueError(f"{name}: {value} is a fraction above 1; give a count (an int) or a fraction "
                                 "in [0, 1]")
        return self

    def counts(self, size: int, group: str) -> tuple[int, int]:
        """(excitatory, inhibitory) unit counts in a group of `size` units; ValueError naming the group when
        they do not add up to the group. A fraction is rounded to the nearest count, halves up; when both are
        fractions (adding up to 1) the inhibitory units are the rest of the group, so 0.5/0.5 of 5 units is 3 + 2."""
        e, i = self.excitatory, self.inhibitory
        n_e = _count(e, size)
        if i is None or (isinstance(e, float) and isinstance(i, float) and math.isclose(e + i, 1.0)):
            n_i = size - n_e
        else:
            n_i = _count(i, size)
        if n_e < 0 or n_i < 0 or n_e + n_i != size:
            raise ValueError(f"dale.groups.{group}: {n_e} excitatory + {n_i} inhibitory units do not make the "
                             f"group's {size} units; give counts that add up to {size}, or fractions that add "
                             "up to 1")
        return n_e, n_i


def _count(value: int | float, size: int) -> int:
    """A count as given, or a fraction of `size` rounded to the nearest count, halves up."""
    return value if isinstance(value, int) else int(math.floor(value * size + 0.5))


class Dale(SpecModel):
    """Dale's law: the excitatory and inhibitory units of every group, and how inputs and readouts treat them.

    The short form lists the groups beside the options: `dale: {g1: {excitatory: 16, inhibitory: 4},
    g2: {excitatory: 0.8}, readout: excitatory}` (a group cannot be named like an option then).
    """

    groups: dict[str, ExcitatoryInhibitory] = Field(min_length=1)
    """Excitatory and inhibitory units of each group; every group of the network is listed."""
    inputs: Literal["all", "excitatory"] = "all"
    """Which units receive the input channels: `all`, or only the `excitatory` units (the inhibitory units' rows
    of the input weights are masked)."""
    input_sign: Literal["free", "positive"] = "free"
    """Sign of the input weights: `free` (trained without constraint) or `positive` (|W_in|, as in PsychRNN:
    inputs excite)."""
    readout: Literal["all", "excitatory"] = "all"
    """Which units the readout heads read: `all` the units of their groups, or only the `excitatory` ones (as
    PsychRNN's readout)."""
    balance: bool = True
    """Balance every unit's initial input: its inhibitory input weights are scaled so that they cancel its
    excitatory ones (each row of the initial recurrent matrix sums to zero; a unit that receives only one kind
    is left as it is). Applied before `network.spectral_radius`."""

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        if isinstance(data, dict) and "groups" not in data:  # the short form: groups, and options by name
            options = {k: v for k, v in data.items() if k in cls.model_fields}
            return {**options, "groups": {k: v for k, v in data.items() if k not in cls.model_fields}}
        return data


__all__ = ["Dale", "ExcitatoryInhibitory"]
