"""JSON Schema of the spec, exported from the pydantic models."""

from __future__ import annotations

import json
from pathlib import Path

from . import registry
from .spec import Spec

SCHEMA_FILE = "spec.schema.json"


def spec_schema() -> dict:
    """The JSON Schema (draft 2020-12) of a modsim spec, with every registered kind (installed plugins too)."""
    registry.load_plugins()
    schema = Spec.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://modsim.dev/schemas/spec.schema.json"
    return schema


def schema_text() -> str:
    """Canonical text of the schema file (stable key order, trailing newline)."""
    return json.dumps(spec_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schema(directory: str | Path) -> Path:
    """Write `spec.schema.json` into `directory`; return its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / SCHEMA_FILE
    path.write_text(schema_text(), encoding="utf-8")
    return path
