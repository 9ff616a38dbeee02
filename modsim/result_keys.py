"""How the analysis plan's results are named where they are stored: this module builds a result's key and
reads one back, for the plan runner that writes them, the store that picks their dtype and the summaries that
list them.

- A community detection labelled `L` stores `L_nmi`, `L_ari`, `L_count`, `L_q` and its partition
  `L_partition`.
- An induced modularity labelled `L` (`induced_q[_signed]_<matrix>`) stores its Q as `L` itself, and `L_p`,
  `L_null_mean`, `L_null_sd`.
- `modsim analyze` stores each dynamics result `N` as `dynamics_N`.
- Partitions, the dynamics' module and trial labels and `step` are integers; every other result is a float.
- A value that may be unreliable `V` (MINE's held-out estimate `mi`, `mi_<i>`) has a 0/1 flag `V_diverged` beside
  it: 1 leaves `V` out of every mean over runs (`modsim summarize`, sweep reports) and marks it in run summaries.

Imports nothing of modsim, so every layer may use it.
"""

from __future__ import annotations

from dataclasses import dataclass

SEPARATOR = "_"
"""Between a result's label and its part."""
NMI, ARI, COUNT, Q, PARTITION = "nmi", "ari", "count", "q", "partition"
"""A community detection's parts: NMI and ARI against the groups, community count, modularity, partition."""
COMMUNITY_PARTS = (NMI, ARI, COUNT, Q, PARTITION)
"""Every part a community detection stores."""
P_VALUE, NULL_MEAN, NULL_SD = "p", "null_mean", "null_sd"
"""An induced modularity's parts besides its Q: the permutation p-value and the null's mean and sd."""
INDUCED_PARTS = (P_VALUE, NULL_MEAN, NULL_SD)
"""Every part an induced modularity stores besides its Q (stored under its bare label)."""
INDUCED_PREFIX = "induced_q"
"""How every induced modularity's label starts."""
HEADLINE_PARTS = (NMI, COUNT)
"""The parts of a community detection that run summaries list."""
DYNAMICS_PREFIX = "dynamics" + SEPARATOR
"""How `modsim analyze` prefixes a dynamics result."""
INTEGER_DYNAMICS = ("modules", "trial_types", "chunk_task")
"""Dynamics results that are labels (integers)."""
STEP = "step"
"""The checkpoint step every result is stored over (an integer)."""

_PARTS = tuple(sorted(COMMUNITY_PARTS + INDUCED_PARTS, key=len, reverse=True))
"""Every part, longest first, so a part that ends another is tried after it."""


@dataclass(frozen=True)
class ResultKey:
    """A plan result's stored key, taken apart."""

    label: str
    """The community detection's or induced modularity's label."""
    part: str | None = None
    """Which of its results (`COMMUNITY_PARTS`, `INDUCED_PARTS`); None for an induced modularity's Q."""

    @property
    def key(self) -> str:
        """The stored key: `<label>_<part>`, or the bare label."""
        return self.label if self.part is None else f"{self.label}{SEPARATOR}{self.part}"


def result_key(label: str, part: str | None = None) -> str:
    """The stored key of result `part` of the analysis labelled `label` (None: an induced modularity's Q);
    ValueError for a part no analysis stores."""
    if part is not None and part not in _PARTS:
        raise ValueError(f"unknown result part {part!r}; known: {sorted(_PARTS)}")
    return ResultKey(label, part).key


def parse_result_key(key: str) -> ResultKey | None:
    """The label and part of a plan result's stored key; None for a key no community detection or induced
    modularity stores (a metric's, a loss term's)."""
    for part in _PARTS:
        suffix = SEPARATOR + part
        if key.endswith(suffix) and len(key) > len(suffix):
            return ResultKey(key[:-len(suffix)], part)
    if key.startswith(INDUCED_PREFIX):
        return ResultKey(key)
    return None


def is_detection(key: str) -> bool:
    """Whether a stored key is a headline number of a community detection (NMI, count) or of an induced
    modularity (Q, p-value): what run summaries list of the plan's results."""
    parsed = parse_result_key(key)
    if parsed is None:
        return False
    if parsed.label.startswith(INDUCED_PREFIX):
        return parsed.part in (None, P_VALUE)
    return parsed.part in HEADLINE_PARTS


def dynamics_key(name: str) -> str:
    """The key `modsim analyze` stores dynamics result `name` under."""
    return DYNAMICS_PREFIX + name


def dynamics_name(key: str) -> str | None:
    """The dynamics result a stored analysis key holds; None for any other key."""
    return key[len(DYNAMICS_PREFIX):] if key.startswith(DYNAMICS_PREFIX) else None


def is_integer(key: str) -> bool:
    """Whether a stored analysis result holds integers (the step, partitions, the dynamics' labels)."""
    if key == STEP or dynamics_name(key) in INTEGER_DYNAMICS:
        return True
    parsed = parse_result_key(key)
    return parsed is not None and parsed.part == PARTITION


FLAG_SUFFIX = "_diverged"
"""How the 0/1 flag of a value that may be unreliable is named: `<value>_diverged`."""


def flag_key(value: str) -> str:
    """The key of the 0/1 flag that marks the stored value `value` as unreliable (`mi` -> `mi_diverged`)."""
    return value + FLAG_SUFFIX


def flagged_value(key: str) -> str | None:
    """The value a stored 0/1 flag marks (`mi_diverged` -> `mi`); None for a key that is not a flag."""
    return key[:-len(FLAG_SUFFIX)] if key.endswith(FLAG_SUFFIX) and len(key) > len(FLAG_SUFFIX) else None


def is_flagged(values: dict, key: str) -> bool:
    """Whether `values` (a run's final metrics, or one checkpoint's) flag its value `key` as unreliable: its flag
    is present and above 0 (a NaN flag, no verdict, flags nothing)."""
    flag = values.get(flag_key(key))
    try:
        return flag is not None and float(flag) > 0
    except (TypeError, ValueError):
        return False


DYNAMICS_LABELS = (
    ("evidence_r_max", "module-evidence r (max)"), ("evidence_r_min", "module-evidence r (min)"),
    ("lesion_stim1_module_drop_own", "stim-1 module lesion: drop on stim-1 trials (points)"),
    ("lesion_stim1_module_drop_other", "stim-1 module lesion: drop on stim-2 trials (points)"),
    ("lesion_stim2_module_drop_own", "stim-2 module lesion: drop on stim-2 trials (points)"),
    ("lesion_stim2_module_drop_other", "stim-2 module lesion: drop on stim-1 trials (points)"),
    ("lesion_double_dissociation", "double dissociation by output lesions (0/1)"),
    ("module_reconstruction_r", "module-mean reconstruction (r)"),
    ("pca_reconstruction_r", "PCA reconstruction, as many PCs (r)"),
    ("jacobian_corr_r", "Jacobian-row similarity vs corr (r)"),
    ("fixed_point_jacobian_corr_r", "same at fixed points (r)"),
    ("lesion_similarity_corr_r", "lesion similarity vs corr (r)"),
    ("input_partition_q", "input-sign partition: induced Q on corr"),
    ("input_partition_p", "input-sign partition: permutation p"),
    ("task_identification_accuracy", "task identified from partitions"))
"""Scalar results of the dynamics analyses, with their labels, in the order summaries list them."""
