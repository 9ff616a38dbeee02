"""The rate costs `rate_l1` and `rate_l2` (metabolic costs on the activity): the term against a hand
computation and its gradient against the closed form and finite differences (float64), weight 0 contributes
nothing, the spec's checks name their field, the cost estimate `modsim run` prints lists the term, and a tiny
training run with a large penalty ends with lower rates than the same run without it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import modsim
from modsim.cli import main
from modsim.cli.run import cost_line
from modsim.compile import compile_experiment
from modsim.compile.losses.rates import RateCostTerm, rate_cost
from modsim.spec.constraints_rates import RateL1Constraint, RateL2Constraint
from modsim.store import open_run, read_metrics, read_section
from tests.conftest import ROOT
from tests.test_pipeline import shrunk

WM = ROOT / "specs" / "wm_leaky_nomi.yaml"
NO_MI = "analysis.metrics=[sign_accuracy, mse, d_cor, silenced]"
"""`wm_leaky_nomi`'s plan without `mi`, which needs a mine constraint."""
WIDTHS = {"g0": 3, "g1": 4, "g2": 5}
"""Groups of the synthetic activity, side by side in this order (12 units)."""
SPECS = {"rate_l1": RateL1Constraint, "rate_l2": RateL2Constraint}


def units_of(names) -> torch.Tensor:
    """Unit indices of the groups `names` (in WIDTHS' layout), in the order named."""
    edges = np.cumsum([0, *WIDTHS.values()])
    where = {g: range(int(edges[i]), int(edges[i + 1])) for i, g in enumerate(WIDTHS)}
    return torch.tensor([u for g in names for u in where[g]], dtype=torch.long)


def make_term(kind: str, task_washout: int = 0, index: int = 0, **fields) -> RateCostTerm:
    """A rate-cost term on (trials, time, 12) activity laid out as WIDTHS, the task's washout `task_washout`."""
    context = SimpleNamespace(index=index, device=torch.device("cpu"), task=SimpleNamespace(washout=task_washout),
                              group_units={g: units_of([g]) for g in WIDTHS}, seed=0)
    return RateCostTerm(SPECS[kind](kind=kind, **fields), context)


def activity(seed: int, trials: int = 4, time: int = 9) -> torch.Tensor:
    """Random float64 (trials, time, 12) activity of both signs, no element near 0 (|r| is smooth there)."""
    rng = np.random.default_rng(seed)
    r = rng.uniform(0.05, 1.5, (trials, time, sum(WIDTHS.values()))) * rng.choice([-1.0, 1.0], (trials, time, 12))
    return torch.from_numpy(r)


def by_hand(r: np.ndarray, kind: str, washout: int, groups) -> float:
    """weight-free cost: (1 / (B (T - w) |U|)) sum_b sum_{t >= w} sum_{i in U} |r_bti| (or r_bti^2), by loops."""
    names = list(WIDTHS) if groups is None else groups
    chosen = units_of(names).tolist()
    total, count = 0.0, 0
    for b in range(r.shape[0]):
        for t in range(washout, r.shape[1]):
            for i in chosen:
                total += abs(r[b, t, i]) if kind == "rate_l1" else r[b, t, i] ** 2
                count += 1
    return total / count


CASES = [(None, 0, None), (None, 3, None), (["g1"], 0, None), (["g2", "g0"], 2, None), (["g1"], 0, 4),
         (None, 3, 0)]
"""(groups, the task's washout, the constraint's washout): every unit or some groups (in any order), the
task's washout or the constraint's own (which wins, 0 included)."""


@pytest.mark.parametrize("kind", list(SPECS))
@pytest.mark.parametrize("groups, task_washout, washout", CASES)
def test_the_term_is_the_hand_computed_mean(kind, groups, task_washout, washout):
    r = activity(seed=len(groups or []) + task_washout)
    weight = 0.37
    term = make_term(kind, task_washout=task_washout, weight=weight, groups=groups, washout=washout)
    used = task_washout if washout is None else washout
    want = by_hand(r.numpy(), kind, used, groups)
    value, monitored = term.loss(None, None, r)
    assert value.dtype == torch.float64
    assert float(value) == pytest.approx(weight * want, rel=1e-12, abs=1e-12)
    assert float(monitored[f"{kind}_mean"]) == pytest.approx(want, rel=1e-12, abs=1e-12)
    assert term.heldout(r.numpy()) == {kind: pytest.approx(want, rel=1e-12, abs=1e-12)}


def test_l1_and_l2_of_a_known_activity():
    """Two trials, two steps, one unit: r = [[1, -2], [3, -4]] -> mean |r| = 2.5, mean r^2 = 7.5; washout 1
    leaves [-2, -4]: 3 and 10."""
    r = torch.tensor([[[1.0], [-2.0]], [[3.0], [-4.0]]], dtype=torch.float64)
    assert float(rate_cost(r, "l1", 0)) == 2.5 and float(rate_cost(r, "l2", 0)) == 7.5
    assert float(rate_cost(r, "l1", 1)) == 3.0 and float(rate_cost(r, "l2", 1)) == 10.0
    with pytest.raises(ValueError, match="washout 2 leaves none"):
        rate_cost(r, "l1", 2)


