"""Cost of one training iteration with each dependence penalty against a plain step, at a spec's shapes.

Every variant is the spec with its dependence constraint (constraints[0]) replaced; `plain` drops every
constraint (cell + readout + task loss, forward, backward and the optimiser step), `none` keeps the spec's `l2`
and `engagement` terms without a dependence penalty. All variants are compiled in one process and timed in
turn, `--rounds` rounds of `--steps` steps each, so a loaded machine slows them alike: the ratios to `plain`
are the figure to read. Warm-up phases (MINE's critic pre-training, CLUB's fitting) are not timed: the
figure is the steady per-step cost.

    python benchmarks/bench_penalties.py specs/wm_leaky_mi.yaml --threads 1
    python benchmarks/bench_penalties.py specs/gru_lorenz_rossler.yaml --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from modsim.compile import compile_experiment
from modsim.spec import load_spec
from modsim.train import train_step


def variants(groups: list[str]) -> dict[str, list[str]]:
    """Variant name -> spec overrides."""
    between = f"[{', '.join(groups)}]"
    swap = "constraints[0]="
    return {
        "plain": ["constraints=[]"],
        "none": [swap + "{kind: l2, weight: 0.0}"],
        "mine (the spec)": [],
        "mine, bound nwj": ["constraints[0].bound=nwj"],
        "club": [swap + f"{{kind: club, between: {between}, weight: 0.1}}"],
        "hsic": [swap + f"{{kind: hsic, between: {between}, weight: 1.0}}"],
        "hsic, random features": [swap + f"{{kind: hsic, between: {between}, weight: 1.0, "
                                         "estimator: random_features}"],
        "decorrelation": [swap + f"{{kind: decorrelation, between: {between}, weight: 1.0}}"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = load_spec(args.spec)
    groups = list(base.constraints[0].between)
    metrics = "analysis.metrics=[mse, q_cor]"
    exps = {name: compile_experiment(load_spec(args.spec, overrides + [metrics]), torch.device("cpu"))
            for name, overrides in variants(groups).items()}
    for exp in exps.values():
        train_step(exp)  # first-call costs (allocation, kernel selection) out of the timing
    times: dict[str, list[float]] = {name: [] for name in exps}
    for _ in range(args.rounds):
        for name, exp in exps.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                train_step(exp)
            times[name].append((time.perf_counter() - start) / args.steps)
    plain = statistics.median(times["plain"])
    print(f"{args.spec} ({base.network.cell.kind}, {base.network.cell.units} units), {args.threads} thread(s), "
          f"{args.rounds} rounds x {args.steps} steps")
    print("| variant | s per step, min / median | median / plain |")
    print("|---|---|---|")
    for name, t in times.items():
        print(f"| {name} | {min(t):.3f} / {statistics.median(t):.3f} | {statistics.median(t) / plain:.2f} |")


if __name__ == "__main__":
    main()
