"""Task data generators, one module per task family, each with a `build(spec, seed) -> TaskData` registered
under the task's kind; numpy only, seeded, no training code."""

from __future__ import annotations

from .. import registry
from ..spec.task import TaskSpec
from .data import BatchSampler, TaskData, run_seeds, task_streams
from .sequences import SequenceData


def build_task(spec: TaskSpec, seed: int) -> TaskData:
    """Generate the data of a task spec with its registered builder (train and held-out data come from
    independent seeded streams)."""
    return registry.tasks.get(spec.kind).implementation()(spec, seed)


__all__ = ["BatchSampler", "SequenceData", "TaskData", "build_task", "run_seeds", "task_streams"]
