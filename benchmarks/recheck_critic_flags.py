"""Check the final monitoring critics of a sweep again with the flag rule as it now is.

    python benchmarks/recheck_critic_flags.py SWEEP_STORE

For every run of the sweep: compile its spec, restore its saved training state (the last checkpoint's), and
take the first `mine` term's held-out estimate and flag on the run's stored held-out activity (`MineTerm.heldout`;
fresh draws of the critic's generator, so the values move by a few tenths from the stored ones). Prints the
stored and the new value and flag, and the largest joint and product-of-marginals scores.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from modsim.compile import compile_experiment
from modsim.compile.state import restore_state
from modsim.store import open_run, read_run, read_section, read_state
from modsim.store.sweep import sweep_store


def main(path: str) -> None:
    torch.set_num_threads(1)
    stored_flags = new_flags = 0
    runs = sweep_store(path).run_paths()
    for run in runs:
        exp = compile_experiment(read_run(run).spec, torch.device("cpu"))
        restore_state(exp, read_state(run))
        hidden = read_section(open_run(run), "eval")["hidden"]
        term = next(t for t in exp.terms if t.name == "mi")
        t_joint, t_marg = term.estimators[0]._scores(term.groups(torch.from_numpy(hidden)), noise=True)
        out = term.heldout(hidden)
        metrics = read_section(open_run(run), "metrics")
        stored_flags += int(metrics["mi_diverged"][-1])
        new_flags += int(out["mi_diverged"])
        print(f"{Path(run).name} stored mi {metrics['mi'][-1]:.3f} flag {int(metrics['mi_diverged'][-1])} | final "
              f"critic again: mi {out['mi']:.3f} flag {int(out['mi_diverged'])}, largest joint score "
              f"{float(t_joint.abs().max()):.1f}, largest marginal {float(t_marg.abs().max()):.1f}")
    print(f"flagged at the end: stored rule {stored_flags} / {len(runs)}; new rule {new_flags} / {len(runs)}")


if __name__ == "__main__":
    main(sys.argv[1])
