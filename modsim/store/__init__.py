"""Zarr store: layout, writer and reader of runs. Knows numpy, never torch."""

from .layout import STORE_VERSION
from .reader import list_runs, open_run, read_metrics, read_section
from .writer import RunWriter, allocate_run_path, package_versions, spec_hash

__all__ = ["STORE_VERSION", "RunWriter", "allocate_run_path", "list_runs", "open_run", "package_versions",
           "read_metrics", "read_section", "spec_hash"]
