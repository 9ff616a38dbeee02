"""Timing helper shared by the benchmark scripts."""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def step_benchmark_args(doc: str, units: int, batch: int, length: int, repeats: int, extra=None
                        ) -> tuple[argparse.Namespace, torch.device]:
    """Parse the options every step benchmark takes (sizes, repeats, device, threads; `extra(parser)` adds a
    script's own) and apply `--threads`; returns the arguments and the device."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--units", type=int, default=units)
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--length", type=int, default=length)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    if extra is not None:
        extra(parser)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    return args, torch.device(args.device)


def seconds(fn, device: torch.device) -> float:
    """Seconds of one call of `fn` (CUDA synchronised before and after)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t


def timed(fn, repeats: int, device: torch.device) -> float:
    """Median seconds of `fn` over `repeats` calls after two warm-up calls (CUDA synchronised)."""
    for _ in range(2):
        fn()
    return statistics.median(seconds(fn, device) for _ in range(repeats))


def interleaved(fns: dict, repeats: int, device: torch.device) -> dict[str, list[float]]:
    """Seconds of each of `fns` (name -> callable) per round, over `repeats` rounds in which every function runs
    once in turn (after two warm-up rounds; CUDA synchronised): on a machine whose speed drifts, ratios of the
    same round compare like with like."""
    for _ in range(2):
        for fn in fns.values():
            fn()
    rounds: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            rounds[name].append(seconds(fn, device))
    return rounds
