"""Packs: the runs of a sweep that can train as one model (`modsim.train.train_pack`), grouped for the executors
to schedule. Runs share a pack when they share what the packed loop needs to be one loop: the cell kind and
width, the minibatch, the sequence length, the step count, the thread count, the device and the transient (runs
that differ only in seed or in scalar fields: weights, learning rates, noise, gain, mask density). Within a pack
each member is still the run it would be alone, to the bit on a CPU. Members whose cells differ in what the
batched loop shares (a leaky or CTRNN cell's scalar rate, whether a GRU is noisy: the cell's `pack_key`) step
together but run their time loops one by one."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Sequence

from ..errors import UserError
from ..spec import Spec
from .expand import PlannedRun

AUTO = "auto"
"""`--pack auto`: as many members as the memory estimate allows, spread evenly over the jobs."""
MEMORY_SHARE = 0.5
"""Share of the available memory `--pack auto` lets the packs of all jobs take together."""
ACTIVATIONS_PER_UNIT = 6
"""Float32 values back-propagation through time keeps per unit, sequence and time step (the state, the rate,
the summed drive, their gradients' buffers): the factor of `member_bytes`."""


@dataclass(frozen=True)
class PlannedPack:
    """Runs of a sweep trained together as one pack."""

    runs: tuple[PlannedRun, ...]
    """Its members, in the sweep's planned order."""

    @property
    def name(self) -> str:
        """A label for logs and job names: its first run's name and how many runs it holds."""
        return self.runs[0].name if len(self.runs) == 1 else f"{self.runs[0].name}+{len(self.runs) - 1}"


def pack_key(spec: Spec) -> tuple:
    """What runs sharing a pack must agree on (see the module docstring)."""
    return (spec.network.cell.kind, spec.network.units, spec.training.batch, spec.task.steps_per_sequence(),
            spec.training.steps, spec.training.threads, spec.training.device, spec.task.grad_from)


def member_bytes(spec: Spec) -> int:
    """Memory one member's training step takes, estimated: the activations back-propagation through time keeps
    (batch x time steps x units x ACTIVATIONS_PER_UNIT float32 values, for every gate block), plus its parameters,
    gradients and optimiser state (4 copies), plus the statistics networks' rows (a MINE or CLUB critic)."""
    units, batch = spec.network.units, spec.training.batch
    steps = spec.task.steps_per_sequence()
    gates = {"gru": 3}.get(spec.network.cell.kind, 1)
    activations = 4 * ACTIVATIONS_PER_UNIT * gates * batch * steps * units
    parameters = 4 * 4 * gates * units * (units + 64)
    critics = 0
    for constraint in spec.constraints:
        hidden, samples = getattr(constraint, "hidden", None), getattr(constraint, "samples", None)
        if isinstance(hidden, int):
            rows = samples or batch * steps
            critics += 4 * 8 * rows * hidden
    return activations + parameters + critics


def available_bytes(device: str) -> int:
    """Memory free for packs on `device`: the GPU's free memory for `cuda`, else the host's available memory."""
    if device.startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            index = int(device.split(":")[1]) if ":" in device else 0
            return int(torch.cuda.mem_get_info(index)[0])
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def auto_size(runs: Sequence[PlannedRun], jobs: int) -> int:
    """`--pack auto`'s member count for these runs (of one pack key): the runs spread evenly over `jobs`
    packs, but no more members than MEMORY_SHARE of the available memory holds for `jobs` packs at once."""
    spec = runs[0].spec
    fits = max(1, int(MEMORY_SHARE * available_bytes(spec.training.device) / max(jobs, 1) // member_bytes(spec)))
    return max(1, min(math.ceil(len(runs) / max(jobs, 1)), fits))


def plan_packs(runs: Sequence[PlannedRun], size: int | str = 1, jobs: int = 1) -> list[PlannedPack]:
    """The runs in packs of at most `size` members (`auto`: `auto_size`), each pack holding runs of one
    `pack_key`, in planned order; size 1 gives one pack per run."""
    if size != AUTO and (not isinstance(size, int) or size < 1):
        raise UserError(f"--pack: expected a member count of at least 1 or 'auto', got {size!r}")
    groups: dict[tuple, list[PlannedRun]] = {}
    for run in runs:
        groups.setdefault(pack_key(run.spec), []).append(run)
    packs = []
    for members in groups.values():
        n = auto_size(members, jobs) if size == AUTO else size
        packs.extend(PlannedPack(tuple(members[i:i + n])) for i in range(0, len(members), n))
    order = {run.name: i for i, run in enumerate(runs)}
    return sorted(packs, key=lambda p: order[p.runs[0].name])


def parse_pack(text: str | int | None) -> int | str:
    """`--pack`'s value: a member count, or `auto`; UserError otherwise."""
    if text is None:
        return 1
    if isinstance(text, int) or str(text).isdigit():
        value = int(text)
        if value >= 1:
            return value
    elif str(text).strip().lower() == AUTO:
        return AUTO
    raise UserError(f"--pack: expected a member count of at least 1 or 'auto', got {text!r}")


__all__ = ["AUTO", "PlannedPack", "auto_size", "available_bytes", "member_bytes", "pack_key", "parse_pack",
           "plan_packs"]
