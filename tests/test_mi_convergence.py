"""MI figures a user can trust (issue 31): the held-out MINE estimate carries a 0/1 flag `mi_diverged` when its
critic gave no converged estimate (`modsim.critic_check`); run summaries mark it, `modsim summarize` and the
sweep reports leave it out of means and say how many were left out."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from modsim.critic_check import (BELOW_FLOOR, MI_FLOOR, NON_FINITE, OVERFLOW, SCORE_CEILING, critic_verdict,
                                    diverged_flag)
from modsim.analysis.summary import DIVERGED_MARK, marks
from modsim.compile.losses.mine import MineEstimator, largest_score
from modsim.compile.losses.mine_bounds import dv_bound, infonce_bound, nwj_bound
from modsim.spec import MineConstraint
from modsim.sweep.stats import RunRecord, left_out, summarize
from modsim.testing import make_plan_context, make_snapshot
from modsim import registry
from tests.conftest import ROOT, SHRINK, shrink_mine, shrink_task


def _verdict(t_joint, t_marginal) -> str | None:
    """The rule on hand-made DV scores, as the held-out estimate applies it."""
    t_joint, t_marginal = torch.as_tensor(t_joint, dtype=torch.float32), torch.as_tensor(t_marginal,
                                                                                         dtype=torch.float32)
    return critic_verdict(float(dv_bound(t_joint, t_marginal)), largest_score(t_joint, t_marginal))


def test_a_constant_critic_and_a_log_density_ratio_critic_pass():
    g = torch.Generator().manual_seed(0)
    assert _verdict(torch.full((64,), 3.0), torch.full((64,), 3.0)) is None  # a constant critic: exactly 0
    # the optimal critic of correlated Gaussians, T = log p(x, y) / p(x) p(y): DV near the MI (0.14 nats), > 0
    rho, n = 0.5, 4096
    x = torch.randn(n, generator=g)
    y = rho * x + math.sqrt(1 - rho ** 2) * torch.randn(n, generator=g)
    y_shuffled = y[torch.randperm(n, generator=g)]

    def log_ratio(a, b):
        return (-0.5 * math.log(1 - rho ** 2) - (rho ** 2 * (a ** 2 + b ** 2) - 2 * rho * a * b)
                / (2 * (1 - rho ** 2)))

    joint, marginal = log_ratio(x, y), log_ratio(x, y_shuffled)
    assert float(dv_bound(joint, marginal)) == pytest.approx(-0.5 * math.log(1 - rho ** 2), abs=0.05)
    assert _verdict(joint, marginal) is None


def test_a_few_blown_up_marginal_scores_drive_dv_below_the_floor_and_are_flagged():
    joint, marginal = np.zeros(64), np.zeros(64)
    marginal[:2] = 30.0  # two shuffled rows scored far above every joint row: log-mean-exp ~ 30 - log 32
    value = float(dv_bound(torch.tensor(joint), torch.tensor(marginal)))
    assert value == pytest.approx(-(30.0 - math.log(32)), abs=1e-3)
    assert _verdict(joint, marginal) == BELOW_FLOOR


def test_the_floor_is_minus_five_hundredths_of_a_nat():
    assert MI_FLOOR == -0.05
    assert critic_verdict(-0.05) is None and critic_verdict(-0.0501) == BELOW_FLOOR
    assert critic_verdict(0.0) is None and critic_verdict(3.2) is None


def test_overflowing_scores_are_flagged_even_where_the_bound_looks_fine():
    # DV of a critic shifted to 1000 is 1 nat, but e^T is infinite in float32: its weights have blown up
    assert float(torch.finfo(torch.float32).max) == pytest.approx(math.exp(SCORE_CEILING), rel=1e-6)
    joint, marginal = np.full(64, 1001.0), np.full(64, 1000.0)
    assert float(dv_bound(torch.tensor(joint), torch.tensor(marginal))) == pytest.approx(1.0)
    assert _verdict(joint, marginal) == OVERFLOW
    assert _verdict(np.full(64, -200.0), np.full(64, -200.5)) == OVERFLOW  # either sign
    assert _verdict(np.full(64, 80.5), np.full(64, 80.0)) is None  # large but representable


def test_non_finite_scores_or_estimates_are_flagged():
    joint, marginal = np.zeros(64), np.zeros(64)
    marginal[3] = np.nan
    assert _verdict(joint, marginal) == NON_FINITE
    marginal[3] = np.inf
    assert _verdict(joint, marginal) == NON_FINITE
    assert critic_verdict(float("nan")) == NON_FINITE and critic_verdict(float("-inf")) == NON_FINITE
    # an NWJ partition term that overflows float32 is an infinite (negative) estimate
    t = torch.full((64,), 100.0)
    assert critic_verdict(float(nwj_bound(t, t)), largest_score(t)) is not None


def test_infonce_scores_are_judged_too():
    scores, joint = torch.zeros(2, 4, 4), torch.zeros(2, 4)
    assert critic_verdict(float(infonce_bound(scores, joint)), largest_score(scores, joint)) is None
    scores[0, 1, 2] = 40.0  # a negative pair scored far above its positive: the bound drops far below 0
    assert critic_verdict(float(infonce_bound(scores, joint)), largest_score(scores, joint)) == BELOW_FLOOR


def test_the_stored_flag_is_nan_without_an_estimate():
    assert math.isnan(diverged_flag(None))
    assert diverged_flag(-560.2) == 1.0 and diverged_flag(0.01) == 0.0 and diverged_flag(0.01, 1e4) == 1.0


def test_the_checked_estimate_is_the_estimate_with_the_same_draws():
    spec = MineConstraint(kind="mine", between=("a", "b"), weight=0.0, hidden=16, noise=0.1, samples=32)
    a, b = MineEstimator(spec, [3, 3], torch.device("cpu"), seed=4), MineEstimator(spec, [3, 3], torch.device("cpu"),
                                                                                 seed=4)
    x, y = torch.randn(50, 3), torch.randn(50, 3)
    value, top = a.checked_estimate(x, y)
    assert float(value) == float(b.estimate(x, y)) and 0 < top < SCORE_CEILING
    assert torch.equal(a.generator.get_state(), b.generator.get_state())  # the flag draws nothing


@pytest.mark.parametrize("bound", ["dv", "clipped_dv"])
def test_the_overflow_check_reads_the_scores_the_bound_exponentiates(bound):
    """dv exponentiates every marginal score: a critic scoring 200 overflows. clipped_dv exponentiates its clipped
    partition scores only (the joint ones enter linearly): the same critic is judged on scores of at most `clip`
    (issue 31: the flip-flop control's clipped critic has joint scores past 88 with a sound estimate)."""
    spec = MineConstraint(kind="mine", between=("a", "b"), weight=0.0, hidden=16, noise=0.1, samples=32,
                          bound=bound, output_bias=True)
    est = MineEstimator(spec, [3, 3], torch.device("cpu"), seed=4)
    last = est.net.body[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(200.0)
    value, top = est.checked_estimate(torch.randn(50, 3), torch.randn(50, 3))
    if bound == "dv":
        assert top == pytest.approx(200.0) and critic_verdict(float(value), top) == OVERFLOW
    else:
        assert top == pytest.approx(spec.clip) and float(value) == pytest.approx(200.0 - spec.clip, rel=1e-5)


def test_the_mi_metric_stores_the_flag_beside_the_value():
    mi = registry.metrics.get("mi")
    assert "mi_diverged" in mi.stored_keys
    for value, stored, flag in ((0.3, 0.0, 0.0), (0.3, 1.0, 1.0), (-560.2, None, 1.0), (-560.2, 0.0, 1.0),
                                (0.3, None, 0.0)):
        snap = make_snapshot(mi=value, mi_diverged=stored)
        assert mi.compute(snap, make_plan_context(snap)) == {"mi": value, "mi_diverged": flag}
    snap = make_snapshot()
    out = mi.compute(snap, make_plan_context(snap))
    assert math.isnan(out["mi"]) and math.isnan(out["mi_diverged"])


def test_the_run_summary_marks_a_diverged_estimate(capsys):
    from modsim.cli.run import print_summary

    result = SimpleNamespace(path="store/ctrl", steps=800, seconds=1.0, output_names=[],
                             metrics={"mi": -560.238, "mi_diverged": 1.0, "q_cor": -0.026})
    assert marks(result.metrics) == {"MI estimate (nats)": DIVERGED_MARK}
    print_summary(result)
    out = capsys.readouterr().out
    assert "-560.2380 (diverged)" in out and "-0.0260 (diverged)" not in out
    assert marks({"mi": 0.31, "mi_diverged": 0.0}) == {} and marks({"mi": 0.31}) == {}


def _records(flags: list[float], condition: str = "ctrl") -> dict[str, list[RunRecord]]:
    values = [0.1 * (i + 1) if not f else -500.0 - i for i, f in enumerate(flags)]
    return {condition: [RunRecord(f"seed={i}", {}, {"mi": v, "mi_diverged": f, "q_cor": 0.2})
                        for i, (v, f) in enumerate(zip(values, flags))]}


def test_summarize_leaves_flagged_estimates_out_of_means_and_counts_them():
    flags = [0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    groups = _records(flags)
    s = summarize(groups)
    j = s.metrics.index("mi")
    kept = [0.1 * (i + 1) for i, f in enumerate(flags) if not f]
    assert s.n[0, j] == 5 and s.mean[0, j] == pytest.approx(np.mean(kept)) and s.left_out[0, j] == 3
    assert s.n[0, s.metrics.index("q_cor")] == 8 and s.left_out[0, s.metrics.index("q_cor")] == 0
    assert s.mean[0, s.metrics.index("mi_diverged")] == pytest.approx(3 / 8)  # the flag itself: the fraction
    (left,) = left_out(groups)
    assert left.line() == "mi: 3 of 8 runs left out (critic diverged: mi_diverged)"
    assert left.runs == ["seed=1", "seed=3", "seed=6"]
    assert left_out(_records([0.0] * 4)) == []
    # a run stored before the flag existed has no flag: its value stays in
    old = {"old": [RunRecord("a", {}, {"mi": -3.0}), RunRecord("b", {}, {"mi": 1.0})]}
    assert summarize(old).n.tolist() == [[2]] and left_out(old) == []


TINY_FLIPFLOP = (SHRINK + shrink_task("flipflop") + shrink_mine() + ["training.threads=1"])


def test_the_store_describes_the_flag():
    from modsim.store.describe import array_attrs

    attrs = array_attrs("metrics", "mi_diverged")
    assert attrs["units"] == "1" and "not a converged estimate" in attrs["description"] and "-0.05" in \
        attrs["description"]
    assert array_attrs("metrics", "mi_1_diverged")["units"] == "1"
    assert array_attrs("metrics", "mi")["units"] == "nats"


@pytest.mark.slow
def test_a_diverging_critic_is_flagged_and_summarize_leaves_its_mi_out(tmp_path: Path):
    """A monitoring critic on the plain DV bound with a learning rate of 10 blows up (its held-out DV estimate is
    about -2e9 nats in this tiny run); the default one converges (flag 0). `summarize` over both runs, one condition, keeps the
    converged estimate alone and says it left the other out."""
    from modsim.cli import main
    from modsim.store import open_run, read_metrics
    from modsim.store.layout import SWEEP_RUNS

    spec = ROOT / "specs" / "flipflop3_nomi.yaml"
    grid = "sweep={grid: {'constraints[0].lr': [0.003, 10.0]}, seeds: 1}"
    args = ["sweep", str(spec), "--store", str(tmp_path), "--jobs", "2"]
    for item in TINY_FLIPFLOP + ["constraints[0].bound=dv", grid]:  # the plain DV bound (the spec's clipped one holds)
        args += ["--set", item]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (sweep,) = [p for p in tmp_path.iterdir() if p.is_dir()]  # the sweep store, however the sweep names it
    runs = sweep / SWEEP_RUNS
    diverged, normal = runs / "lr=10.0,seed=2001", runs / "lr=0.003,seed=2001"
    bad, good = read_metrics(open_run(diverged)), read_metrics(open_run(normal))
    assert np.all(bad["mi"] < -1.0) and np.all(bad["mi_diverged"] == 1.0)  # strongly negative at every checkpoint
    assert good["mi"][-1] > MI_FLOOR and good["mi_diverged"][-1] == 0.0
    assert open_run(diverged).attrs["summary"]["mi_diverged"] == 1.0
    assert open_run(normal).attrs["summary"]["mi_diverged"] == 0.0

    out = tmp_path.parent / f"{tmp_path.name}-stats"
    summary = CliRunner().invoke(main, ["summarize", str(sweep), "--by", "training.seed",
                                        "-o", str(out)], terminal_width=250)
    assert summary.exit_code == 0, summary.output
    assert "mi: 1 of 2 runs left out (critic diverged: mi_diverged)" in summary.output
    assert "lr=10.0,seed=2001" in summary.output
    rows = {r.split(",")[1]: r.split(",") for r in (out / "summary.csv").read_text().splitlines()[1:]}
    assert int(rows["mi"][4]) == 1
    assert float(rows["mi"][2]) == pytest.approx(float(good["mi"][-1]), rel=1e-6)  # the converged one alone
    assert float(rows["mi_diverged"][2]) == 0.5
