"""Zarr store: layout, names, writer and reader of runs. Knows numpy, never torch.

`modsim.store.names` re-exports the name rule of `modsim.names` (which the spec checks names with) and
imports nothing heavy; the reader and writer are imported on first use.
"""

from importlib import import_module

from . import layout
from .layout import STORE_VERSION, RunStatus
from .names import check_name, entry_path, name_problem

_LAZY = {"check_replaceable": "reader", "list_runs": "reader", "open_run": "reader", "read_metrics": "reader",
         "read_section": "reader", "store_kind": "reader", "read_analysis": "reader", "read_checkpoint": "reader",
         "checkpoint_steps": "reader", "read_state": "reader", "has_state": "reader", "shown_status": "reader", "RunWriter": "writer", "new_run_path": "writer",
         "package_versions": "writer", "spec_hash": "writer", "write_analysis": "writer", "write_table": "writer",
         "group_exists": "reader", "analysis_path": "reader", "read_table": "reader", "section_dims": "reader",
         "StoredRun": "record", "StoredSweep": "record",
         "read_run": "record", "read_sweep": "record", "sweep_of": "sweep", "sweep_store": "sweep",
         "check_store_root": "reader"}

__all__ = ["STORE_VERSION", "RunStatus", "layout", "check_name", "entry_path", "name_problem", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
