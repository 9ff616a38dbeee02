"""Known answers for the dependence estimators: bias and spread against the true mutual information (K = 2)
or total correlation (K = 3) of groups with a closed-form answer.

    python benchmarks/bench_estimators.py [--repeats 6] [--rows 2000] [--dims 20] [--fit-steps N]
        [--fit-rows N] [--estimators ksg_audit,decorrelation,hsic,club,mine_dv,mine_nwj] [--out FILE]

Groups of `--dims` coordinates (`modsim.testing.known_answers.sample_groups`): every coordinate shared by
the K groups through one latent factor, each group mixed by its own random rotation, the truth 0.5 (sum_g
log det S_g - log det S) from the covariance; `cubic` maps every coordinate by x + 0.3 x^3 afterwards
(the same truth, non-Gaussian). Each (K, distribution, truth) cell is drawn `--repeats` times (seeds 1000 +
repeat; the tests use other seeds) and every estimator is run on the same draws:

- `ksg_audit`: the dependence audit (`modsim.analysis.audit.audited_dependence`, KSG estimator 1, k = 3),
  nats; bias = mean estimate - truth, spread = sd over the repeats;
- `decorrelation` and `hsic` (the penalties' own values, `modsim.compile.losses`), when that code is
  present: not in nats, so their mean and sd are listed without a bias (they should grow with the truth
  and sit near 0 at 0). HSIC runs on the first 512 rows, its penalty's default;
- `club`: the CLUB penalty's estimator (`modsim.compile.losses.club.ClubEstimator`, the `club` constraint's
  defaults: hidden 64, Adam lr 0.005, z-scored, 4096 rows drawn per step, all when fewer; K > 2
  chains sum_k I(x_<k; x_k)), fitted for `CLUB_STEPS` maximum-likelihood steps on the fitting rows, then
  its vCLUB value on the draw, nats (an upper bound only where q fits; loose for strong dependence);
- `mine_dv` and `mine_nwj`: a MINE statistics network (`modsim.compile.losses.mine.MineEstimator`, the
  settings with which tests/test_mine.py recovers Gaussian MI within 15%: hidden 64, noise 0, Adam lr 3e-3,
  no gradient clipping; one network on all K groups, the total-correlation objective) trained for
  `MINE_STEPS` steps on `MINE_BATCH`-row minibatches drawn from the fitting rows with the DV (or NWJ)
  bound, then that bound on all of the draw's rows without noise, nats (lower bounds for a fixed critic).

The fitting rows are the draw itself by default (fit and evaluate in sample); `--fit-rows N` fits instead on
N fresh rows of the same distribution (the rows after the draw's in one `sample_groups` call of the same
seed, whose first `--rows` rows are the draw), as the penalties' held-out metrics are taken. Every fit is
seeded from the repeat (the draw's seed) and runs on one torch thread. `--fit-steps` sets the steps of both
fitted estimators, `--estimators` picks the estimators run. Fitted on the draw, both networks memorise its
rows (CLUB reads 5-80 nats for independent groups; benchmarks/README.md): use `--fit-rows` for estimates.
About 105 CPU seconds without the fitted estimators (6 repeats); the fitted ones take 1-3 CPU s per call
(215-245 CPU s for the three with 3 repeats).
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
CLUB_STEPS = 300
"""Default maximum-likelihood steps of CLUB's q per estimate (q settles within 3% of the Gaussian closed form
by 200 steps: benchmarks/README.md, "Dependence penalties: cost per step")."""
MINE_STEPS = 800
"""Default training steps of a MINE statistics network per estimate (tests/test_mine.py's count)."""
MINE_BATCH = 512
"""Rows per MINE training step, drawn with replacement from the draw (tests/test_mine.py's minibatch)."""
NATS = ("ksg_audit", "club", "mine_dv", "mine_nwj")
"""Estimators in nats: these get a bias column."""
ALL = ("ksg_audit", "decorrelation", "hsic", "club", "mine_dv", "mine_nwj")
"""Every estimator the table can run, in its order."""

Estimator = Callable[..., float]
"""fn(blocks, seed, fit) -> the estimate of the dependence of the draw `blocks`; the fitted estimators fit
their network on the rows `fit` (the draw itself, or fresh rows), seeded by `seed`."""


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

    return {"decorrelation": lambda blocks, seed, fit: float(decorrelation(tensors(blocks))),
            "hsic": lambda blocks, seed, fit: float(exact_hsic(tensors(blocks, HSIC_ROWS), HSIC_ROWS))}, []


def fitted_estimators(club_steps: int, mine_steps: int) -> tuple[dict[str, Estimator], list[str]]:
    """CLUB and the MINE bounds, each a network fitted on the rows `fit` (seeded by `seed`) and then
    evaluated on the draw, in nats; notes on those missing from this tree."""
    try:
        import torch

        from modsim.compile.losses.club import ClubEstimator
        from modsim.compile.losses.mine import MineEstimator
        from modsim.spec import MineConstraint
        from modsim.spec.constraints_club import ClubConstraint
    except ImportError as exc:
        return {}, [f"club / mine not run: {exc}"]
    torch.set_num_threads(1)
    cpu = torch.device("cpu")

    def tensors(blocks: list[np.ndarray]) -> list:
        """The blocks as float32 tensors (the networks' dtype)."""
        return [torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32)) for b in blocks]

    def club(blocks: list[np.ndarray], seed: int, fit: list[np.ndarray]) -> float:
        """`club_steps` fitting steps of q on `fit` (the constraint's defaults: 4096 rows drawn per step, all
        rows when fewer), then the summed vCLUB on the draw."""
        groups, rows = tensors(blocks), tensors(fit)
        spec = ClubConstraint(kind="club", between=[f"g{k}" for k in range(len(groups))], weight=0.0)
        est = ClubEstimator(spec, [g.shape[1] for g in groups], cpu, seed=seed)
        for _ in range(club_steps):
            est.fit_step(*rows)
        with torch.no_grad():
            return float(est.estimate(*groups))

    def mine(bound: str) -> Estimator:
        def train(blocks: list[np.ndarray], seed: int, fit: list[np.ndarray]) -> float:
            """`mine_steps` steps of the statistics network on `MINE_BATCH`-row minibatches of `fit`, then
            the bound on all of the draw's rows (no noise)."""
            groups, rows = tensors(blocks), tensors(fit)
            spec = MineConstraint(kind="mine", between=[f"g{k}" for k in range(len(groups))], weight=0.0,
                                  hidden=64, noise=0.0, lr=3e-3, clip_value=None, samples=None, bound=bound)
            est = MineEstimator(spec, [g.shape[1] for g in groups], cpu, seed=seed)
            picks = torch.Generator().manual_seed(seed + 1)
            n = rows[0].shape[0]
            for _ in range(mine_steps):
                pick = torch.randint(n, (MINE_BATCH,), generator=picks)
                est.train_step(*(r.index_select(0, pick) for r in rows))
            with torch.no_grad():
                return float(est.estimate(*groups, noise=False))
        return train

    return {"club": club, "mine_dv": mine("dv"), "mine_nwj": mine("nwj")}, []


