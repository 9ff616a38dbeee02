"""The architecture's promises: strict checkpoint loading, a report from the store alone (no torch), the
registries (kinds, names, plugins), every metric's declared keys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr
from click.testing import CliRunner

from modsim import registry
from modsim.cli import main
from modsim.evaluate import CheckpointMismatch, analyze_run
from modsim.store import open_run
from tests.conftest import ROOT
from tests.test_pipeline import run_tiny, tiny_spec


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """One finished tiny GRU run (the store is copied by tests that change it)."""
    return run_tiny(tiny_spec(), tmp_path_factory.mktemp("store"))[1]


def _rename_checkpoint_array(run: Path, old: str, new: str) -> None:
    group = zarr.open_group(str(run / "checkpoints"), mode="r+")
    data = np.asarray(group[old][...])
    group.create_array(new, data=data, chunks=(1, *data.shape[1:]))
    del group[old]


def test_a_renamed_parameter_is_refused_not_left_random(tiny_run: Path, tmp_path: Path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    _rename_checkpoint_array(run, "rnn.weight_hh_l0", "rnn.weight_hh_renamed")
    with pytest.raises(CheckpointMismatch, match="rnn.weight_hh_l0"):
        analyze_run(run)
    result = CliRunner().invoke(main, ["analyze", str(run)])
    assert result.exit_code == 2 and "does not match the network" in result.output
    assert "analysis" not in open_run(run)  # nothing written


def test_a_missing_parameter_is_refused(tiny_run: Path, tmp_path: Path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    del zarr.open_group(str(run / "checkpoints"), mode="r+")["heads.0.out.bias"]
    with pytest.raises(CheckpointMismatch, match="heads.0.out.bias"):
        analyze_run(run)


def test_the_source_loads_no_checkpoint_loosely():
    offenders = [str(p) for p in (ROOT / "modsim").rglob("*.py") if "strict=False" in p.read_text()]
    assert offenders == []


@pytest.mark.slow
def test_report_module_and_a_whole_report_import_no_torch(tiny_run: Path, tmp_path: Path):
    code = ("import sys; import modsim.report; assert 'torch' not in sys.modules, 'import';"
            f"modsim.report.write_report([{str(tiny_run)!r}], {str(tmp_path / 'report')!r});"
            "assert 'torch' not in sys.modules, 'report'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "report" / "index.html").is_file()
    assert len(list((tmp_path / "report").glob("*.png"))) >= 3


def test_registry_refuses_a_taken_name_and_names_the_known_ones():
    kind = registry.cells.get("gru")
    with pytest.raises(ValueError, match="already registered"):
        registry.cells.register("gru", kind)
    with pytest.raises(KeyError, match="known:.*gru"):
        registry.cells.get("no_such_cell")


def test_every_builtin_kind_resolves_to_its_spec_and_implementation():
    for family in ("cells", "tasks", "constraints"):
        for name in registry.FAMILIES[family].names():
            kind = registry.FAMILIES[family].get(name)
            spec = kind.spec_class()
            assert spec.model_fields["kind"].annotation.__args__ == (name,)
            assert callable(kind.implementation())
    for name in registry.metrics.names():
        metric = registry.metrics.get(name)
        assert metric.name == name and metric.label and metric.stored_keys
    for name in registry.executors.names():
        assert hasattr(registry.executors.get(name), "run")


def test_a_metric_stores_exactly_its_declared_keys(tiny_run: Path):
    """Every key the run stored comes from a metric's declared keys (per-group templates expanded), an
    analysis entry, or a loss term's held-out value."""
    from modsim.spec import Spec

    group = open_run(tiny_run)
    spec = Spec.model_validate(dict(group.attrs["spec"]))
    declared = {"step", "mi", "mi_diverged"}  # MINE's held-out estimate and its flag, stored with or without `mi`
    always = [m.name for m in registry.metrics if m.always and m.needs <= spec.capabilities()]  # the audit
    for name in [*spec.analysis.metrics, *always]:
        for key in registry.metrics.get(name).stored_keys:
            declared |= {key.replace("<group>", g) for g in spec.network.groups} if "<group>" in key else {key}
    labels = [c.label for c in spec.analysis.communities] + [c.label for c in spec.analysis.induced_q]
    stored = set(group["metrics"].array_keys())
    assert {k for k in stored if not any(k.startswith(lab) for lab in labels)} == declared


def test_kinds_lists_every_registered_kind_with_its_description():
    result = CliRunner().invoke(main, ["kinds"], terminal_width=200)
    assert result.exit_code == 0
    for family in ("cells", "tasks", "constraints", "metrics", "executors"):
        for name in registry.FAMILIES[family].names():
            assert name in result.output, (family, name)
    assert "Gated recurrent unit" in result.output and "Your own data" in result.output
