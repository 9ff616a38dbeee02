"""Differences between two specs (or any two nested documents): the dotted paths whose values differ."""

from __future__ import annotations

from typing import Any

MISSING = "<absent>"
"""Shown for a path one side does not have."""


def flatten(doc: Any, prefix: str = "") -> dict[str, Any]:
    """{dotted path: leaf value} of nested mappings and lists (list items as `path[i]`, as `--set` writes
    them)."""
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        for key, value in doc.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out or {prefix: {}}
    if isinstance(doc, list) and doc and all(isinstance(v, dict) for v in doc):
        out = {}
        for i, value in enumerate(doc):
            out.update(flatten(value, f"{prefix}[{i}]"))
        return out
    return {prefix: doc}


def differences(a: Any, b: Any) -> list[tuple[str, Any, Any]]:
    """(path, value in a, value in b) for every path whose values differ, in a's order then b's;
    `MISSING` where one side lacks the path."""
    fa, fb = flatten(a), flatten(b)
    paths = list(fa) + [p for p in fb if p not in fa]
    return [(p, fa.get(p, MISSING), fb.get(p, MISSING)) for p in paths if fa.get(p, MISSING) != fb.get(p, MISSING)]