def measure_cell(groups: int, transform: str, truth: float, repeats: int, rows: int, dims: int,
                 estimators: dict[str, Estimator], fit_rows: int = 0) -> dict[str, dict]:
    """Every estimator's values, the true values and the CPU seconds per call over `repeats` draws of one cell
    (the fitted estimators fit on the draw, or on `fit_rows` fresh rows of the same distribution)."""
    out = {name: {"values": [], "seconds": []} for name in estimators}
    truths = []
    for repeat in range(repeats):
        seed = 1000 + repeat
        blocks, true_value = sample_groups(truth, groups, dims, rows + fit_rows, seed=seed, transform=transform)
        blocks, fit = [b[:rows] for b in blocks], ([b[rows:] for b in blocks] if fit_rows else blocks)
        truths.append(true_value)
        for name, fn in estimators.items():
            start = time.process_time()  # CPU seconds of this one-thread process: robust to a shared machine
            out[name]["values"].append(fn(blocks, seed, fit))
            out[name]["seconds"].append(time.process_time() - start)
    return {name: {**r, "truth": float(np.mean(truths))} for name, r in out.items()}


def table_rows(results: list[tuple[int, str, float, dict]]) -> list[str]:
    """Markdown rows: estimator, K, distribution, truth, mean +- sd, bias (nats estimators), seconds."""
    lines = ["| estimator | K | distribution | true (nats) | estimate mean +- sd | bias (nats) | CPU s per call |",
             "|---|---|---|---|---|---|---|"]
    for groups, transform, _, cell in results:
        for name, r in cell.items():
            values = np.asarray(r["values"])
            bias = f"{values.mean() - r['truth']:+.3f}" if name in NATS else "n/a (not nats)"
            lines.append(f"| {name} | {groups} | {transform} | {r['truth']:.3f} | {values.mean():.4f} +- "
                         f"{values.std(ddof=1):.4f} | {bias} | {np.median(r['seconds']):.2f} |")
    return lines


