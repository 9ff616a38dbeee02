"""The `sweep` section: a grid and/or zipped lists over any field path, plus a seed shorthand."""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field, PositiveInt, model_validator

from .base import SpecModel

MAX_SWEEP_RUNS = 100_000
"""A sweep expands to at most this many runs; a larger one is refused, from the sizes of its grid, zip and
seeds alone, before any run is made."""


class Sweep(SpecModel):
    """Runs expanded from one spec: cartesian `grid` x zipped `zip` lists x `seeds`.

    Keys are field paths as for `--set` (`constraints[0].weight`, `network.recurrent.p`,
    `training.seed`); values are lists of values. Every expanded run is validated like a spec file.
    A sweep has at most MAX_SWEEP_RUNS (100 000) runs: the product of the grid's list lengths, the zip's
    length and `seeds`.
    """

    grid: dict[str, list[Any]] = {}
    """Field path -> values; every combination of all grid entries is run."""
    zip: dict[str, list[Any]] = {}
    """Field path -> values, all lists of one length; the i-th values are run together."""
    seeds: PositiveInt | None = None
    """Shorthand for `training.seed` in base seed + 0..seeds-1 (crossed with everything else); with the grid
    and zip, at most MAX_SWEEP_RUNS (100 000) runs in all."""
    name_fields: list[str] | None = Field(default=None)
    """Paths used in run names (default: every swept path, by its last segment)."""

    def axis_sizes(self) -> dict[str, int]:
        """How many values each axis of the sweep has: every grid path, `zip` (its common length) and
        `seeds`; the number of runs is their product."""
        sizes = {f"grid {path}": len(values) for path, values in self.grid.items()}
        if self.zip:
            sizes["zip"] = len(next(iter(self.zip.values())))
        if self.seeds is not None:
            sizes["seeds"] = self.seeds
        return sizes

    def run_count(self) -> int:
        """The number of runs the sweep expands to (computed from the axes' sizes, nothing is expanded)."""
        return math.prod(self.axis_sizes().values())

    @model_validator(mode="after")
    def _check(self) -> "Sweep":
        lengths = {len(v) for v in self.zip.values()}
        if len(lengths) > 1:
            raise ValueError(f"zip: all lists need the same length, got {sorted(lengths)}")
        for key, values in {**self.grid, **self.zip}.items():
            if not values:
                raise ValueError(f"grid: {key!r} has no values")
        overlap = set(self.grid) & set(self.zip)
        if overlap:
            raise ValueError(f"grid: paths {sorted(overlap)} appear in both grid and zip")
        if self.seeds is not None and "training.seed" in {**self.grid, **self.zip}:
            raise ValueError("seeds: give either `seeds` or a `training.seed` list, not both")
        if not self.grid and not self.zip and self.seeds is None:
            raise ValueError("grid: an empty sweep; give grid, zip or seeds")
        return self
