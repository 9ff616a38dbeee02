"""A corpus of malformed inputs made from every shipped spec (16 mutations x 19 specs): each is rejected with
exit 2, a message naming the field (where there is one) and file:line, nothing written anywhere, within
1 GiB (Python allocations, measured; no wall-clock bound, which a loaded machine misses)."""

from __future__ import annotations

import copy
import re
import tracemalloc
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from modsim.cli import main
from tests.conftest import ROOT, SPECS


def _set(data: dict, path: tuple, value) -> dict:
    data = copy.deepcopy(data)
    cur = data
    for key in path[:-1]:
        cur = cur[key]
    cur[path[-1]] = value
    return data


def _drop(data: dict, key: str) -> dict:
    data = copy.deepcopy(data)
    del data[key]
    return data


def _rename_first_group(data: dict) -> dict:
    data = copy.deepcopy(data)
    groups = data["network"]["groups"]
    first = next(iter(groups))
    data["network"]["groups"] = {("a/b" if k == first else k): v for k, v in groups.items()}
    return data


DATA_MUTATIONS = {
    "unknown_key": (lambda d: _set(d, ("colour",), "blue"), "colour"),
    "units_not_int": (lambda d: _set(d, ("network", "cell", "units"), "many"), "network.cell.units"),
    "steps_negative": (lambda d: _set(d, ("training", "steps"), -5), "training.steps"),
    "cell_kind_unknown": (lambda d: _set(d, ("network", "cell", "kind"), "transformer"), "network.cell"),
    "task_kind_unknown": (lambda d: _set(d, ("task", "kind"), "chess"), "task"),
    "group_name_path": (_rename_first_group, "network.groups"),
    "lr_zero": (lambda d: _set(d, ("training", "optimizer"), {"kind": "adam", "lr": 0}), "training.optimizer.lr"),
    "units_huge": (lambda d: _set(d, ("network", "cell", "units"), 10**7), "network.cell.units"),
    "metric_unknown": (lambda d: _set(d, ("analysis",), {"metrics": ["nope"]}), "analysis.metrics"),
    "training_missing": (lambda d: _drop(d, "training"), "training"),
}
TEXT_MUTATIONS = {
    "not_utf8": lambda t: t.encode() + b"\ndescription: \"\xff\xfe\"\n",
    "alias_bomb": lambda t: (t + "bomb: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"b{i}: &a{i} [{', '.join(['*a' if i == 0 else f'*a{i - 1}'] * 10)}]\n" for i in range(7))).encode(),
    "deep_nesting": lambda t: (t + "deep: " + "[" * 5000 + "]" * 5000 + "\n").encode(),
    "binary_tag": lambda t: (t + "extra: !!binary aGVsbG8=\n").encode(),
    "duplicate_key": lambda t: (t + "name: again\n").encode(),
    "bad_indentation": lambda t: (t + "network:\n\t cell: x\n").encode(),
}
CASES = [(spec, m) for spec in SPECS for m in [*DATA_MUTATIONS, *TEXT_MUTATIONS]]


def _bad_file(spec: Path, mutation: str, directory: Path) -> tuple[Path, str | None]:
    data = yaml.safe_load(spec.read_text())
    data.pop("sweep", None)
    out = directory / f"{spec.stem}-{mutation}.yaml"
    if mutation in DATA_MUTATIONS:
        change, field = DATA_MUTATIONS[mutation]
        out.write_text(yaml.safe_dump(change(data), sort_keys=False))
        return out, field
    out.write_bytes(TEXT_MUTATIONS[mutation](yaml.safe_dump(data, sort_keys=False)))
    return out, None


def test_the_corpus_has_at_least_150_cases():
    assert len(CASES) >= 150 and len(SPECS) >= 19


@pytest.mark.slow
@pytest.mark.parametrize("spec,mutation", CASES, ids=[f"{s.relative_to(ROOT / 'specs').with_suffix('')}-{m}"
                                                      for s, m in CASES])
def test_bad_input_is_rejected_cleanly(spec: Path, mutation: str, tmp_path: Path, monkeypatch):
    bad, field = _bad_file(spec, mutation, tmp_path)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    tracemalloc.start()
    try:
        result = CliRunner().invoke(main, ["validate", str(bad)])
        run = CliRunner().invoke(main, ["run", str(bad), "--store", str(work / "store"), "--quiet"])
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    for outcome in (result, run):
        assert outcome.exit_code == 2, outcome.output
        assert outcome.exception is None or isinstance(outcome.exception, SystemExit), repr(outcome.exception)
        assert re.search(re.escape(str(bad)) + r":\d+", outcome.output), outcome.output
        if field is not None:
            assert field in outcome.output, (field, outcome.output)
        assert "Traceback" not in outcome.output
    assert list(work.iterdir()) == []  # nothing written: no store, no report, no temporary file
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([bad.name, "cwd"])
    assert peak < 2**30, peak  # bounded work: memory, not wall-clock time (a loaded machine is slow)
