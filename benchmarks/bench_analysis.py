"""Time the full analysis plan on synthetic activity of N units (default 2048).

    python benchmarks/bench_analysis.py [--units 2048 --samples 4000 --modules 8]

Activity: `modules` planted groups sharing a latent signal each, plus noise. Times every step of a
plan with Q_cor, Q_str, signed Q, Leiden, Louvain, fast-greedy, signed Louvain and Leiden, NMI, and
compares signed Louvain with bctpy's community_louvain(B='negative_asym') when bctpy is installed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from modsim.analysis import cross_corr, q_cor, q_str
from modsim.analysis.communities import fastgreedy, leiden, louvain, nmi
from modsim.analysis.modularity import signed_q


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=2048)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--modules", type=int, default=8)
    parser.add_argument("--skip-slow", action="store_true", help="skip Leiden and fast-greedy")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(args.modules), -(-args.units // args.modules))[: args.units]
    latent = rng.standard_normal((args.samples, args.modules))
    activity = latent[:, labels] + 1.5 * rng.standard_normal((args.samples, args.units))
    weights = rng.standard_normal((args.units, args.units))

    timings: dict[str, float] = {}
    results: dict[str, float] = {}

    def step(name, fn):
        t = time.perf_counter()
        value = fn()
        timings[name] = time.perf_counter() - t
        return value

    corr = step("corr", lambda: cross_corr(activity, activity))
    signed = corr.copy()
    np.fill_diagonal(signed, 0.0)
    absolute = np.abs(signed)
    results["q_cor"] = step("q_cor", lambda: q_cor(activity, labels))
    results["q_str"] = step("q_str", lambda: q_str(weights, labels))
    results["signed_q"] = step("signed_q", lambda: signed_q(signed, labels))
    found = {"louvain": step("louvain", lambda: louvain(absolute, seed=0)),
             "louvain_signed": step("louvain_signed", lambda: louvain(signed, seed=0, signed=True))}
    if not args.skip_slow:
        found["leiden"] = step("leiden", lambda: leiden(absolute, seed=0))
        found["leiden_signed"] = step("leiden_signed", lambda: leiden(signed, seed=0, signed=True))
        found["fastgreedy"] = step("fastgreedy", lambda: fastgreedy(absolute))
    for name, part in found.items():
        results[f"nmi_{name}"] = nmi(part, labels)
    try:
        import bct
    except ImportError:
        bct = None
    if bct is not None:
        ci, q = step("bctpy_negative_asym", lambda: bct.community_louvain(signed, B="negative_asym", seed=0))
        results["nmi_bctpy"] = nmi(ci, labels)
        results["q_bctpy"] = q
        results["q_louvain_signed"] = signed_q(signed, found["louvain_signed"])
    print(f"N={args.units} samples={args.samples} modules={args.modules}")
    for name, seconds in timings.items():
        print(f"  {name:22s} {seconds:8.3f} s")
    plan = sum(v for k, v in timings.items() if not k.startswith("bctpy"))
    fast = sum(v for k, v in timings.items() if k not in ("leiden", "leiden_signed", "fastgreedy")
               and not k.startswith("bctpy"))
    print(f"  {'full plan':22s} {plan:8.3f} s")
    print(f"  {'plan without leiden/fg':22s} {fast:8.3f} s")
    for name, value in results.items():
        print(f"  {name:22s} {value:8.4f}")


if __name__ == "__main__":
    main()
