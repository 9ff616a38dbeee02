"""The comparison of dependence penalties on the papers' quick experiments (issue 27, item 4).

Every penalty replaces the spec's `mine` constraint (constraints[0]); the spec's `l2` and `engagement` terms stay,
so the only difference between conditions is the dependence penalty. The control replaces it by a zero-weight
`l2` (no penalty at all). Each condition is one sweep store `STORE/<experiment>-<penalty>-w<weight>`, trained
with `modsim sweep ... --jobs 2` (one torch thread per run), so every run can be opened, reported and resumed as
usual; re-running a stage resumes what is missing.

    python benchmarks/compare_penalties.py weights --store /work/cmp      # stage 1: 2 seeds x 3 weights
    python benchmarks/compare_penalties.py seeds --store /work/cmp        # stage 2: 8 seeds at the chosen weight
    python benchmarks/compare_penalties.py table --store /work/cmp        # the markdown tables

The weight of each penalty is chosen on `wm_leaky_mi` (stage 1, seeds 1001-1002): the largest mean D_cor among
the weights whose mean sign accuracy is within 0.05 of the control's and which silence no group; that weight is
then used for every seed and every experiment.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = {
    "wm": ("specs/wm_leaky_mi.yaml", ["g1", "g2"], "sign_accuracy",
           "[sign_accuracy, mse, q_cor, q_str, d_cor, d_in, d_out, activity_sd, silenced]"),
    "ff3": ("specs/flipflop3_mi.yaml", ["g1", "g2", "g3"], "sign_accuracy",
            "[sign_accuracy, mse, q_cor, q_str, d_cor, d_in, d_out, activity_sd, silenced]"),
    "gru": ("specs/gru_lorenz_rossler.yaml", ["g1", "g2"], "r2",
            "[r2, mse, q_cor, q_str, d_out, d_cor, activity_sd, silenced]"),
}
WEIGHTS = {"hsic": [0.1, 1.0, 10.0], "decorrelation": [0.1, 1.0, 10.0], "club": [0.01, 0.1, 1.0]}
"""Stage 1's candidate weights: HSIC and the mean squared correlation lie in [0, 1], CLUB is in nats like MINE."""
CHOICE_SEEDS = [1001, 1002]
SEEDS = {"wm": list(range(1001, 1009)), "ff3": list(range(2001, 2009)), "gru": list(range(625, 633))}
"""The seeds of the README's MINE + engagement runs (benchmarks/mi_reliability.md), so that every penalty meets
MINE on the same seeds."""
MORE_SEEDS = list(range(1009, 1017))
"""The 16-seed check of silencing for the candidate default on wm_leaky_mi."""
RECORDED = {"wm": ["wm_eng_r0"], "ff3": ["ff3_eng_r0", "ff3_eng_r0_b"], "gru": ["gru_1600"]}
"""MINE + engagement (the shipped specs) per seed, as recorded in benchmarks/mi_reliability.md: training is
deterministic at a fixed thread count, so those runs are not trained again; `seeds` re-trains the first seed
of each experiment (`mine_check` stores) to check that it reproduces them and to give the audit and seconds."""
RECORDED_CONTROL = {"gru": ["gru_1600_ctl"]}
"""The GRU control as recorded (MINE at weight 0, monitoring only): a critic-free GRU control is not re-trained."""


SWEEP_SUFFIXES = ("", "_more", "_check", "_16")
"""The sweep stores of one condition: its seeds, more seeds, MINE's re-run check, the 16-seed check (and
`_seeds<a>-<b>...` for a subset of seeds run apart)."""


@dataclass(frozen=True)
class Condition:
    """One penalty at one weight on one experiment."""

    experiment: str
    penalty: str  # control, mine, hsic, club, decorrelation
    weight: float | None  # None: the spec's own (mine) or none (control)

    @property
    def name(self) -> str:
        w = "" if self.weight is None else f"-w{self.weight:g}"
        return f"{self.experiment}-{self.penalty}{w}"

    def overrides(self) -> list[str]:
        spec, groups, _, metrics = EXPERIMENTS[self.experiment]
        if self.penalty == "mine":
            return []
        if self.penalty == "control":
            constraint = "{kind: l2, weight: 0.0}"
        else:
            constraint = f"{{kind: {self.penalty}, between: [{', '.join(groups)}], weight: {self.weight:g}}}"
        return [f"constraints[0]={constraint}", f"analysis.metrics={metrics}"]


def sweep(store: Path, cond: Condition, seeds: list[int], suffix: str = "") -> None:
    """Train `cond` over `seeds` as the sweep store STORE/<name><suffix> (resumes an unfinished one)."""
    spec = EXPERIMENTS[cond.experiment][0]
    cmd = [sys.executable, "-m", "modsim.cli", "sweep", spec, "--store", str(store), "--name", cond.name + suffix,
           "--jobs", os.environ.get("COMPARE_JOBS", "2")]
    for o in cond.overrides() + [f"sweep={{grid: {{training.seed: {seeds}}}}}"]:
        cmd += ["--set", o]
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=False)


