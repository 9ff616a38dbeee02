"""The dependence audit: one yardstick of the dependence between a network's groups that no penalty trains
against, recorded at every checkpoint of every run with two or more groups (`dependence_audit`, nats).

The KSG k-nearest-neighbour estimator (`modsim.analysis.ksg`, estimator 1, k = 3, max norm) of the mutual
information between the groups (K = 2) or of their total correlation (K >= 3), each group's units one joint
variable, on held-out activity after the washout: a fixed subsample of at most 2000 (trial, time) rows drawn
with a constant seed (nothing run-specific), every unit z-scored (constant units left at 0). Re-analysing a
run gives the same number. Where the activity repeats rows exactly (a network resting at a fixed point in
float32), a row can have k identical copies and no radius; only then a seeded jitter of sd 1e-10 (in units
of each unit's sd) is added to every entry, once.

The estimate is biased low in many dimensions (measured against known answers in benchmarks/README.md,
"Dependence estimators: known answers"): compare runs of the same shapes on it, not absolute values.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .ksg import ksg_total_correlation
from .metrics import Metric, PlanContext, Values
from .snapshot import Snapshot

AUDIT_K = 3
"""Neighbours of the KSG estimator."""
AUDIT_ROWS = 2000
"""Most (trial, time) rows the audit uses; more are subsampled."""
AUDIT_SEED = 0
"""Seed of the row subsample and of the jitter: a constant, so every analysis of a run draws the same rows."""
AUDIT_JITTER = 1e-10
"""Sd of the jitter added only when repeated rows leave a row without a radius (z-scored units)."""


def standardised(x: np.ndarray) -> np.ndarray:
    """Columns of `x` (rows, dims) z-scored; a constant column becomes 0."""
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def audit_rows(rows: int, limit: int = AUDIT_ROWS, seed: int = AUDIT_SEED) -> np.ndarray:
    """Indices (sorted) of the rows the audit uses out of `rows`: all of them, or `limit` drawn without
    replacement with the constant seed."""
    if rows <= limit:
        return np.arange(rows)
    return np.sort(np.random.default_rng(seed).choice(rows, size=limit, replace=False))


def audited_dependence(blocks: Sequence[np.ndarray], k: int = AUDIT_K, seed: int = AUDIT_SEED) -> float:
    """The audit's estimate (nats) on the rows given: KSG mutual information (two blocks) or total correlation
    (three or more) of the z-scored blocks; jittered once (seeded) only where repeated rows leave no radius.

    Args:
        blocks: One (rows, dims) array per group, the same rows in each.
        k: Neighbours of the KSG estimator.
        seed: Seed of the jitter.

    Returns:
        The estimate; NaN with k rows or fewer.
    """
    z = [standardised(np.asarray(b, dtype=np.float64)) for b in blocks]
    value = ksg_total_correlation(z, k)
    if np.isnan(value) and z[0].shape[0] > k:  # a zero radius: rows repeated more than k times
        rng = np.random.default_rng(seed)
        value = ksg_total_correlation([b + rng.normal(0.0, AUDIT_JITTER, b.shape) for b in z], k)
    return value


def activity_dependence(activity: np.ndarray, labels: np.ndarray, groups: int) -> float:
    """The audit of (trials, time, units) held-out activity (washout removed) whose unit u belongs to group
    `labels[u]` of `groups`: a fixed subsample of its (trial, time) rows, each group one joint variable."""
    flat = activity.reshape(-1, activity.shape[-1])
    flat = flat[audit_rows(flat.shape[0])]
    return audited_dependence([flat[:, labels == g] for g in range(groups)])


def _dependence_audit(snap: Snapshot, ctx: PlanContext) -> Values:
    return {"dependence_audit": activity_dependence(snap.activity, snap.labels, len(snap.group_names))}


dependence_audit = Metric("dependence_audit", _dependence_audit, "dependence audit (nats, KSG)",
                          frozenset({"two_groups"}), key=True, always=True)
"""The dependence audit as a registered metric, recorded for every run with two or more groups."""
