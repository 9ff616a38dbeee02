"""The 8-seed table of the excitatory/inhibitory working-memory pair (issue 30): `ei_wm_mi` against its control
`ei_wm_nomi`, from their sweep stores, with the E/I structural metrics computed on each run's final stored
recurrent matrix (`weights/recurrent`) by the registered metrics' own functions.

    modsim sweep specs/ei_wm_mi.yaml --jobs 2 && modsim sweep specs/ei_wm_nomi.yaml --jobs 2
    python benchmarks/ei_table.py store/ei_wm_mi-sweep store/ei_wm_nomi-sweep

It prints the table of docs/results.md ("Excitatory and inhibitory networks"): mean +- sd per condition, the
held-out MI without the estimates flagged `mi_diverged` (their count in brackets when any is left out), and
Welch's p of the MI runs against the control. Two more sweep stores, the same pair without Dale's law
(`--set network.dale=null`, the E/I metrics left out of the plan), add their rows, their own p and the p of
the MI runs with Dale's law against those without:

    python benchmarks/ei_table.py MI CONTROL [MI_WITHOUT_DALE CONTROL_WITHOUT_DALE]
"""

from __future__ import annotations

import sys

import numpy as np
from scipy import stats

import modsim
from modsim.analysis.excitation import block_strengths, population_q_str
from modsim.compile.masks import group_labels

COLUMNS = {"sign_accuracy": "sign accuracy", "mse": "MSE", "d_cor": "D_cor", "q_cor": "Q_cor", "q_str": "Q_str",
           "q_str_excitatory": "Q_str of E", "q_str_inhibitory": "Q_str of I",
           "ei_e_to_e_between": "E->E between groups", "ei_i_to_e_between": "I->E between groups",
           "mi": "held-out MI (nats)", "dependence_audit": "audit (nats, KSG)"}
"""The table's columns (summary keys) and their headers, in order; success and silenced frame them."""


def rows(path: str) -> list[dict]:
    """Each finished run's final summary plus, under Dale's law, the E/I metrics of its final recurrent matrix
    (computed by the registered metrics' own functions: runs trained before those metrics existed lack them)."""
    out = []
    for run in modsim.open_sweep(path).finished():
        summary = dict(run.record.summary)
        network = run.spec.network
        if network.unit_signs() is not None:
            signs, labels = np.asarray(network.unit_signs()), group_labels(network)
            w = np.asarray(run.group["weights/recurrent"][...], dtype=np.float64)
            summary["q_str_excitatory"] = population_q_str(w, signs, labels, 1)
            summary["q_str_inhibitory"] = population_q_str(w, signs, labels, -1)
            summary.update(block_strengths(w, signs, labels))
        if summary.get("mi_diverged"):
            summary["mi"] = float("nan")
        summary["seed"] = run.spec.training.seed
        out.append(summary)
    return out


def fmt(values: list[float], runs: int) -> str:
    """Mean +- sd of the finite values, with their count in brackets when some runs are left out."""
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    text = "-" if v.size == 0 else f"{v.mean():.3g} +- {v.std(ddof=1):.2g}" if v.size > 1 else f"{v[0]:.3g}"
    return text + (f" ({v.size})" if 0 < v.size < runs else "")


def welch(a: list[dict], b: list[dict], key: str) -> str:
    x = [r[key] for r in a if np.isfinite(r.get(key, np.nan))]
    y = [r[key] for r in b if np.isfinite(r.get(key, np.nan))]
    return f"{stats.ttest_ind(x, y, equal_var=False).pvalue:.2g}" if len(x) > 1 and len(y) > 1 else ""


def main(paths: list[str]) -> None:
    conditions = [(modsim.open_sweep(p).path.name.removesuffix("-sweep"), rows(p)) for p in paths]
    print("| | success | " + " | ".join(COLUMNS.values()) + " | silenced |")
    print("|---" * (len(COLUMNS) + 3) + "|")
    for k in range(0, len(conditions), 2):
        for name, rs in conditions[k:k + 2]:
            print(f"| `{name}` | {int(sum(r.get('success', 0) for r in rs))}/{len(rs)} | "
                  + " | ".join(fmt([r.get(c, np.nan) for r in rs], len(rs)) for c in COLUMNS)
                  + f" | {int(sum(r.get('silenced', 0) > 0 for r in rs))} |")
        if len(conditions[k:k + 2]) == 2:
            (_, mi), (_, control) = conditions[k:k + 2]
            print("| Welch p | | " + " | ".join(welch(mi, control, c) for c in COLUMNS) + " | |")
    if len(conditions) == 4:  # the penalised runs with Dale's law against those without
        (a, mi), (b, other) = conditions[0], conditions[2]
        print(f"| p, `{a}` against `{b}` | | " + " | ".join(welch(mi, other, c) for c in COLUMNS) + " | |")
    for name, rs in conditions:
        print(f"\nper seed, {name} (D_cor, Q_cor, sign accuracy): "
              + "; ".join(f"{r['seed']} {r['d_cor']:.3f}, {r['q_cor']:.3f}, {r['sign_accuracy']:.3f}" for r in rs))


if __name__ == "__main__":
    main(sys.argv[1:])
