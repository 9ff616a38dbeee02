"""Test helpers for modsim's own tests and for plugins' (each module imported on first use):

- `make_snapshot(...)`, `make_plan_context(snapshot, analysis=None)` (`modsim.testing.snapshots`): a
  synthetic `Snapshot` and its `PlanContext` for a metric's contract test, without torch;
- `modsim.testing.contracts`: `check_cell`, `check_task`, `check_metric`, `check_loss_terms`, the contracts
  every built-in kind passes;
- `modsim.testing.strategies`: hypothesis strategies (needs hypothesis); `modsim.testing.oracles`: slow
  reference implementations; `modsim.testing.known_answers`: groups with a closed-form mutual information /
  total correlation, for dependence estimators.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {"make_snapshot": "modsim.testing.snapshots", "make_plan_context": "modsim.testing.snapshots"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'modsim.testing' has no attribute {name!r}")


__all__ = ["make_plan_context", "make_snapshot"]


def __dir__() -> list[str]:
    return sorted(__all__)