@pytest.mark.parametrize("kind", list(SPECS))
@pytest.mark.parametrize("groups, task_washout, washout", CASES)
def test_the_gradient_is_the_closed_form_and_passes_gradcheck(kind, groups, task_washout, washout):
    """d/dr_bti of weight * mean: weight sign(r_bti) / N (L1) or 2 weight r_bti / N (L2) on the N counted
    elements, 0 on the washout and on the other groups' units; and torch's finite-difference gradcheck."""
    r = activity(seed=5, trials=3, time=7).requires_grad_(True)
    weight = 1.9
    term = make_term(kind, task_washout=task_washout, weight=weight, groups=groups, washout=washout)
    value, _ = term.loss(None, None, r)
    (grad,) = torch.autograd.grad(value, r)
    used = task_washout if washout is None else washout
    mask = torch.zeros_like(r, dtype=torch.bool)
    mask[:, used:, units_of(list(WIDTHS) if groups is None else groups)] = True
    n = int(mask.sum())
    x = r.detach()
    want = torch.where(mask, weight * (torch.sign(x) if kind == "rate_l1" else 2 * x) / n, torch.zeros_like(x))
    torch.testing.assert_close(grad, want, rtol=1e-12, atol=1e-15)
    assert torch.autograd.gradcheck(lambda h: term.loss(None, None, h)[0], (r,), eps=1e-6, atol=1e-9)


@pytest.mark.parametrize("kind", list(SPECS))
def test_weight_zero_contributes_nothing_but_is_monitored(kind):
    r = activity(seed=3)
    value, monitored = make_term(kind, weight=0.0).loss(None, None, r)
    assert value is None
    assert float(monitored[f"{kind}_mean"]) == pytest.approx(by_hand(r.numpy(), kind, 0, None), rel=1e-12)


@pytest.mark.parametrize("kind", list(SPECS))
def test_weight_zero_leaves_the_objective_and_its_gradient_unchanged(kind):
    """The same network and minibatch with and without a weight-0 rate cost: the same summed objective and the
    same gradient, to the bit (the term draws nothing, so it shifts no other term's random stream)."""
    plain = shrunk(WM, [NO_MI, "constraints=[{kind: l2, weight: 0.01}, {kind: engagement}]"])
    zero = shrunk(WM, [NO_MI, f"constraints=[{{kind: l2, weight: 0.01}}, {{kind: {kind}, weight: 0}}, "
                              "{kind: engagement}]"])
    results = []
    for spec in (plain, zero):
        exp = compile_experiment(spec)
        inputs, targets = exp.next_batch()
        outputs, hidden = exp.forward(inputs)
        terms, monitors = exp.objective(outputs, targets, hidden)
        total = sum(terms.values())
        total.backward()
        grads = [p.grad.clone() for p in exp.model.parameters()]
        results.append((sorted(terms), float(total.detach()), grads, monitors))
    assert results[0][0] == results[1][0] == ["engagement", "l2", "task"]
    assert results[0][1] == results[1][1]
    for a, b in zip(results[0][2], results[1][2]):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert f"{kind}_mean" in results[1][3] and f"{kind}_mean" not in results[0][3]


def test_names_of_several_constraints_of_one_kind():
    assert make_term("rate_l1", weight=1.0).name == "rate_l1"
    assert make_term("rate_l1", weight=1.0, index=1).name == "rate_l1_1"
    assert make_term("rate_l2", weight=1.0, index=2).name == "rate_l2_2"


# ---------------------------------------------------------------- the spec

def load(constraints: str) -> modsim.Spec:
    return modsim.load_spec(WM, [f"constraints={constraints}", NO_MI])


@pytest.mark.parametrize("kind", list(SPECS))
def test_defaults_and_fields(kind):
    spec = load(f"[{{kind: l2, weight: 0.01}}, {{kind: {kind}, weight: 0.5}}]")
    c = spec.constraints[1]
    assert (c.kind, c.weight, c.groups, c.washout) == (kind, 0.5, None, None)
    spec = load(f"[{{kind: {kind}, weight: 0.5, groups: [g2], washout: 0}}]")
    assert (spec.constraints[0].groups, spec.constraints[0].washout) == (["g2"], 0)


@pytest.mark.parametrize("kind", list(SPECS))
@pytest.mark.parametrize("fields, message", [
    ("weight: 1, groups: [g1, g3]", r"constraints\[1\]\.groups: .* group 'g3', which is not one of network\.groups"),
    ("weight: 1, groups: [g1, g1]", r"constraints\[1\]\.groups: .* names a group twice"),
    ("weight: 1, groups: []", r"constraints\[1\]\.groups"),
    ("weight: 1, washout: 800", r"constraints\[1\]\.washout: 800 leaves no time step of the task's 800"),
    ("weight: 1, washout: -1", r"constraints\[1\]\.washout"),
    ("weight: -1", r"constraints\[1\]\.weight"),
    ("groups: [g1]", r"constraints\[1\]\.weight: required"),
    ("weight: 1, norm: l1", r"constraints\[1\]\.norm"),
])
def test_invalid_fields_are_errors_naming_the_field(kind, fields, message):
    with pytest.raises(modsim.SpecError, match=message):
        load(f"[{{kind: l2, weight: 0.01}}, {{kind: {kind}, {fields}}}]")


