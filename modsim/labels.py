"""The human label of every stored key that modsim shows a person: the report's figure titles, axes, legends and
table headers, the run summary of `modsim run`, the metric curves of `modsim watch` (its training curves carry
the train arrays' `long_name`s), the tables of `modsim diff`, `modsim summarize` and `modsim ls` use
`label(key)`, never the key itself (the report keeps the key as a table cell's tooltip, where a person looking
for it in the store finds it).

One definition: a registered metric's label (`Metric.label`, `Metric.summary`) and the dynamics labels
(`DYNAMICS_LABELS`), as run summaries list them (`registered_labels`, the one table that the store's array
`long_name`s start from too: `modsim.store.describe`); the keys derived from them (a value's `_diverged` flag, a
rise step `t50_<metric>`, a group's `activity_sd_<group>` / `silenced_<group>`, `modsim analyze`'s
`dynamics_<name>`) and the results of the plan's community detections and induced modularities (`<label>_nmi`,
...) are named after them here.

Plain text from the metric registry and `modsim.result_keys`: imports neither matplotlib nor torch nor the store,
so the command line and every layer that may read the registry can use it (`modsim.report.labels` re-exports it).
"""

from __future__ import annotations

import re
from functools import lru_cache

from . import registry
from .result_keys import (ARI, COUNT, DYNAMICS_LABELS, INDUCED_PREFIX, NMI, NULL_MEAN, NULL_SD, P_VALUE, PARTITION,
                          Q, SEPARATOR, dynamics_name, flagged_value, parse_result_key)

PART_LABELS = {NMI: "NMI with the groups", ARI: "ARI with the groups", COUNT: "communities found",
               Q: "modularity Q", PARTITION: "partition", P_VALUE: "permutation p", NULL_MEAN: "null mean",
               NULL_SD: "null sd"}
"""What each part of a community detection or induced modularity holds."""
MATRIX_LABELS = {"activity_corr": "activity correlation", "recurrent": "recurrent weights",
                 "input_similarity": "input-weight similarity", "readout_similarity": "readout-weight similarity"}
"""The unit-by-unit matrices a partition analysis runs on (`analysis.communities[].on`)."""
ALGORITHM_LABELS = {"leiden": "Leiden", "louvain": "Louvain", "fastgreedy": "fast-greedy"}
"""Community detection algorithms (`analysis.communities[].algorithm`)."""
RESULT_LABELS = {"r2_per_output": "R2 per output"}
"""Stored results that no summary lists under a label of their own."""
OTHER_LABELS = {"seconds": "wall time (s)", "steps": "training steps", "step": "training step"}
"""Stored keys that no metric registers and that are no result."""
PER_GROUP = (("activity_sd_", "activity sd of {}"), ("silenced_", "{} silenced (0/1)"))
"""Per-group keys (`<prefix><group>`) and their labels."""
RISE_PREFIX = "t50_"
"""Sweep statistics' rise step of a metric's time course (`modsim.analysis.timecourse.rise_steps`)."""


@lru_cache(maxsize=1)
def metric_labels() -> dict[str, str]:
    """Label of every key a registered metric lists in run summaries (the metric registry's, plugins' included;
    read again when the registry changes)."""
    return {key: text for metric in registry.metrics for key, text in metric.summary}


registry.on_change(metric_labels.cache_clear)


def registered_labels() -> dict[str, str]:
    """Stored key -> label of every result a summary lists: the registered metrics' keys (each metric's own name
    included), `r2_per_output`, then the dynamics analyses' scalars. The one table of labels that arrays'
    `long_name`s (`modsim.store.describe`) and `label` both start from."""
    return {**{metric.name: metric.label for metric in registry.metrics}, **metric_labels(), **RESULT_LABELS,
            **dict(DYNAMICS_LABELS)}


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
