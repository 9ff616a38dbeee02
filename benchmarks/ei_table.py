"""The 8-seed table of the excitatory/inhibitory working-memory pair (issue 30): `ei_wm_mi` against its control
`ei_wm_nomi`, from their sweep stores, with the E/I structural metrics computed on each run's final stored
recurrent matrix (`weights/recurrent`) by the registered metrics' own functions.

    modsim sweep specs/ei_wm_mi.yaml --jobs 2 && modsim sweep specs/ei_wm_nomi.yaml --jobs 2
    python benchmarks/ei_table.py store/ei_wm_mi-sweep store/ei_wm_nomi-sweep
"""

from __future__ import annotations

import sys

import numpy as np
from scipy import stats

import modsim
from modsim.analysis.excitation import block_strengths, population_q_str
from modsim.compile.masks import group_labels

COLUMNS = ["sign_accuracy", "mse", "q_cor", "q_str", "d_cor", "d_in", "d_out", "mi", "dependence_audit",
           "q_str_excitatory", "q_str_inhibitory", "ei_e_to_e_between", "ei_i_to_e_between"]


def rows(path: str) -> list[dict]:
    """Each finished run's final summary plus the E/I metrics of its final recurrent matrix."""
    out = []
    for run in modsim.open_sweep(path).finished():
        summary = dict(run.record.summary)
        network = run.spec.network
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


def fmt(values: list[float]) -> str:
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    return "-" if v.size == 0 else f"{v.mean():.3g} +- {v.std(ddof=1):.2g}" if v.size > 1 else f"{v[0]:.3g}"


def main(mi_path: str, control_path: str) -> None:
    mi, control = rows(mi_path), rows(control_path)
    print("| condition | n | success | silenced | " + " | ".join(COLUMNS) + " |")
    print("|---" * (4 + len(COLUMNS)) + "|")
    for name, rs in (("ei_wm_mi", mi), ("ei_wm_nomi", control)):
        print(f"| `{name}` | {len(rs)} | {int(sum(r.get('success', 0) for r in rs))}/{len(rs)} | "
              f"{int(sum(r.get('silenced', 0) > 0 for r in rs))} | "
              + " | ".join(fmt([r.get(c, float('nan')) for r in rs]) for c in COLUMNS) + " |")
    ps = []
    for c in COLUMNS:
        a = [r.get(c, np.nan) for r in mi]
        b = [r.get(c, np.nan) for r in control]
        a, b = [x for x in a if np.isfinite(x)], [x for x in b if np.isfinite(x)]
        ps.append(f"{stats.ttest_ind(a, b, equal_var=False).pvalue:.2g}" if len(a) > 1 and len(b) > 1 else "-")
    print("| Welch p | | | | " + " | ".join(ps) + " |")
    print()
    print("per seed (MI run): " + "; ".join(f"{r['seed']}: D_cor {r['d_cor']:.3f}, Q_cor {r['q_cor']:.3f}, "
                                           f"sign acc {r['sign_accuracy']:.3f}" for r in mi))
    print("per seed (control): " + "; ".join(f"{r['seed']}: D_cor {r['d_cor']:.3f}, Q_cor {r['q_cor']:.3f}, "
                                             f"sign acc {r['sign_accuracy']:.3f}" for r in control))


if __name__ == "__main__":
    main(*sys.argv[1:3])