def test_the_cost_estimate_lists_the_term():
    """`modsim run` prints the cost per step part by part: a rate cost is one of the parts, with its elements
    (batch 20 x (800 - the 200 transient) steps x the 20 units of g2)."""
    spec = load("[{kind: l2, weight: 0.01}, {kind: rate_l1, weight: 1}, {kind: rate_l2, weight: 1, groups: [g2]}]")
    parts = spec.cost_per_step()
    assert parts["constraints[1] (rate_l1)"][0] == 3.0 * 2 * 20 * 600 * 40
    assert parts["constraints[2] (rate_l2)"][0] == 3.0 * 2 * 20 * 600 * 20
    line = cost_line(spec)
    assert "constraints[1] (rate_l1)" in line and "constraints[2] (rate_l2)" in line
    assert "20 trials x 600 steps x 20 units, set by training.batch" in line


def test_the_reference_page_documents_the_formula():
    from tests.test_docs_reference import _hooks

    page = _hooks().family_page("constraints")
    for kind, cost in (("rate_l1", "|r_bti|"), ("rate_l2", "r_bti^2")):
        section = page.split(f"## `{kind}`", 1)[1].split("\n## ", 1)[0]
        assert f"weight * 1 / (B (T - w) |U|) * sum_b sum_{{t >= w}} sum_{{i in U}} {cost}" in section
        for field in ("weight", "groups", "washout"):
            assert f"| `{field}` |" in section


# ---------------------------------------------------------------- training

def quick_run(store, name: str, constraints: str, *extra: str):
    """`modsim run specs/wm_leaky_nomi.yaml --quick` (20 steps, tiny data) with these constraints; the CLI's
    output, the stored train log and metrics."""
    sets = [f"constraints={constraints}", NO_MI, *extra]
    result = CliRunner().invoke(main, ["run", str(WM), "--quick", "--quiet", "--store", str(store), "--name", name,
                                       *[a for s in sets for a in ("--set", s)]])
    assert result.exit_code == 0, result.output + repr(result.exception)
    run = open_run(store / name)
    return result.output, read_section(run, "train"), read_metrics(run)


BASE = "{kind: l2, weight: 0.01}, {kind: engagement}"
MONITORED = f"[{BASE}, {{kind: rate_l1, weight: 0}}, {{kind: rate_l2, weight: 0}}]"
"""The control: both rate costs at weight 0 (monitored, stored as metrics, not optimised)."""


@pytest.fixture(scope="module")
def control(tmp_path_factory):
    store = tmp_path_factory.mktemp("rates")
    return store, quick_run(store, "control", MONITORED)


@pytest.mark.slow
def test_a_monitored_rate_cost_leaves_the_run_unchanged(control):
    """The control's training and metrics equal, to the bit, those of the same run without the rate costs."""
    store, (_, log, metrics) = control
    _, plain_log, plain_metrics = quick_run(store, "plain", f"[{BASE}]")
    for key in ("task", "l2", "total", "engagement_min"):
        np.testing.assert_array_equal(log[key], plain_log[key], err_msg=key)
    for key, value in plain_metrics.items():
        np.testing.assert_array_equal(np.asarray(metrics[key]), np.asarray(value), err_msg=key)
    assert "rate_l1" not in log and "rate_l2" not in log  # weight 0: no loss term
    assert log["rate_l1_mean"].shape == (20,) and metrics["rate_l1"].shape == (3,)


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(SPECS))
def test_a_large_rate_cost_lowers_the_rates(control, kind):
    """20 quick steps with weight 5 against the control (measured on 2026-12-06: held-out mean |r| 0.217
    (rate_l1) and 0.224 (rate_l2) against 0.317; mean r^2 0.074 and 0.078 against 0.145)."""
    store, (_, log, metrics) = control
    other = "rate_l2" if kind == "rate_l1" else "rate_l1"
    output, penalised_log, penalised = quick_run(
        store, kind, f"[{BASE}, {{kind: rate_l1, weight: {5 if kind == 'rate_l1' else 0}}}, "
                     f"{{kind: rate_l2, weight: {5 if kind == 'rate_l2' else 0}}}]")
    assert f"constraints[{2 if kind == 'rate_l1' else 3}] ({kind})" in output  # the printed cost per step
    assert kind in penalised_log and other not in penalised_log
    np.testing.assert_allclose(penalised_log[kind], 5 * penalised_log[f"{kind}_mean"], rtol=1e-6)
    assert metrics["rate_l1"][0] == penalised["rate_l1"][0]  # the same network at step 0
    for measure in ("rate_l1", "rate_l2"):  # mean |r| and mean r^2 on held-out activity, at the last checkpoint
        assert penalised[measure][-1] < 0.9 * metrics[measure][-1], (measure, penalised[measure], metrics[measure])
    assert penalised_log[f"{kind}_mean"][-5:].mean() < 0.9 * log[f"{kind}_mean"][-5:].mean()