def records(store: Path, cond: Condition) -> list[dict]:
    """Every finished run of `cond` in any of its sweep stores: metrics, seconds and seed."""
    from modsim.store.sweep import finished_runs

    out = []
    for path in sorted(store.glob(cond.name + "*")):
        suffix = path.name[len(cond.name):]
        if suffix not in SWEEP_SUFFIXES and not suffix.startswith("_seeds"):
            continue
        for run in finished_runs(path):
            row = {k: float(v) for k, v in run.summary.items() if v is not None}
            row["seed"] = int(run.spec_json["training"]["seed"])
            out.append(row)
    return out


def choose_weight(store: Path, penalty: str) -> float:
    """Stage 1's rule (module docstring)."""
    score = EXPERIMENTS["wm"][2]
    control = records(store, Condition("wm", "control", None))
    floor = np.mean([r[score] for r in control]) - 0.05
    best, best_d = WEIGHTS[penalty][0], -math.inf
    for w in WEIGHTS[penalty]:
        rows = [r for r in records(store, Condition("wm", penalty, w)) if r["seed"] in CHOICE_SEEDS]
        if not rows:
            continue
        acc, d = np.mean([r[score] for r in rows]), np.mean([r["d_cor"] for r in rows])
        silenced = sum(r.get("silenced", 0) > 0 for r in rows)
        if acc >= floor and not silenced and d > best_d:
            best, best_d = w, d
    return best


def stage_weights(store: Path) -> None:
    sweep(store, Condition("wm", "control", None), CHOICE_SEEDS)
    for penalty, weights in WEIGHTS.items():
        for w in weights:
            sweep(store, Condition("wm", penalty, w), CHOICE_SEEDS)


def chosen(store: Path) -> dict[str, float]:
    return {p: choose_weight(store, p) for p in WEIGHTS}


def stage_seeds(store: Path, experiments: list[str], penalties: list[str], only: list[int] | None = None) -> None:
    """Each experiment's seeds (or those of `only`) for the control, MINE's re-run check and each penalty at its
    chosen weight; a sweep store per condition, resumed when it exists (a subset first, the rest later)."""
    weights = chosen(store)
    print("chosen weights:", json.dumps(weights), flush=True)
    for exp in experiments:
        seeds = [s for s in SEEDS[exp] if only is None or s in only]
        rest = [s for s in seeds if exp != "wm" or s not in CHOICE_SEEDS]
        if exp != "gru":
            sweep(store, Condition(exp, "control", None), rest, suffix="_more" if exp == "wm" else "")
        if exp != "gru":  # a flagship MINE run is about 18 min of one core: its recorded numbers stand
            sweep(store, Condition(exp, "mine", None), seeds[:1], suffix="_check")
        part = "" if only is None else "_seeds" + "-".join(map(str, seeds))
        for penalty in penalties:
            sweep(store, Condition(exp, penalty, weights[penalty]), rest, suffix="_more" if exp == "wm" else part)


def candidate(store: Path, penalties: list[str]) -> str:
    """The penalty with the highest mean D_cor on wm_leaky_mi at its chosen weight among those that silenced no
    group in 8 seeds (the one to check on 16 seeds and on the flagship's threads)."""
    weights = chosen(store)
    best, best_d = penalties[0], -math.inf
    for penalty in penalties:
        rows = records(store, Condition("wm", penalty, weights[penalty]))
        if rows and not any(r.get("silenced", 0) > 0 for r in rows) and np.mean([r["d_cor"] for r in rows]) > best_d:
            best, best_d = penalty, float(np.mean([r["d_cor"] for r in rows]))
    return best


def stage_threads(store: Path, penalty: str) -> None:
    """The flagship's seed (625) with `penalty` on two threads (its one-thread run is seed 625 of `seeds`)."""
    cond = Condition("gru", penalty, chosen(store)[penalty])
    cmd = [sys.executable, "-m", "modsim.cli", "run", EXPERIMENTS["gru"][0], "--store", str(store), "--name",
           cond.name + "_threads2", "--quiet", "--set", "training.threads=2"]
    for o in cond.overrides():
        cmd += ["--set", o]
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=False)


def stage_more(store: Path, penalty: str) -> None:
    """The 16-seed silencing check on wm_leaky_mi for the candidate default."""
    sweep(store, Condition("wm", penalty, chosen(store)[penalty]), MORE_SEEDS, suffix="_16")


