"""Bad specs: exit 2, a message naming the field and file:line, and nothing written to the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from modsim.cli import main
from modsim.spec import SpecError, load_spec

GOOD = """\
name: tiny
network:
  cell: {kind: gru, units: 8}
  groups: {g1: 4, g2: 4}
  readouts:
    - {name: out, dim: 6, from: [g1, g2]}
task: {kind: lorenz_rossler, length: 40, drop: 10, washout: 5, train_trajectories: 3, eval_trajectories: 2}
constraints:
  - {kind: mine, between: [g1, g2], weight: 0.01, warmup_steps: 2, steps_per_update: 2, samples: 32}
training: {steps: 2, batch: 2, checkpoint_every: 1, device: cpu}
"""

BAD = {
    "unknown key": (GOOD.replace("units: 8}", "units: 8, colour: red}"), "network.cell.colour", 3, "unknown key"),
    "wrong type": (GOOD.replace("steps: 2,", "steps: many,"), "training.steps", 10, "integer"),
    "out of range": (GOOD.replace("weight: 0.01", "weight: -1"), "constraints[0].weight", 9, "greater than"),
    "not a partition": (GOOD.replace("g2: 4}", "g2: 3}"), "network.groups", 4, "partition"),
    "missing MI group": (GOOD.replace("between: [g1, g2]", "between: [g1, g9]"), "constraints[0].between", 9,
                         "g9"),
    "unknown kind": (GOOD.replace("kind: gru", "kind: lstm"), "network.cell", 3, "lstm"),
    "output mismatch": (GOOD.replace("dim: 6", "dim: 5"), "network", 2, "6 targets"),
    "missing field": (GOOD.replace("training: {steps: 2, ", "training: {"), "training.steps", 10, "missing"),
    "broken yaml": (GOOD.replace("groups: {g1: 4, g2: 4}", "groups: {g1: 4, g2: 4"), "", 5, "invalid YAML"),
    "object tag": (GOOD.replace("name: tiny", "name: !!python/object/apply:os.system [ls]"), "", 1, "tag"),
    "duplicate key": (GOOD + "name: again\n", "", 11, "duplicate key"),
    "leak out of range": (GOOD.replace("kind: gru, units: 8", "kind: leaky, units: 8, alpha: 1.5"), "network.cell.alpha",
                          3, "less than or equal to 1"),
    "d_in without input sets": (GOOD + "analysis: {metrics: [d_in]}\n", "analysis.metrics", 11, "input channels"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_spec_reports_field_line_and_exits_2(case, tmp_path: Path):
    text, field, line, expected = BAD[case]
    spec_file = tmp_path / "bad.yaml"
    spec_file.write_text(text)
    store = tmp_path / "store"
    result = CliRunner().invoke(main, ["run", str(spec_file), "--store", str(store), "--quiet"])
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert f"{spec_file}:{line}" in out
    if field:
        assert f": {field}:" in out
    assert expected in out
    assert not store.exists() or not any(store.iterdir())
    validate = CliRunner().invoke(main, ["validate", str(spec_file)])
    assert validate.exit_code == 2


def test_good_spec_validates(tmp_path: Path):
    spec_file = tmp_path / "good.yaml"
    spec_file.write_text(GOOD)
    result = CliRunner().invoke(main, ["validate", str(spec_file)])
    assert result.exit_code == 0, result.output


def test_overrides_are_validated_and_located(tmp_path: Path):
    spec_file = tmp_path / "good.yaml"
    spec_file.write_text(GOOD)
    spec = load_spec(spec_file, ["training.steps=7", "constraints[0].weight=0.5", "network.recurrent.kind=modular",
                                 "network.recurrent.count=3"])
    assert spec.training.steps == 7 and spec.mine.weight == 0.5 and spec.network.recurrent.count == 3
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, ["training.steps=-1"])
    problem = info.value.problems[0]
    assert problem.field == "training.steps" and problem.source == "--set training.steps=-1"
    with pytest.raises(SpecError, match="expected PATH=VALUE"):
        load_spec(spec_file, ["training.steps"])
    result = CliRunner().invoke(main, ["run", str(spec_file), "--set", "training.bogus=1", "--store",
                                       str(tmp_path / "s")])
    assert result.exit_code == 2 and "training.bogus" in result.output


def test_missing_file_is_reported(tmp_path: Path):
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "cannot read spec file" in result.output


def test_yaml_12_booleans_keep_words_as_strings(tmp_path: Path):
    spec_file = tmp_path / "words.yaml"
    spec_file.write_text(GOOD.replace("name: tiny", "name: 'no'\ndescription: on"))
    spec = load_spec(spec_file)
    assert spec.name == "no" and spec.description == "on"


def test_yaml_merge_keys_work_and_explicit_keys_override(tmp_path: Path):
    spec = tmp_path / "merged.yaml"
    spec.write_text("name: merged\nnetwork:\n  cell: {kind: gru, units: 8}\n  groups: {g1: 4, g2: 4}\n"
                    "  readouts:\n    - {name: out, dim: 6, from: [g1, g2]}\n"
                    "task:\n  <<: {kind: lorenz_rossler, length: 50, drop: 10, washout: 7}\n  washout: 5\n"
                    "training: {steps: 2}\n")
    loaded = load_spec(spec)
    assert (loaded.task.kind, loaded.task.length, loaded.task.washout) == ("lorenz_rossler", 50, 5)


def test_a_line_number_like_an_emoji_code_stays_a_number(capsys):
    """rich would print `file.yaml:100: ...` as `file.yaml💯 ...` (":100:" is an emoji code)."""
    from modsim.cli.common import report_spec_error
    from modsim.spec.io import Problem, SpecError

    report_spec_error(SpecError([Problem("network.units", "spec.yaml:100", "expected a number")]))
    assert "spec.yaml:100: network.units" in capsys.readouterr().err
