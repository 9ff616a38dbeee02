"""Scaling of the analysis plan with the number of units, on synthetic activity with planted modules.

    python benchmarks/bench_analysis.py [--units 256 512 1024 2048 4096] [--samples 4000] [--modules 8]

For each N: the time of every step of a full plan (the correlation matrix once, Q_cor, Q_str, signed Q,
Leiden, signed Leiden, Louvain, signed Louvain, fast-greedy, each with NMI and ARI against the planted
groups) measured on its own, then `evaluate_plan` on that plan end to end, and bctpy's signed Louvain
(`community_louvain(B='negative_asym')`) on the same matrix in the same run. The full plan is run
`--repeats` times after the single steps (so igraph's complete graph is already built, as at every
checkpoint after a run's first) and its median printed. Also checks that every
detector recovers the planted modules and that our Leiden's Q is within 1e-3 of leidenalg's.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from modsim.analysis import cross_corr
from modsim.analysis.communities import ari, fastgreedy, leiden, louvain, nmi
from modsim.analysis.modularity import modularity, q_str
from modsim.analysis.plan import Snapshot, evaluate_plan
from modsim.spec.analysis import Analysis

DETECTORS = {"leiden": ("leiden", False), "leiden_signed": ("leiden", True), "louvain": ("louvain", False),
             "louvain_signed": ("louvain", True), "fastgreedy": ("fastgreedy", False)}


def planted(units: int, samples: int, modules: int, seed: int = 0):
    """(activity, labels, weights): modules sharing a latent signal each, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(modules), -(-units // modules))[:units]
    activity = rng.standard_normal((samples, modules))[:, labels] + 1.5 * rng.standard_normal((samples, units))
    return activity, labels, rng.standard_normal((units, units))


def plan() -> Analysis:
    """The full plan timed end to end."""
    return Analysis.model_validate({
        "metrics": ["q_cor", "q_str"],
        "communities": [{"algorithm": a, "signed": s} for a, s in DETECTORS.values()],
        "induced_q": [{"signed": True, "permutations": 0}]})


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def measure(units: int, samples: int, modules: int, reference: bool, repeats: int
            ) -> tuple[dict[str, float], dict[str, float]]:
    """Timings (s) and checks for one N."""
    activity, labels, weights = planted(units, samples, modules)
    times, checks = {}, {}
    corr, times["corr"] = timed(lambda: cross_corr(activity, activity))
    signed = corr.copy()
    np.fill_diagonal(signed, 0.0)
    absolute = np.abs(signed)
    _, times["q_cor"] = timed(lambda: modularity(absolute, labels))
    _, times["q_str"] = timed(lambda: q_str(weights, labels))
    _, times["signed_q"] = timed(lambda: modularity(signed, labels, signed=True))
    for name, (algorithm, is_signed) in DETECTORS.items():
        a = signed if is_signed else absolute
        fn = {"leiden": leiden, "louvain": louvain}.get(algorithm)
        found, times[name] = timed(lambda: fastgreedy(a) if fn is None else fn(a, seed=0, signed=is_signed))
        checks[f"ari_{name}"] = ari(found, labels)
        checks[f"nmi_{name}"] = nmi(found, labels)
    snap = Snapshot(activity=activity[None], outputs=np.zeros((1, samples, 1)), targets=np.zeros((1, samples, 1)),
                    recurrent_weights=weights, readout_weights=np.zeros((1, units)), input_weights=None, labels=labels,
                    group_names=[f"m{i}" for i in range(modules)], output_sets=None, groups=None)
    runs = [timed(lambda: evaluate_plan(plan(), snap))[1] for _ in range(repeats)]
    times["full plan (evaluate_plan, median)"] = float(np.median(runs))
    try:
        import bct
    except ImportError:
        bct = None
    if bct is not None:
        (ci, q), times["bctpy signed louvain"] = timed(lambda: bct.community_louvain(signed, B="negative_asym",
                                                                                    seed=0))
        checks["ari_bctpy"] = ari(ci, labels)
    if reference:
        from modsim.testing.oracles import leidenalg_leiden

        ref, times["leidenalg (reference)"] = timed(lambda: leidenalg_leiden(absolute, seed=0))
        checks["q_leiden - q_leidenalg"] = modularity(absolute, leiden(absolute, seed=0)) - modularity(absolute, ref)
    return times, checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096])
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--modules", type=int, default=8)
    parser.add_argument("--reference", action="store_true", help="also time leidenalg and compare its Q")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the full plan (the median is printed)")
    args = parser.parse_args()
    rows = {}
    for n in args.units:
        times, checks = measure(n, args.samples, args.modules, args.reference, args.repeats)
        rows[n] = times
        bad = {k: round(v, 4) for k, v in checks.items() if k.startswith(("ari", "nmi")) and v < 1 - 1e-9}
        print(f"N={n}: planted modules recovered by every detector: {not bad} {bad or ''}"
              + "".join(f"; {k} = {v:.2e}" for k, v in checks.items() if k.startswith("q_")), flush=True)
    steps = list(next(iter(rows.values())))
    print(f"\nseconds, samples={args.samples}, modules={args.modules}")
    print("| step | " + " | ".join(f"N={n}" for n in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for step in steps:
        print(f"| {step} | " + " | ".join(f"{rows[n].get(step, float('nan')):.3f}" for n in rows) + " |")


if __name__ == "__main__":
    main()
