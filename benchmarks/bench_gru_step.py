"""Time one training step of modsim's GRU (masks and MI on) against a plain torch.nn.GRU.

    python benchmarks/bench_gru_step.py [--units 64 --batch 32 --length 1000 --device cpu --groups 2]

Both sides do forward + backward + Adam step on the same shapes. modsim's step adds the
block-modular masks (gradient masking and re-projection), the readout and the MINE penalty term.
The statistics-network steps (k per model step) are timed separately. Prints the ratio
plain / modsim (>= 0.9 means modsim costs at most ~10% more than the bare kernel) and the full-iteration
ratio plain / (model step + statistics steps). `--groups K` splits the units into K groups and minimises
their total correlation (`--objective pairwise`: the sum of pairwise MIs).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from modsim.compile import compile_experiment
from modsim.spec import load_spec
from timing import step_benchmark_args, timed  # benchmarks/timing.py (the script's directory is on sys.path)

SPEC = Path(__file__).resolve().parents[1] / "specs" / "gru_lorenz_rossler.yaml"


def main() -> None:
    args, device = step_benchmark_args(__doc__, units=64, batch=32, length=1000, repeats=10,
                                       extra=lambda p: (p.add_argument("--groups", type=int, default=2),
                                                        p.add_argument("--objective", default="total_correlation")))
    sizes = [args.units // args.groups + (k < args.units % args.groups) for k in range(args.groups)]
    names = [f"g{k + 1}" for k in range(args.groups)]
    spec = load_spec(SPEC, [
        "network.groups={" + ", ".join(f"{n}: {s}" for n, s in zip(names, sizes)) + "}",
        f"network.cell.units={args.units}", f"constraints[0].between=[{', '.join(names)}]",
        f"constraints[0].objective={args.objective}", "analysis.groups=[g1, g2]",
        "network.recurrent={kind: modular, p: 0.5}", f"task.length={args.length}", "task.drop=10",
        "task.train_trajectories=" + str(args.batch), "task.eval_trajectories=1", "task.substeps=1",
        f"training.batch={args.batch}", f"training.device={args.device}"])
    exp = compile_experiment(spec, device)
    x, y = exp.train_inputs, exp.train_targets

    mine = next(t for t in exp.terms if t.name == "mi")

    def modsim_step() -> None:
        out, hidden = exp.model(x)
        terms, _ = exp.objective(out, y, hidden)
        exp.optimizer.zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        exp.optimizer.step()
        exp.model.apply_masks_()

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

    t_plain = timed(plain_step, args.repeats, device)
    t_ours = timed(modsim_step, args.repeats, device)
    t_stats = timed(statistics_steps, args.repeats, device)
    print(f"device={device} threads={torch.get_num_threads()} units={args.units} batch={args.batch} "
          f"length={args.length} groups={args.groups} objective={args.objective}")
    print(f"plain nn.GRU step            {t_plain * 1e3:9.1f} ms")
    print(f"modsim step (masks + MI)     {t_ours * 1e3:9.1f} ms")
    print(f"ratio plain / modsim         {t_plain / t_ours:9.3f}")
    print(f"{spec.mine.steps_per_update} statistics steps         {t_stats * 1e3:9.1f} ms "
          f"(full iteration ratio {t_plain / (t_ours + t_stats):.3f})")


if __name__ == "__main__":
    main()
