"""Time one training step of every cell kind at paper scale (made for CUDA), with peak memory and baselines.

    python benchmarks/bench_cuda.py [--device cuda] [--kinds gru,leaky,rnn,ctrnn] [--repeats 10] [--json FILE]
    python benchmarks/bench_cuda.py --device cpu --tiny      # seconds-long smoke test on a CPU

Each model is built from a spec through `load_spec` + `compile_experiment` with `--set`-style overrides
(`training.device` included), at the scale of:

- gru:   specs/paper/tomoda_lorenz_rossler_mi_l2.yaml (N = 100, batch 50, 10000 steps, MINE on all
         490000 rows, 20 statistics steps); baseline: a plain `nn.GRU` (cuDNN on a GPU) + linear readout,
         MSE, Adam, on the same inputs (as bench_gru_step.py on CPU).
- leaky: specs/paper/tomoda_wm_mi.yaml (N = 40, batch 20, 1000 transient + 2000 trained steps, MINE 512
         wide on all 40000 rows, 10 statistics steps); baseline: bench_leaky_step.py's hand-written loop,
         forward + backward against modsim's LeakyRNN on the same weights over the whole 3000 steps.
- rnn:   specs/paper/bena_separate.yaml (N = 50 in two modules, 5 steps, batch 256, two 784-pixel images:
         synthetic MNIST-shaped IDX files are written to a temporary folder); baseline: a plain `nn.RNN`
         + linear readout, cross-entropy at the last step, AdamW.
- ctrnn: specs/ctrnn_pdm.yaml (N = 64, batch 32, five perceptual-decision trials of 22 steps per sequence,
         fresh trials every step); baseline: the textbook loop with `nn.Linear` layers per step.

Timed, each the median of `--repeats` calls after two warm-ups (`timing.timed`, CUDA synchronised):
`iteration` is the whole body of modsim's training loop (next minibatch, k statistics steps, forward,
loss, backward, clipping, optimiser step, mask re-projection, the loss terms read back to the host);
`model step` is the same on a fixed minibatch without the statistics steps; `k statistics steps` the
MINE critic's updates alone. Peak memory is `torch.cuda.max_memory_allocated` over one call (stats reset
just before), with the part allocated during the call ("transient") beside it.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from modsim.compile import compile_experiment
from modsim.spec import load_spec
from modsim.tasks.digits import write_idx
from modsim.train import clip_gradients as _clip, train_step
from bench_leaky_step import passes  # benchmarks/ (the script's directory is on sys.path)
from timing import timed

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("gru", "leaky", "rnn", "ctrnn")


def experiment(path: str, overrides: list[str], device: torch.device):
    """Spec + overrides (and `training.device`) -> compiled Experiment on `device`."""
    spec = load_spec(ROOT / path, overrides + [f"training.device={device.type}"])
    return spec, compile_experiment(spec, device)


def mine_term(exp):
    """The experiment's MINE loss term (None without a mine constraint)."""
    return next((t for t in exp.terms if t.name == "mi"), None)


def model_step(exp, inputs: torch.Tensor, targets: torch.Tensor) -> None:
    """One model update on a fixed minibatch, MI penalty included, statistics network untouched."""
    outputs, hidden = exp.forward(inputs)
    terms, _ = exp.objective(outputs, targets, hidden)
    exp.optimizer.zero_grad(set_to_none=True)
    sum(terms.values()).backward()
    _clip(exp.model, exp.spec)
    exp.optimizer.step()
    exp.model.apply_masks_()


def iteration(exp) -> None:
    """The body of modsim.train's loop (`train_step`), without the store and the checkpoints."""
    train_step(exp)


def measure(name: str, fn, repeats: int, device: torch.device) -> dict:
    """Median seconds of fn (timing.timed) and, on CUDA, the peak / transient memory of one more call."""
    row = {"case": name, "ms": timed(fn, repeats, device) * 1e3}
    if device.type == "cuda":
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
        row["peak_mib"] = peak / 2**20
        row["transient_mib"] = (peak - before) / 2**20
    return row


def mine_steps(exp, inputs: torch.Tensor):
    """k statistics-network steps on the (detached) activity pair of one forward pass."""
    term = mine_term(exp)
    with torch.no_grad():
        pair = [t.detach() for t in term.groups(exp.forward(inputs)[1])]

    def run() -> None:
        for _ in range(term.spec.steps_per_update):
            term.estimators[0].train_step(*pair)
    return run


