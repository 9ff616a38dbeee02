"""Known answers for the dependence estimators: bias and spread against the true mutual information (K = 2)
or total correlation (K = 3) of groups with a closed-form answer.

    python benchmarks/bench_estimators.py [--repeats 6] [--rows 2000] [--dims 20] [--out FILE]

Groups of `--dims` coordinates (`modsim.testing.known_answers.sample_groups`): every coordinate shared by
the K groups through one latent factor, each group mixed by its own random rotation, the truth 0.5 (sum_g
log det S_g - log det S) from the covariance; `cubic` maps every coordinate by x + 0.3 x^3 afterwards
(the same truth, non-Gaussian). Each (K, distribution, truth) cell is drawn `--repeats` times (seeds 1000 +
repeat; the tests use other seeds) and every estimator is run on the same draws:

- `ksg_audit`: the dependence audit (`modsim.analysis.audit.audited_dependence`, KSG estimator 1, k = 3),
  nats; bias = mean estimate - truth, spread = sd over the repeats;
- `decorrelation` and `hsic` (the penalties' own values, `modsim.compile.losses`), when that code is
  present: not in nats, so their mean and sd are listed without a bias (they should grow with the truth
  and sit near 0 at 0). HSIC runs on the first 512 rows, its penalty's default.

CLUB and the MINE bounds need a fitted network per estimate (hundreds of optimiser steps), too slow for this
table on one core; they are left out. One torch thread; about 105 CPU seconds with the defaults (6 repeats).
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np

from modsim.analysis.audit import audited_dependence
from modsim.testing.known_answers import sample_groups

TRUTHS = (0.0, 0.5, 1.0, 2.0)
"""True mutual information / total correlation (nats)."""
SHAPES = ((2, "gaussian"), (2, "cubic"), (3, "gaussian"), (3, "cubic"))
"""(K, distribution) of the cells."""
HSIC_ROWS = 512
"""Rows the HSIC penalty uses by default (and its median-heuristic rows)."""

Estimator = Callable[[list[np.ndarray]], float]


def penalty_estimators() -> tuple[dict[str, Estimator], list[str]]:
    """The penalties' own values callable on numpy arrays (through torch, one thread), and notes on those
    missing from this tree."""
    try:
        import torch

        from modsim.compile.losses.decorrelation import decorrelation
        from modsim.compile.losses.hsic import exact_hsic
    except ImportError as exc:
        return {}, [f"decorrelation / hsic not run: {exc}"]
    torch.set_num_threads(1)

    def tensors(blocks: list[np.ndarray], rows: int | None = None) -> tuple:
        """The blocks' first `rows` rows as float64 tensors."""
        return tuple(torch.from_numpy(np.ascontiguousarray(b[:rows])) for b in blocks)

    return {"decorrelation": lambda blocks: float(decorrelation(tensors(blocks))),
            "hsic": lambda blocks: float(exact_hsic(tensors(blocks, HSIC_ROWS), HSIC_ROWS))}, []


def measure_cell(groups: int, transform: str, truth: float, repeats: int, rows: int, dims: int,
                 estimators: dict[str, Estimator]) -> dict[str, dict]:
    """Every estimator's values, the true values and the CPU seconds per call over `repeats` draws of one cell."""
    out = {name: {"values": [], "seconds": []} for name in estimators}
    truths = []
    for repeat in range(repeats):
        blocks, true_value = sample_groups(truth, groups, dims, rows, seed=1000 + repeat, transform=transform)
        truths.append(true_value)
        for name, fn in estimators.items():
            start = time.process_time()  # CPU seconds of this one-thread process: robust to a shared machine
            out[name]["values"].append(fn(blocks))
            out[name]["seconds"].append(time.process_time() - start)
    return {name: {**r, "truth": float(np.mean(truths))} for name, r in out.items()}


def table_rows(results: list[tuple[int, str, float, dict]]) -> list[str]:
    """Markdown rows: estimator, K, distribution, truth, mean +- sd, bias (nats estimators), seconds."""
    lines = ["| estimator | K | distribution | true (nats) | estimate mean +- sd | bias (nats) | CPU s per call |",
             "|---|---|---|---|---|---|---|"]
    for groups, transform, _, cell in results:
        for name, r in cell.items():
            values = np.asarray(r["values"])
            bias = f"{values.mean() - r['truth']:+.3f}" if name == "ksg_audit" else "n/a (not nats)"
            lines.append(f"| {name} | {groups} | {transform} | {r['truth']:.3f} | {values.mean():.4f} +- "
                         f"{values.std(ddof=1):.4f} | {bias} | {np.median(r['seconds']):.2f} |")
    return lines


def main() -> None:
    """Run every cell and print the markdown table (and write it to `--out`)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--dims", type=int, default=20)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    estimators: dict[str, Estimator] = {"ksg_audit": audited_dependence}
    extra, notes = penalty_estimators()
    estimators.update(extra)
    start = time.process_time()
    results = [(k, transform, truth, measure_cell(k, transform, truth, args.repeats, args.rows, args.dims, estimators))
               for k, transform in SHAPES for truth in TRUTHS]
    lines = table_rows(results) + [""] + notes + [f"{args.repeats} repeats, {args.rows} rows, {args.dims} dims "
                                                  f"per group; {time.process_time() - start:.0f} CPU s in all"]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
