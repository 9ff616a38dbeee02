"""The human label of every stored key a report shows: figure titles, axes, legends and table headers use
`label(key)`, never the key itself (the key stays in the page as a table cell's tooltip, where a person
looking for it in the store finds it).

One definition: a registered metric's label (`Metric.label`, `Metric.shown`) and the dynamics labels
(`DYNAMICS_LABELS`), as run summaries list them; the keys derived from them (a value's `_diverged` flag, a
rise step `t50_<metric>`, a group's `activity_sd_<group>` / `silenced_<group>`, `modsim analyze`'s
`dynamics_<name>`) and the results of the plan's community detections and induced modularities
(`<label>_nmi`, ...) are named after them here."""

from __future__ import annotations

import re

from ..result_keys import (ARI, COUNT, INDUCED_PREFIX, NMI, NULL_MEAN, NULL_SD, P_VALUE, PARTITION, Q, SEPARATOR,
                           dynamics_name, flagged_value, parse_result_key)

PART_LABELS = {NMI: "NMI with the groups", ARI: "ARI with the groups", COUNT: "communities found",
               Q: "modularity Q", PARTITION: "partition", P_VALUE: "permutation p", NULL_MEAN: "null mean",
               NULL_SD: "null sd"}
"""What each part of a community detection or induced modularity holds."""
MATRIX_LABELS = {"activity_corr": "activity correlation", "recurrent": "recurrent weights",
                 "input_similarity": "input-weight similarity", "readout_similarity": "readout-weight similarity"}
"""The unit-by-unit matrices a partition analysis runs on (`analysis.communities[].on`)."""
ALGORITHM_LABELS = {"leiden": "Leiden", "louvain": "Louvain", "fastgreedy": "fast-greedy"}
"""Community detection algorithms (`analysis.communities[].algorithm`)."""
OTHER_LABELS = {"seconds": "wall time (s)", "steps": "training steps", "step": "training step",
                "r2_per_output": "R2 per output"}
"""Stored keys that no metric registers."""
PER_GROUP = (("activity_sd_", "activity sd of {}"), ("silenced_", "{} silenced (0/1)"))
"""Per-group keys (`<prefix><group>`) and their labels."""
RISE_PREFIX = "t50_"
"""Sweep statistics' rise step of a metric's time course (`modsim.analysis.timecourse.rise_steps`)."""


def registered_labels() -> dict[str, str]:
    """Stored key -> label of every registered metric's values and of the dynamics results (the store's one
    table, `modsim.store.describe.result_labels`)."""
    from ..store.describe import result_labels

    return result_labels()


def label(key: str, known: dict[str, str] | None = None) -> str:
    """The human label of stored key `key` (`q_cor` -> `Q_cor`, `fastgreedy_activity_corr_nmi` ->
    `fast-greedy communities (activity correlation): NMI with the groups`); a key nothing names is written
    with spaces for underscores. `known`: `registered_labels()`, when the caller already has it."""
    known = registered_labels() if known is None else known
    if key in known:
        return known[key]
    if key in OTHER_LABELS:
        return OTHER_LABELS[key]
    value = flagged_value(key)
    if value is not None:
        return f"{label(value, known)}: flagged (critic diverged)"
    if key.startswith(RISE_PREFIX) and len(key) > len(RISE_PREFIX):
        return f"rise step of {label(key[len(RISE_PREFIX):], known)} (t50)"
    name = dynamics_name(key)
    if name:
        return label(name, known)
    more = re.fullmatch(r"mi_(\d+)", key)
    if more:
        return f"MI estimate {more.group(1)} (nats)"
    for prefix, text in PER_GROUP:
        if key.startswith(prefix) and len(key) > len(prefix):
            return text.format(key[len(prefix):])
    parsed = parse_result_key(key)
    if parsed is not None:
        analysis = analysis_label(parsed.label)
        return analysis if parsed.part is None else f"{analysis}: {PART_LABELS.get(parsed.part, parsed.part)}"
    return spaced(key)


def spaced(key: str) -> str:
    """A stored key with spaces for its separators (`activity_corr` -> `activity corr`)."""
    return " ".join(key.split(SEPARATOR))


def analysis_label(prefix: str) -> str:
    """The label of a community detection or induced modularity from the prefix its results are stored
    under (`CommunityDetection.label`, `InducedModularity.label`): `fastgreedy_activity_corr` ->
    `fast-greedy communities (activity correlation)`; a user's own `name` with spaces for underscores."""
    if prefix.startswith(INDUCED_PREFIX):
        rest = prefix[len(INDUCED_PREFIX):].lstrip(SEPARATOR)
        signed = rest.startswith("signed" + SEPARATOR)
        matrix = rest.removeprefix("signed" + SEPARATOR)
        return (f"induced {'signed ' if signed else ''}Q of the groups "
                f"({MATRIX_LABELS.get(matrix, spaced(matrix))})")
    for algorithm, name in ALGORITHM_LABELS.items():
        for signed in (True, False):
            head = algorithm + (SEPARATOR + "signed" if signed else "") + SEPARATOR
            matrix = prefix[len(head):]
            if prefix.startswith(head) and matrix in MATRIX_LABELS:
                return f"{name}{' signed' if signed else ''} communities ({MATRIX_LABELS[matrix]})"
    return spaced(prefix)