def bench_gru(args, device) -> tuple[str, list[dict]]:
    over = (["network.cell.units=8", "network.groups.g1=4", "network.groups.g2=4", "task.length=60", "task.drop=10",
             "task.washout=5", "task.substeps=1", "training.batch=4", "constraints[0].steps_per_update=2"]
            if args.tiny else [])
    spec, exp = experiment("specs/paper/tomoda_lorenz_rossler_mi_l2.yaml",
                           over + [f"task.train_trajectories={4 if args.tiny else 50}", "task.eval_trajectories=1"],
                           device)
    x, y = exp.train_inputs, exp.train_targets
    torch.manual_seed(0)
    gru = nn.GRU(spec.task.input_dim, spec.network.units, batch_first=True).to(device)
    head = nn.Linear(spec.network.units, spec.task.output_dim).to(device)
    opt = torch.optim.Adam([*gru.parameters(), *head.parameters()], lr=1e-3)

    def plain() -> None:
        hidden, _ = gru(x)
        loss = torch.mean((head(hidden) - y) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    rows = [measure("plain nn.GRU + linear, fwd+bwd+Adam", plain, args.repeats, device),
            measure("modsim model step (MI penalty + L2)", lambda: model_step(exp, x, y), args.repeats, device),
            measure(f"{spec.mine.steps_per_update} statistics steps", mine_steps(exp, x), args.repeats, device),
            measure("modsim full iteration", lambda: iteration(exp), args.repeats, device)]
    rows[1]["ratio"] = rows[0]["ms"] / rows[1]["ms"]
    rows[3]["ratio"] = rows[0]["ms"] / rows[3]["ms"]
    shape = (f"gru N={spec.network.units} batch={x.shape[0]} T={x.shape[1]} MINE rows="
             f"{x.shape[0] * (x.shape[1] - spec.task.washout)} k={spec.mine.steps_per_update}")
    return shape, rows


def bench_leaky(args, device) -> tuple[str, list[dict]]:
    over = (["network.cell.units=8", "network.groups.g1=4", "network.groups.g2=4", "task.transient=20",
             "task.length=60", "training.batch=4", "constraints[0].steps_per_update=2", "constraints[0].hidden=16"]
            if args.tiny else [])
    spec, exp = experiment("specs/paper/tomoda_wm_mi.yaml", over, device)
    x, y = exp.next_batch()
    ours, theirs = passes(exp.model.rnn, exp.model.heads[0], x, y)

    with torch.no_grad():
        rows = [measure("hand-written loop, forward", lambda: theirs(False), args.repeats, device),
                measure("modsim LeakyRNN, forward", lambda: ours(False), args.repeats, device)]
    rows += [measure("hand-written loop, fwd+bwd", lambda: theirs(True), args.repeats, device),
             measure("modsim LeakyRNN, fwd+bwd", lambda: ours(True), args.repeats, device)]
    exp.optimizer.zero_grad(set_to_none=True)
    rows[1]["ratio"] = rows[0]["ms"] / rows[1]["ms"]
    rows[3]["ratio"] = rows[2]["ms"] / rows[3]["ms"]
    rows += [measure("modsim model step (transient no-grad, MI, L2, clip)", lambda: model_step(exp, x, y),
                     args.repeats, device),
             measure(f"{spec.mine.steps_per_update} statistics steps", mine_steps(exp, x), args.repeats, device),
             measure("modsim full iteration", lambda: iteration(exp), args.repeats, device)]
    shape = (f"leaky N={spec.network.units} batch={x.shape[0]} T={x.shape[1]} (grad from {exp.spec.task.grad_from}) "
             f"MINE rows={x.shape[0] * (x.shape[1] - exp.spec.task.washout)} hidden={spec.mine.hidden} "
             f"k={spec.mine.steps_per_update}")
    return shape, rows


def bench_rnn(args, device, folder: Path) -> tuple[str, list[dict]]:
    side, count, test = (8, 400, 100) if args.tiny else (28, 6000, 1000)
    rng = np.random.default_rng(0)
    for stem, n in (("train", count), ("test", test)):
        write_idx(folder / f"{stem}-images", rng.integers(0, 256, (n, side, side), dtype=np.uint8))
        write_idx(folder / f"{stem}-labels", (np.arange(n) % 10).astype(np.uint8))
    over = [f"task.images={folder / 'train-images'}", f"task.labels={folder / 'train-labels'}",
            f"task.test_images={folder / 'test-images'}", f"task.test_labels={folder / 'test-labels'}",
            f"task.pixels={side * side}", f"task.eval_pairs={20 if args.tiny else 2000}"]
    if args.tiny:
        over += ["network.cell.units=8", "network.groups.m1=4", "network.groups.m2=4", "training.batch=8"]
    spec, exp = experiment("specs/paper/bena_separate.yaml", over, device)
    x, y = exp.next_batch()
    torch.manual_seed(0)
    rnn = nn.RNN(spec.task.input_dim, spec.network.units, batch_first=True, bias=False).to(device)
    head = nn.Linear(spec.network.units, spec.task.output_dim).to(device)
    opt = torch.optim.AdamW([*rnn.parameters(), *head.parameters()], lr=1e-3, weight_decay=1e-5)
    classes = spec.task.classes
    labels = y[:, -1].long()

    def plain() -> None:
        hidden, _ = rnn(x)
        logits = head(hidden[:, -1])
        loss = (nn.functional.cross_entropy(logits[:, :classes], labels[:, 0])
                + nn.functional.cross_entropy(logits[:, classes:], labels[:, 1]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    rows = [measure("plain nn.RNN + linear, fwd+bwd+AdamW", plain, args.repeats, device),
            measure("modsim model step (masks, 2 heads, max competition)", lambda: model_step(exp, x, y),
                    args.repeats, device),
            measure("modsim full iteration (fresh pairs drawn on the CPU)", lambda: iteration(exp), args.repeats,
                    device)]
    rows[1]["ratio"] = rows[0]["ms"] / rows[1]["ms"]
    rows[2]["ratio"] = rows[0]["ms"] / rows[2]["ms"]
    shape = (f"rnn N={spec.network.units} ({'/'.join(str(len(v)) for v in spec.network.group_indices().values())}, "
             f"p={spec.network.recurrent.p}) batch={x.shape[0]} T={x.shape[1]} inputs={x.shape[2]}")
    return shape, rows


def hand_written_ctrnn(u: torch.Tensor, input2h: nn.Linear, h2h: nn.Linear, alpha: float) -> torch.Tensor:
    """The textbook CTRNN loop (as in neurogym's examples): (B, T, in) inputs -> (B, T, N) rates."""
    r = u.new_zeros(u.shape[0], h2h.weight.shape[0])
    rates = []
    for t in range(u.shape[1]):
        r = r * (1 - alpha) + alpha * torch.relu(input2h(u[:, t]) + h2h(r))
        rates.append(r)
    return torch.stack(rates, dim=1)


def bench_ctrnn(args, device) -> tuple[str, list[dict]]:
    over = (["network.cell.units=8", "network.groups.all=8", "training.batch=4", "task.stimulus=200",
             "task.eval_trials=12"] if args.tiny else [])
    spec, exp = experiment("specs/ctrnn_pdm.yaml", over, device)
    x, y = exp.next_batch()
    cell = exp.model.rnn
    torch.manual_seed(0)
    input2h = nn.Linear(spec.task.input_dim, spec.network.units).to(device)
    h2h = nn.Linear(spec.network.units, spec.network.units, bias=False).to(device)
    head = nn.Linear(spec.network.units, spec.task.output_dim).to(device)
    opt = torch.optim.Adam([*input2h.parameters(), *h2h.parameters(), *head.parameters()], lr=3e-3)
    target = y[..., 0].long().reshape(-1)

    def plain() -> None:
        logits = head(hand_written_ctrnn(x, input2h, h2h, cell.alpha))
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    rows = [measure("hand-written loop + linear, fwd+bwd+Adam", plain, args.repeats, device),
            measure("modsim model step", lambda: model_step(exp, x, y), args.repeats, device),
            measure("modsim full iteration (fresh trials drawn on the CPU)", lambda: iteration(exp), args.repeats,
                    device)]
    rows[1]["ratio"] = rows[0]["ms"] / rows[1]["ms"]
    rows[2]["ratio"] = rows[0]["ms"] / rows[2]["ms"]
    shape = f"ctrnn N={spec.network.units} batch={x.shape[0]} T={x.shape[1]} inputs={x.shape[2]}"
    return shape, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of " + ",".join(KINDS))
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (a CPU smoke test), not paper scale")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}; choose from {', '.join(KINDS)}")
    info = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
            "torch": torch.__version__, "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
            "threads": torch.get_num_threads(), "python": sys.version.split()[0], "repeats": args.repeats,
            "tiny": args.tiny}
    print(" ".join(f"{k}={v}" for k, v in info.items()), flush=True)
    results = {"info": info, "kinds": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            if kind == "gru":
                shape, rows = bench_gru(args, device)
            elif kind == "leaky":
                shape, rows = bench_leaky(args, device)
            elif kind == "rnn":
                shape, rows = bench_rnn(args, device, Path(tmp))
            else:
                shape, rows = bench_ctrnn(args, device)
            results["kinds"][kind] = {"shape": shape, "rows": rows}
            print(f"\n{shape}\n| case | median ms | peak MiB | transient MiB | ratio baseline / modsim |\n"
                  "|---|---|---|---|---|")
            for r in rows:
                mem = (f"{r['peak_mib']:.1f} | {r['transient_mib']:.1f}" if "peak_mib" in r else "- | -")
                ratio = f"{r['ratio']:.3f}" if "ratio" in r and math.isfinite(r["ratio"]) else ""
                print(f"| {r['case']} | {r['ms']:.2f} | {mem} | {ratio} |", flush=True)
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
