"""The command line's tables show every number under its human label, never its stored key, from the one
labelling (`modsim.labels`) that the report uses too; the labelling is plain text (no report, no matplotlib)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from modsim.cli.common import console
from modsim.cli.run import print_summary
from modsim.labels import label
from modsim.train import RunResult

METRICS = {"r2": 0.5, "r2_per_output": np.array([0.4, 0.6]), "mse": 0.02, "mi": 0.1, "mi_diverged": 0.0,
           "q_cor": 0.2, "q_str": 0.1, "d_cor": 0.3, "silenced": 0.0, "dependence_audit": 1.2,
           "fastgreedy_activity_corr_nmi": 0.31, "fastgreedy_activity_corr_count": 2.0,
           "fastgreedy_activity_corr_ari": 0.2, "leiden_signed_recurrent_nmi": 0.12,
           "leiden_signed_recurrent_count": 3.0, "induced_q_activity_corr": 0.21, "induced_q_activity_corr_p": 0.04,
           "induced_q_activity_corr_null_mean": 0.01}
"""A run's final metrics: registered metrics, a flag, community detections and an induced modularity."""


def _summary_rows(metrics: dict, outputs: list[str]) -> list[tuple[str, str]]:
    """(first cell, value cell) of every row of the summary table `modsim run` prints."""
    with console.capture() as captured:
        print_summary(RunResult("store/x", 10, 1.0, metrics, outputs))
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in captured.get().splitlines()]
    return [(cells[0], cells[1]) for cells in rows if len(cells) == 2]


def test_the_run_summary_shows_every_row_under_its_label_never_its_key():
    rows = dict(_summary_rows(METRICS, ["lorenz_x", "rossler_x"]))
    assert not set(rows) & set(METRICS)  # no row is named by a stored key
    assert {"R2 lorenz_x", "R2 rossler_x", "R2 mean", "Q_cor", "dependence audit (nats, KSG)"} <= set(rows)
    shown = {"fastgreedy_activity_corr_nmi", "fastgreedy_activity_corr_count", "leiden_signed_recurrent_nmi",
             "leiden_signed_recurrent_count", "induced_q_activity_corr", "induced_q_activity_corr_p"}
    for key in shown:  # the plan's headline results, as the report names them
        assert float(rows[label(key)]) == METRICS[key], key
    assert rows["fast-greedy communities (activity correlation): NMI with the groups"] == "0.3100"
    assert rows["Leiden signed communities (recurrent weights): communities found"] == "3"
    assert rows["induced Q of the groups (activity correlation): permutation p"] == "0.0400"
    hidden = {"fastgreedy_activity_corr_ari", "induced_q_activity_corr_null_mean"}  # not headline numbers
    assert not {label(key) for key in hidden} & set(rows)


def test_the_command_line_and_the_report_share_one_labelling():
    import modsim.labels
    import modsim.report.labels
    import modsim.store.describe

    assert modsim.report.labels.label is modsim.labels.label
    assert modsim.report.labels.registered_labels is modsim.labels.registered_labels
    assert modsim.store.describe.registered_labels is modsim.labels.registered_labels
    assert modsim.store.describe.result_long_name("q_cor") == label("q_cor") == "Q_cor"


def test_the_labelling_imports_neither_the_report_nor_matplotlib():
    code = ("import sys, modsim.labels; "
            "assert not [m for m in sys.modules if m == 'matplotlib' or m.startswith('modsim.report')], "
            "sorted(m for m in sys.modules if m.startswith(('matplotlib', 'modsim.report')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
