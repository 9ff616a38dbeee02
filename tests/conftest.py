"""Shared fixtures and the hypothesis profiles (select with HYPOTHESIS_PROFILE=ci|dev)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from modsim import registry
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

torch.set_num_threads(min(2, torch.get_num_threads()))

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").rglob("*.yaml"))

SHRINK = [
    "training.steps=2", "training.checkpoint_every=1", "training.batch=2", "training.device=cpu",
]
"""Overrides that make any spec run in seconds (task-specific ones come from `shrink_task`)."""


def shrink_task(kind: str) -> list[str]:
    """Task overrides that keep a spec's structure but make its data tiny (the task's own `shrink`)."""
    return registry.tasks.get(kind).spec_class().shrink()


def shrink_mine() -> list[str]:
    """MINE overrides for tiny runs (only valid when the spec has a mine constraint at index 0)."""
    return ["constraints[0].warmup_steps=2", "constraints[0].steps_per_update=2", "constraints[0].samples=64"]


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """An empty store directory."""
    path = tmp_path / "store"
    path.mkdir()
    return path
