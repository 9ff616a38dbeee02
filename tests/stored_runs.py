"""What tests compare between two stored runs: every array of every section, to the bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modsim.store import open_run, read_section

SECTIONS = ("train", "metrics", "checkpoints", "eval", "dynamics", "weights", "analysis")
"""The sections of a run group that hold arrays."""


def stored_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of the run at `path`, keyed `<section>/<name>`."""
    group = open_run(path)
    return {f"{s}/{k}": v for s in SECTIONS for k, v in read_section(group, s).items()}


def assert_same_run(got: Path, want: Path) -> None:
    """Every stored array equal to the bit (NaN where NaN, same dtype and shape), and the same summary but for
    the wall time."""
    a, b = stored_arrays(got), stored_arrays(want)
    assert sorted(a) == sorted(b)
    assert a, "no arrays stored"
    for key in b:
        assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, key
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    sa, sb = open_run(got).attrs["summary"], open_run(want).attrs["summary"]
    assert {k: v for k, v in sa.items() if k != "seconds"} == {k: v for k, v in sb.items() if k != "seconds"}
