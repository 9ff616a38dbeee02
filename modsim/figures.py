"""Figures drawn from a stored run alone (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .analysis.specialisation import MEASURES
from .store import open_run, read_metrics

MEASURE_LABELS = {"retrain": "retraining", "ablate": "ablation", "corr": "correlation"}
MODULE_COLOURS = ("#1f77b4", "#d62728")


def specialisation_over_time(run_path: str | Path, out: str | Path, checkpoint: int = -1) -> Path:
    """Per-time-step specialisation of a digit-parity run at one checkpoint (default: the last): F of
    every measure, and F^m per module, against the network's time step. Returns the PNG path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    group = open_run(run_path)
    metrics = read_metrics(group)
    if "spec_retrain_t" not in metrics:
        raise ValueError(f"{run_path} has no specialisation metrics (analysis.metrics needs 'specialisation')")
    step = int(metrics["step"][checkpoint])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    steps = np.arange(1, metrics["spec_retrain_t"].shape[1] + 1)
    for measure, style in zip(MEASURES, ("-o", "--s", ":^")):
        axes[0].plot(steps, metrics[f"spec_{measure}_t"][checkpoint], style, color="k",
                     label=MEASURE_LABELS[measure])
        mbar = metrics[f"spec_{measure}_mbar"][checkpoint]
        for m in range(2):
            axes[1].plot(steps, mbar[m, 0] - mbar[m, 1], style, color=MODULE_COLOURS[m],
                         label=f"module {m + 1}, {MEASURE_LABELS[measure]}")
    axes[0].set(xlabel="network time step", ylabel="specialisation F", ylim=(-0.02, 1.02),
                title=f"F per time step (training step {step})")
    axes[1].axhline(0, color="0.7", lw=0.8)
    axes[1].set(xlabel="network time step", ylabel="F^m = M(m, digit 1) - M(m, digit 2)", ylim=(-1.02, 1.02),
                title="per module")
    axes[0].legend(frameon=False)
    axes[1].legend(frameon=False, fontsize=7, ncol=2)
    for ax in axes:
        ax.set_xticks(steps)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
