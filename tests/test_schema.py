"""The committed JSON Schema is current, documents every field, and every spec points at it."""

from __future__ import annotations

import json

from click.testing import CliRunner

from modsim.cli import main
from modsim.schema import SCHEMA_FILE, schema_text
from tests.conftest import ROOT, SPECS


def test_committed_schema_is_current():
    committed = (ROOT / "schemas" / SCHEMA_FILE).read_text()
    assert committed == schema_text(), "schemas/ is stale: run `modsim schema` and commit the result"


def test_schema_command_writes_file(tmp_path):
    result = CliRunner().invoke(main, ["schema", "-o", str(tmp_path)])
    assert result.exit_code == 0
    assert (tmp_path / SCHEMA_FILE).read_text() == schema_text()


def test_every_field_has_a_description():
    schema = json.loads(schema_text())
    missing = []
    for def_name, definition in schema.get("$defs", {}).items():
        for field, prop in definition.get("properties", {}).items():
            if "description" not in prop:
                missing.append(f"{def_name}.{field}")
    for field, prop in schema["properties"].items():
        if "description" not in prop:
            missing.append(field)
    assert not missing, missing


def test_spec_files_reference_the_schema():
    assert SPECS
    for path in SPECS:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = (path.parent / first.split("$schema=", 1)[1]).resolve()
        assert target == (ROOT / "schemas" / SCHEMA_FILE).resolve(), path
