"""Golden numbers: a seeded tiny run of every quick spec (every cell kind and task family), on one torch
thread, through the command line (`modsim run` then `modsim analyze`), pinned to the numbers the code
computed when the goldens were written (rtol 1e-6, atol 1e-7).

A redesign changes structure, not numbers: these must pass unchanged after any refactor. When a change
is *meant* to alter results (a bug fix, a new default), regenerate with

    MODSIM_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py

and say so in the commit message.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from modsim.cli import main
from modsim.spec import load_spec
from modsim.store import open_run, read_section
from tests.conftest import ROOT, SHRINK, shrink_mine

GOLDEN = Path(__file__).parent / "golden"
QUICK = [p for p in sorted((ROOT / "specs").glob("*.yaml")) if not p.stem.endswith("_sweep")]
SECTIONS = ("train", "metrics", "analysis", "dynamics")
RTOL, ATOL = 1e-6, 1e-7
"""ATOL is float32's resolution at O(1): metrics derived from float32 activity differ by about 1e-8 between CPU
models (the bena goldens, written on one, differ on an AMD EPYC by 2.5e-8 in a normalised difference of two
correlations, the rest identical), while any change of what the code computes moves them far more."""
RENAMED: dict[str, str] = {
    f"spec_{measure}{suffix}": f"specialisation_{measure}{suffix}"
    for measure in ("retrain", "ablate", "corr") for suffix in ("", "_t", "_mbar")}
"""Stored names that changed since the goldens were written (old -> new): same numbers, new name."""


def _overrides(path: Path) -> list[str]:
    spec = load_spec(path)
    return (SHRINK + spec.task.shrink() + (shrink_mine() if spec.mine is not None else [])
            + ["training.steps=3", "training.checkpoint_every=2", "training.threads=1"])


LONG = 256
"""Arrays longer than this are pinned by their length, sums and first values (keeps the files small)."""


def _flatten(values) -> list:
    array = np.asarray(values)
    if array.dtype.kind in "iub":
        flat = array.astype(np.int64).ravel()
    else:
        flat = array.astype(np.float64).ravel()
    if flat.size > LONG:
        finite = flat[np.isfinite(flat)] if flat.dtype.kind == "f" else flat
        flat = np.concatenate([[flat.size, finite.sum(), np.abs(finite).sum(), (finite ** 2).sum()],
                               flat[:32]]).astype(np.float64)
    return [None if not math.isfinite(v) else v for v in flat.tolist()]


def _numbers(run: Path) -> dict[str, dict[str, list]]:
    """Every stored number of a run that training and analysis compute (not timings)."""
    group = open_run(run)
    out = {section: {name: _flatten(v) for name, v in sorted(read_section(group, section).items())}
           for section in SECTIONS}
    summary = group.attrs.get("summary", {})
    out["summary"] = {k: _flatten(v) for k, v in sorted(summary.items()) if k != "seconds"}
    return out


def _run(path: Path, store: Path) -> dict[str, dict[str, list]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runner = CliRunner()
        args = ["run", str(path), "--store", str(store), "--name", "golden", "--quiet", "--device", "cpu"]
        for item in _overrides(path):
            args += ["--set", item]
        result = runner.invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        result = runner.invoke(main, ["analyze", str(store / "golden")], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return _numbers(store / "golden")
    finally:
        torch.set_num_threads(threads)


def _compare(expected: dict, got: dict, where: str) -> None:
    expected = {RENAMED.get(k, k): v for k, v in expected.items()}
    assert sorted(got) == sorted(expected), f"{where}: stored names changed"
    for name, want in expected.items():
        have = got[name]
        assert len(have) == len(want), f"{where}/{name}: length {len(have)} != {len(want)}"
        a = np.array([math.nan if v is None else v for v in have], dtype=np.float64)
        b = np.array([math.nan if v is None else v for v in want], dtype=np.float64)
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=f"{where}/{name}")


@pytest.mark.slow
@pytest.mark.parametrize("path", QUICK, ids=[p.stem for p in QUICK])
def test_tiny_run_matches_golden_numbers(path: Path, tmp_path: Path) -> None:
    got = _run(path, tmp_path)
    file = GOLDEN / f"{path.stem}.json"
    if os.environ.get("MODSIM_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        file.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    expected = json.loads(file.read_text())
    assert sorted(got) == sorted(expected)
    assert got["train"]["step"] == [1, 2, 3] and got["metrics"]["step"] == [0, 2, 3]
    for section in expected:
        _compare(expected[section], got[section], f"{path.stem}/{section}")