def main() -> None:
    """Run every cell and print the markdown table (and write it to `--out`)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--dims", type=int, default=20)
    parser.add_argument("--fit-steps", type=int, default=None,
                        help=f"optimiser steps of every fitted estimator (default: club {CLUB_STEPS}, "
                             f"mine_dv / mine_nwj {MINE_STEPS})")
    parser.add_argument("--fit-rows", type=int, default=0,
                        help="fit CLUB and MINE on this many fresh rows of the draw's distribution "
                             "(default 0: on the draw itself)")
    parser.add_argument("--estimators", default=",".join(ALL),
                        help=f"comma-separated estimators to run, of {', '.join(ALL)} (default: all)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    chosen = [e.strip() for e in args.estimators.split(",") if e.strip()]
    unknown = sorted(set(chosen) - set(ALL))
    if unknown or not chosen:
        parser.error(f"--estimators: unknown {unknown}; choose from {', '.join(ALL)}")
    club_steps = args.fit_steps if args.fit_steps is not None else CLUB_STEPS
    mine_steps = args.fit_steps if args.fit_steps is not None else MINE_STEPS
    available: dict[str, Estimator] = {"ksg_audit": lambda blocks, seed, fit: audited_dependence(blocks)}
    notes: list[str] = []
    if {"decorrelation", "hsic"} & set(chosen):
        extra, missing = penalty_estimators()
        available.update(extra)
        notes += missing
    if {"club", "mine_dv", "mine_nwj"} & set(chosen):
        extra, missing = fitted_estimators(club_steps, mine_steps)
        available.update(extra)
        notes += missing
    estimators = {name: available[name] for name in ALL if name in chosen and name in available}
    start = time.process_time()
    results = [(k, transform, truth, measure_cell(k, transform, truth, args.repeats, args.rows, args.dims, estimators,
                                                  args.fit_rows))
               for k, transform in SHAPES for truth in TRUTHS]
    fitted = [f"{name} {club_steps if name == 'club' else mine_steps} steps" for name in estimators
              if name in ("club", "mine_dv", "mine_nwj")]
    if fitted:
        fitted.append(f"fitted on {args.fit_rows} fresh rows" if args.fit_rows else "fitted on the draw")
    lines = table_rows(results) + [""] + notes + [f"{args.repeats} repeats, {args.rows} rows, {args.dims} dims "
                                                  f"per group" + (f" ({', '.join(fitted)})" if fitted else "")
                                                  + f"; {time.process_time() - start:.0f} CPU s in all"]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
