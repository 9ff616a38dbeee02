"""`modsim diff`: what differs between two runs, in their specs and in their final metrics."""

from __future__ import annotations

import click
from rich.table import Table

from .common import console, fmt, user_errors


@click.command()
@click.argument("run_a", type=click.Path(file_okay=False, exists=True))
@click.argument("run_b", type=click.Path(file_okay=False, exists=True))
@click.option("--all", "show_all", is_flag=True, help="Also list the final metrics that are equal.")
@user_errors
def diff(run_a: str, run_b: str, show_all: bool) -> None:
    """Compare two runs: the spec fields whose values differ (dotted paths, as --set takes them), then every
    final metric of either run with both values and b - a."""
    import numpy as np

    from ..analysis.summary import labelled_keys
    from ..labels import label, registered_labels
    from ..spec.diff import MISSING, differences
    from ..store import read_run

    a, b = read_run(run_a), read_run(run_b)
    changed = [d for d in differences(a.spec_json, b.spec_json) if d[0] not in ("name", "description")]
    specs = Table(title=f"spec: {len(changed)} field(s) differ")
    for col in ("field", run_a, run_b):
        specs.add_column(col, overflow="fold")
    for path, va, vb in changed:
        specs.add_row(path, _show(va, MISSING), _show(vb, MISSING))
    console.print(specs)

    sa, sb = a.summary, b.summary
    labels, known = dict(labelled_keys()), registered_labels()
    keys = [k for k in labels if k in sa or k in sb] + sorted((set(sa) | set(sb)) - set(labels))
    metrics = Table(title="final metrics")
    for col in ("metric", run_a, run_b, "b - a"):
        metrics.add_column(col)
    for key in keys:
        va, vb = sa.get(key), sb.get(key)
        if not all(v is None or np.ndim(v) == 0 for v in (va, vb)):
            continue
        same = va == vb or (va is not None and vb is not None and va != va and vb != vb)
        if same and not show_all:
            continue
        delta = fmt(vb - va) if va is not None and vb is not None else ""
        metrics.add_row(label(key, known), fmt(va), fmt(vb), delta)
    console.print(metrics)


def _show(value, missing: str) -> str:
    """A spec value as one line."""
    return missing if value is missing else repr(value) if isinstance(value, str) else str(value)
