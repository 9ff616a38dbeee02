"""The human label of every stored key a report shows: figure titles, axes, legends and table headers use
`label(key)`, never the key itself (the key stays in the page as a table cell's tooltip, where a person
looking for it in the store finds it).

The labelling itself is `modsim.labels` (plain text, one definition for the report and the command line);
this module gives the report's figures its names."""

from __future__ import annotations

from ..labels import (ALGORITHM_LABELS, MATRIX_LABELS, OTHER_LABELS, PART_LABELS, PER_GROUP, RISE_PREFIX,
                      analysis_label, label, registered_labels, spaced)

__all__ = ["ALGORITHM_LABELS", "MATRIX_LABELS", "OTHER_LABELS", "PART_LABELS", "PER_GROUP", "RISE_PREFIX",
           "analysis_label", "label", "registered_labels", "spaced"]
