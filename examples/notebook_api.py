"""modsim from Python, as in a notebook: build a spec in code, train it, read its metrics and held-out data
as xarray, get the trained network back and check it reproduces the stored outputs exactly.

    python examples/notebook_api.py [STORE]     # a tiny working-memory run, seconds on a CPU
"""

from __future__ import annotations

import sys
import tempfile

import numpy as np

import modsim


def main(store: str) -> modsim.Run:
    spec = modsim.load_spec("specs/wm_leaky_mi.yaml", [
        "training.steps=6", "training.checkpoint_every=3", "task.transient=20", "task.length=60",
        "task.eval_sequences=3", "constraints[0].warmup_steps=2", "constraints[0].steps_per_update=2",
        "constraints[0].samples=256", "sweep=null"])
    # a spec can also be built from a dict, with the same friendly errors as a file
    data = spec.model_dump(mode="json", by_alias=True)
    data["name"] = "from_python"
    spec = modsim.spec_from_dict(data)

    run = modsim.run(spec, store=store)
    print(run)
    print(run.metrics[["q_cor", "d_cor", "sign_accuracy"]].to_dataframe() if hasattr(run.metrics, "to_dataframe")
          else run.metrics)
    held = run.heldout
    print("activity of group g1:", held.activity.where(held.group == "g1", drop=True).shape)
    outputs, activity = run.rerun_heldout()
    assert np.array_equal(outputs, held.outputs.values), "the rebuilt network must reproduce the stored outputs"
    assert np.array_equal(activity, held.activity.values)
    print("the rebuilt network reproduces the stored held-out outputs exactly")
    return run


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="modsim-example-"))