def recorded(experiment: str, names: dict[str, list[str]] = RECORDED) -> list[dict]:
    """The runs of `experiment` recorded per seed in benchmarks/mi_reliability.md (MINE + engagement)."""
    text = (ROOT / "benchmarks" / "mi_reliability.md").read_text().splitlines()
    rows, inside = [], False
    for line in text:
        if line.startswith("**"):
            inside = any(f"(`{name}`" in line for name in names.get(experiment, []))
        elif inside and line.startswith("| ") and "seed=" in line:
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows.append({"seed": int(cells[0].split("seed=")[1]), "success": float(cells[1]) if cells[1] else math.nan,
                         "d_cor": float(cells[2]), "q_cor": float(cells[3]), "silenced": float(cells[5])})
    return rows


def welch(a: list[float], b: list[float]) -> float:
    from modsim.sweep.stats import welch_p

    return welch_p(np.asarray(a, float), np.asarray(b, float))[1]


def table(store: Path, experiment: str, weights: dict[str, float]) -> str:
    """Mean +- sd per condition, silenced runs, Welch p of Q_cor and D_cor against the control and against
    MINE (recorded), and the MINE re-run's audit and seconds."""
    score = EXPERIMENTS[experiment][2]
    conds = [Condition(experiment, "control", None)] + [Condition(experiment, p, w) for p, w in weights.items()]
    base = records(store, conds[0]) or recorded(experiment, RECORDED_CONTROL)
    mine = recorded(experiment)
    check = records(store, Condition(experiment, "mine", None))
    cols = [score, "q_cor", "d_cor", "dependence_audit", "seconds"]
    lines = [f"| penalty | n | success | {' | '.join(cols)} | silenced | p vs control (Q_cor, D_cor) | "
             f"p vs mine (Q_cor, D_cor) |", "|" + "---|" * (len(cols) + 6)]

    def fmt(rows: list[dict], key: str) -> str:
        x = [r[key] for r in rows if key in r and math.isfinite(r[key])]
        return f"{np.mean(x):.3g} +- {np.std(x, ddof=1):.2g}" if len(x) > 1 else (f"{x[0]:.3g}" if x else "-")

    def wins(rows: list[dict]) -> str:
        x = [r["success"] for r in rows if math.isfinite(r.get("success", math.nan))]
        return f"{int(sum(x))}/{len(x)}" if x else "-"

    def p(rows: list[dict], other: list[dict]) -> str:
        if not other:
            return "-"
        return ", ".join(f"{welch([r[k] for r in rows], [r[k] for r in other]):.2g}" for k in ("q_cor", "d_cor"))

    mine_cells = ["-", fmt(mine, "q_cor"), fmt(mine, "d_cor"), fmt(check, "dependence_audit"), "-"]
    lines.append(f"| mine (recorded; audit: seed {SEEDS[experiment][0]} re-run) | {len(mine)} | {wins(mine)} | "
                 f"{' | '.join(mine_cells)} | {sum(r['silenced'] > 0 for r in mine)} | {p(mine, base)} | - |")
    for c in conds:
        rows = records(store, c)
        if not rows:
            continue
        sil = sum(r.get("silenced", 0) > 0 for r in rows)
        label = c.penalty + ("" if c.weight is None else f" ({c.weight:g})")
        lines.append(f"| {label} | {len(rows)} | {wins(rows)} | {' | '.join(fmt(rows, k) for k in cols)} | {sil} | "
                     f"{p(rows, base) if c.penalty != 'control' else '-'} | {p(rows, mine)} |")
    if check:
        by_seed = {r["seed"]: r for r in mine}
        for r in check:
            old = by_seed.get(r["seed"], {})
            lines.append(f"\nMINE re-run, seed {r['seed']}: Q_cor {r['q_cor']:.3f} (recorded {old.get('q_cor')}), "
                         f"D_cor {r['d_cor']:.3f} (recorded {old.get('d_cor')})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["weights", "seeds", "more", "threads", "candidate", "table"])
    parser.add_argument("--store", type=Path, default=Path("store/penalties"))
    parser.add_argument("--experiments", default="wm,ff3,gru")
    parser.add_argument("--candidate", default="decorrelation")
    parser.add_argument("--penalties", default="decorrelation,hsic,club")
    parser.add_argument("--seeds", default=None, help="Comma-separated subset of the experiment's seeds.")
    args = parser.parse_args()
    store = args.store.resolve()
    if args.stage == "weights":
        stage_weights(store)
    elif args.stage == "seeds":
        only = [int(x) for x in args.seeds.split(",")] if args.seeds else None
        stage_seeds(store, args.experiments.split(","), args.penalties.split(","), only)
    elif args.stage == "more":
        stage_more(store, args.candidate)
    elif args.stage == "threads":
        stage_threads(store, args.candidate)
    elif args.stage == "candidate":
        print(candidate(store, args.penalties.split(",")))
    else:
        weights = chosen(store)
        print("weights chosen on wm_leaky_mi:", json.dumps(weights))
        for exp in args.experiments.split(","):
            print(f"\n### {exp}\n")
            print(table(store, exp, weights))


if __name__ == "__main__":
    main()
