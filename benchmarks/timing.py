"""Timing helper shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time

import torch


def timed(fn, repeats: int, device: torch.device) -> float:
    """Median seconds of `fn` over `repeats` calls after two warm-up calls (CUDA synchronised)."""
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times)
