"""Packed training: per-member step time of each cell kind at E members, and a packed sweep against runs alone.

    python benchmarks/bench_packing.py steps [--members 1 4 16 64] [--threads 2] [--repeats 5]
    python benchmarks/bench_packing.py sweep --store DIR [--seeds 16] [--steps 50] [--jobs 2] [--pack auto]

`steps`: for each cell kind, the model step of E members of its spec (seeds 1..E, every loss term of the spec
but the statistics network's, which is timed by bench_penalties.py) through `modsim.train.pack_step`, on one
process with `--threads` torch threads; prints the median per-member time over `--repeats` steps (after one
warm-up step) and the speed-up over E = 1, and whether the batched loop was used (`packed`: the probe found it
exact on this machine) or the members ran one by one.

`sweep`: the 16-seed x 2-condition study of `wm_leaky_mi` / `wm_leaky_nomi` (or the specs `--specs` names),
shortened to `--steps` model steps,
once as today (`modsim sweep --jobs 2`, every run alone) and once packed (`--pack auto --jobs 2`), each condition
in its own sweep store under `--store`; prints the wall time of each and their ratio, and checks that every array
of every packed run equals the same run trained alone.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
KINDS = {"leaky": ("wm_leaky_nomi", ["constraints=[]", "analysis.metrics=[mse]"]),
         "ctrnn": ("ctrnn_pdm", []),
         "rnn": ("bena_fused", []),
         "gru": ("gru_lorenz_rossler_nomi", ["constraints=[]", "analysis.metrics=[mse]"])}
"""Each cell kind's spec and the overrides that leave out its statistics network."""
CONDITIONS = ("wm_leaky_mi", "wm_leaky_nomi")
"""The study `sweep` times by default (`--specs` names others)."""


def steps(args) -> None:
    from modsim.compile import packing
    from modsim.spec import load_spec
    from modsim.train import compile_members, pack_step

    torch.set_num_threads(args.threads)
    print(f"| kind | spec | E | per-member step (ms) | speed-up over E = 1 | loop |")
    print("|---|---|---|---|---|---|")
    for kind, (name, overrides) in KINDS.items():
        base = None
        for members in args.members:
            specs = [load_spec(ROOT / "specs" / f"{name}.yaml",
                               overrides=[*overrides, f"training.seed={seed}", f"training.threads={args.threads}"])
                     for seed in range(1, members + 1)]
            exps, streams = compile_members(specs)
            packing._EXACT.clear()
            pack_step(exps, streams)  # warm-up (and the exactness probe)
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                pack_step(exps, streams)
                times.append((time.perf_counter() - start) / members)
            per = statistics.median(times) * 1e3
            base = base or per
            loop = "packed" if members > 1 and packing.can_pack([e.model for e in exps]) and all(
                packing._EXACT.values()) and packing._EXACT else ("alone" if members == 1 else "one by one")
            print(f"| {kind} | {name} | {members} | {per:.1f} | {base / per:.2f}x | {loop} |", flush=True)


def _sweep(condition: str, store: Path, args, pack: str | None) -> float:
    command = [sys.executable, "-m", "modsim.cli", "sweep", str(ROOT / "specs" / f"{condition}.yaml"),
               "--store", str(store), "--set", f"sweep.seeds={args.seeds}", "--set", f"training.steps={args.steps}",
               "--set", f"training.checkpoint_every={max(1, args.steps // 2)}", "--jobs", str(args.jobs)]
    if pack:
        command += ["--pack", pack]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _arrays(run: Path) -> dict[str, np.ndarray]:
    from modsim.store import open_run, read_section

    group = open_run(run)
    return {f"{s}/{k}": v for s in ("train", "metrics", "checkpoints", "eval", "weights")
            for k, v in read_section(group, s).items()}


def sweep(args) -> None:
    store = Path(args.store)
    rows = []
    for condition in args.specs:
        alone = _sweep(condition, store / "alone", args, None)
        packed = _sweep(condition, store / "packed", args, args.pack)
        rows.append((condition, alone, packed))
        print(f"{condition}: alone (--jobs {args.jobs}) {alone:.1f} s, packed (--pack {args.pack} --jobs "
              f"{args.jobs}) {packed:.1f} s, ratio {alone / packed:.2f}x", flush=True)
    total_alone, total_packed = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"both conditions: alone {total_alone:.1f} s, packed {total_packed:.1f} s, ratio "
          f"{total_alone / total_packed:.2f}x")
    differing = 0
    for condition in args.specs:
        runs = sorted((store / "alone" / f"{condition}-sweep" / "runs").iterdir())
        for run in runs:
            a, b = _arrays(run), _arrays(store / "packed" / f"{condition}-sweep" / "runs" / run.name)
            same = sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)
            differing += not same
    print(f"runs whose arrays differ between packed and alone: {differing}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("steps")
    p.add_argument("--members", type=int, nargs="+", default=[1, 4, 16, 64])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p = sub.add_parser("sweep")
    p.add_argument("--store", required=True)
    p.add_argument("--seeds", type=int, default=16)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--pack", default="auto")
    p.add_argument("--specs", nargs="+", default=list(CONDITIONS), help="the conditions (spec names in specs/)")
    args = parser.parse_args()
    steps(args) if args.what == "steps" else sweep(args)


if __name__ == "__main__":
    main()
