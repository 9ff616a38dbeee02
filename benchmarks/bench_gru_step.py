"""Time one training step of modsim's GRU (masks and MI on) against a plain torch.nn.GRU.

    python benchmarks/bench_gru_step.py [--units 64 --batch 32 --length 1000 --device cpu --groups 2]

Both sides do forward + backward + Adam step on the same shapes. modsim's step adds the
block-modular masks (gradient masking and re-projection), the readout and the MINE penalty term, and runs
once with each GRU kernel (`network.cell.kernel`: `torch`, torch's own; `modsim`, modsim's loop with a
hand-written backward pass). The statistics-network steps (k per model step) are timed separately. Every
round runs each case once in turn (the machine's speed drifts, so ratios are taken within a round) and the
script prints medians over rounds: the ratio plain / modsim step (>= 1 means modsim's step is cheaper than
the bare kernel) and the full-iteration ratio plain / (model step + statistics steps). `--groups K` splits
the units into K groups and minimises their total correlation (`--objective pairwise`: the sum of pairwise
MIs); `--set FIELD=VALUE` overrides any other field of the flagship spec (e.g. `--set
constraints[0].samples=2048`).
"""

from __future__ import annotations

import statistics
from pathlib import Path

import torch
from torch import nn

from modsim.compile import compile_experiment
from modsim.spec import load_spec
from timing import interleaved, step_benchmark_args  # benchmarks/timing.py (the script's directory is on sys.path)

SPEC = Path(__file__).resolve().parents[1] / "specs" / "gru_lorenz_rossler.yaml"
KERNELS = ("torch", "modsim")


def main() -> None:
    args, device = step_benchmark_args(__doc__, units=64, batch=32, length=1000, repeats=15,
                                       extra=lambda p: (p.add_argument("--groups", type=int, default=2),
                                                        p.add_argument("--objective", default="total_correlation"),
                                                        p.add_argument("--set", action="append", default=[],
                                                                       metavar="FIELD=VALUE",
                                                                       help="a further spec override")))
    sizes = [args.units // args.groups + (k < args.units % args.groups) for k in range(args.groups)]
    names = [f"g{k + 1}" for k in range(args.groups)]
    overrides = [
        "network.groups={" + ", ".join(f"{n}: {s}" for n, s in zip(names, sizes)) + "}",
        f"network.cell.units={args.units}", f"constraints[0].between=[{', '.join(names)}]",
        f"constraints[0].objective={args.objective}", "analysis.groups=[g1, g2]",
        "network.recurrent={kind: modular, p: 0.5}", f"task.length={args.length}", "task.drop=10",
        "task.train_trajectories=" + str(args.batch), "task.eval_trajectories=1", "task.substeps=1",
        f"training.batch={args.batch}", f"training.device={args.device}", *args.set]
    cases = {}
    for kernel in KERNELS:
        spec = load_spec(SPEC, [*overrides, f"network.cell.kernel={kernel}"])
        exp = compile_experiment(spec, device)
        cases[f"modsim step, {kernel} kernel"] = model_step(exp)
    x, y = exp.train_inputs, exp.train_targets
    mine = next(t for t in exp.terms if t.name == "mi")
    groups = tuple(t.detach() for t in mine.groups(exp.model(x)[1]))

    def statistics_steps() -> None:
        for _ in range(spec.mine.steps_per_update):
            mine._train(groups)

    torch.manual_seed(0)
    gru = nn.GRU(3, args.units, batch_first=True).to(device)
    head = nn.Linear(args.units, 6).to(device)
    opt = torch.optim.Adam([*gru.parameters(), *head.parameters()], lr=1e-3)

    def plain_step() -> None:
        hidden, _ = gru(x)
        loss = torch.mean((head(hidden) - y) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    stats_name = f"{spec.mine.steps_per_update} statistics steps"
    rounds = interleaved({"plain nn.GRU step": plain_step, **cases, stats_name: statistics_steps},
                         args.repeats, device)
    plain = rounds["plain nn.GRU step"]
    print(f"device={device} threads={torch.get_num_threads()} units={args.units} batch={args.batch} "
          f"length={args.length} groups={args.groups} objective={args.objective} rounds={args.repeats}")
    for name, times in rounds.items():
        print(f"{name:32s} {statistics.median(times) * 1e3:9.1f} ms")
    for name in cases:
        step = statistics.median(p / t for p, t in zip(plain, rounds[name]))
        full = statistics.median(p / (t + s) for p, t, s in zip(plain, rounds[name], rounds[stats_name]))
        print(f"{name}: ratio plain / step {step:.3f}, full iteration ratio plain / (step + statistics) {full:.3f}")


def model_step(exp):
    """One model step of a compiled experiment on its whole training set (what `modsim.train` does per step,
    the statistics steps aside)."""
    x, y = exp.train_inputs, exp.train_targets

    def step() -> None:
        out, hidden = exp.model(x)
        terms, _ = exp.objective(out, y, hidden)
        exp.optimizer.zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        exp.optimizer.step()
        exp.model.apply_masks_()
    return step


if __name__ == "__main__":
    main()
