"""Per-group / per-unit time constants (`network.time_constants`, fixed or learnable within bounds) and the two
noise fields every cell kind has (`sigma`: recurrent, private noise; `input_sigma`: noise on the input channels):
learnable time constants stay in their bounds after every optimiser step, the per-unit loops equal float64
transcriptions of their equations, the one-rate loops are today's to the bit, validation names the field, the
dynamics probes' Jacobian handles per-unit rates, and every cell's noise enters where its docstring says, is
reproducible for a seeded generator and has exact gradients."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from modsim import registry
from modsim.compile import compile_experiment
from modsim.compile.cells._gru_bptt import Workspace, gru_bptt
from modsim.compile.cells.ctrnn import CTRNN
from modsim.compile.cells.gru import GRU
from modsim.compile.cells.leaky import LeakyRNN
from modsim.compile.cells.rnn import RNN
from modsim.compile.network import ModularRNN
from modsim.compile.time_constants import TimeConstants
from modsim.evaluate.checkpoint import build_network, load_weights
from modsim.evaluate.probes import lesion_similarity, mean_jacobian
from modsim.spec import SpecError, spec_from_dict
from modsim.spec.cells import CTRNNCellSpec, GRUCellSpec, LeakyCellSpec, RNNCellSpec
from modsim.spec.network import Network
from modsim.testing.contracts import check_cell, check_noise

BUILTIN_CELLS = ("gru", "rnn", "leaky", "ctrnn")


def network(cell: dict, groups: dict, time_constants: dict | None = None, outputs: int = 2) -> Network:
    data = {"cell": cell, "groups": groups, "readouts": [{"name": "out", "dim": outputs, "from": list(groups)}]}
    if time_constants is not None:
        data["time_constants"] = time_constants
    return Network.model_validate(data)


def spec_dict(cell: dict, groups: dict, time_constants: dict | None = None, optimizer: dict | None = None) -> dict:
    """A tiny complete spec: a leaky cell on a 2-bit flip-flop, a ctrnn on perceptual decisions (dt = the cell's)."""
    if cell["kind"] == "ctrnn":
        task = {"kind": "perceptual_decision", "dt": cell.get("dt", 20.0), "eval_trials": 4, "stimulus": 200}
        outputs, metrics = 3, ["accuracy"]
    else:
        task = {"kind": "flipflop", "bits": 2, "transient": 5, "length": 30, "eval_sequences": 2}
        outputs, metrics = 2, ["mse"]
    net = {"cell": cell, "groups": groups, "readouts": [{"name": "out", "dim": outputs, "from": list(groups)}]}
    if time_constants is not None:
        net["time_constants"] = time_constants
    return {"name": "tc", "network": net, "task": task,
            "training": {"steps": 4, "batch": 2, "optimizer": optimizer or {"kind": "adam", "lr": 0.01},
                         "device": "cpu", "seed": 3},
            "analysis": {"metrics": metrics}}


def train_steps(exp, steps: int, after_step) -> None:
    """`steps` optimiser steps of the experiment's objective, calling `after_step()` after each."""
    for _ in range(steps):
        inputs, targets = exp.next_batch()
        outputs, hidden = exp.forward(inputs)
        for term in exp.terms:
            term.before_loss(hidden)
        terms, _ = exp.objective(outputs, targets, hidden)
        exp.optimizer.zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        exp.optimizer.step()
        exp.model.apply_masks_()
        after_step()


# --- learnable time constants stay in their bounds -------------------------------------------------------------

@st.composite
def learnable_specs(draw):
    kind = draw(st.sampled_from(["leaky", "ctrnn"]))
    step = 1.0 if kind == "leaky" else 20.0
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    names = [f"g{i}" for i in range(len(sizes))]
    lo = step * draw(st.floats(1.0, 3.0))
    hi = lo + step * draw(st.floats(0.5, 60.0))
    margin = 1e-3 * (hi - lo)
    inside = st.floats(lo + margin, hi - margin)
    own = draw(inside)
    cell = ({"kind": "leaky", "units": sum(sizes), "alpha": 1.0 / own} if kind == "leaky" else
            {"kind": "ctrnn", "units": sum(sizes), "tau": own, "dt": step, "activation": "tanh"})
    tau = {}
    for name, size in zip(names, sizes):
        form = draw(st.sampled_from(["own", "one", "per_unit"]))
        if form == "one":
            tau[name] = draw(inside)
        elif form == "per_unit":
            tau[name] = draw(st.lists(inside, min_size=size, max_size=size))
    learnable = draw(st.one_of(st.just(True), st.lists(st.sampled_from(names), min_size=1, unique=True)))
    optimizer = {"kind": draw(st.sampled_from(["adam", "sgd", "rmsprop"])), "lr": draw(st.floats(1e-3, 3.0))}
    groups = dict(zip(names, sizes))
    return spec_dict(cell, groups, {"tau": tau, "learnable": learnable, "bounds": [lo, hi]}, optimizer), (lo, hi)


@settings(max_examples=12, deadline=None)
@given(case=learnable_specs())
def test_learnable_time_constants_stay_in_their_bounds_after_every_optimiser_step(case):
    data, (lo, hi) = case
    spec = spec_from_dict(data)
    exp = compile_experiment(spec)
    module = exp.model.rnn.time_constants
    learn = torch.zeros(spec.network.units, dtype=torch.bool)
    learn[module.index] = True
    assert learn.any() and module.theta is not None
    assert any(name.endswith("time_constants.theta") for name, _ in exp.model.named_parameters())
    declared, _ = spec.network.time_constants.per_unit(spec.network.group_indices(), spec.network.cell)
    start = module.tau().detach().clone()
    torch.testing.assert_close(start.double(), torch.tensor(declared, dtype=torch.float64), rtol=1e-5, atol=0)
    lo32, hi32 = torch.tensor(lo, dtype=torch.float32), torch.tensor(hi, dtype=torch.float32)
    seen = []

    def check():
        tau = module.tau().detach()
        assert torch.isfinite(module.theta).all()
        assert (tau[learn] >= lo32).all() and (tau[learn] <= hi32).all(), (tau, lo, hi)
        assert torch.equal(tau[~learn], start[~learn])  # the fixed units never move
        alpha = exp.model.rnn.alpha.detach()
        assert (alpha > 0).all() and (alpha <= 1).all()
        seen.append(tau.clone())

    train_steps(exp, 4, check)
    assert len(seen) == 4


@pytest.mark.parametrize("theta,bound", [(1e4, "hi"), (-1e4, "lo"), (math.inf, "hi"), (-math.inf, "lo")])
def test_a_saturated_parameter_gives_exactly_its_bound(theta, bound):
    """lo + (hi - lo) sigmoid(theta) written out overshoots hi by an ulp for about 2% of float32 bounds at
    saturation; the lerp form gives each bound exactly (as float32 represents it)."""
    rng = np.random.default_rng(0)
    for lo, hi in [(20.0, 21.0), *np.sort(rng.uniform(20.0, 1000.0, (300, 2)), axis=1).tolist()]:
        module = TimeConstants([hi, lo], [True, True], 20.0, (lo, hi))
        with torch.no_grad():
            module.theta.fill_(theta)
        want = module.lo if bound == "lo" else module.hi
        assert torch.equal(module.tau(), want.expand(2)), (lo, hi)
        assert (module.alpha() <= 1).all()


def test_theta_starts_at_the_declared_time_constant_and_loads_back_strictly():
    data = spec_dict({"kind": "ctrnn", "units": 4, "tau": 100.0, "dt": 20.0, "activation": "tanh"}, {"a": 2, "b": 2},
                     {"tau": {"a": [40.0, 60.0]}, "learnable": ["a"], "bounds": [20.0, 200.0]})
    spec = spec_from_dict(data)
    exp = compile_experiment(spec)
    module = exp.model.rnn.time_constants
    torch.testing.assert_close(module.tau(), torch.tensor([40.0, 60.0, 100.0, 100.0]))
    assert module.theta.shape == (2,)
    train_steps(exp, 2, lambda: None)
    weights = {name: p.detach().numpy() for name, p in exp.model.named_parameters()}
    assert "rnn.time_constants.theta" in weights
    rebuilt = load_weights(build_network(spec), weights)
    assert torch.equal(rebuilt.rnn.time_constants.tau(), module.tau().detach())
    # the optimiser trains theta with everything else
    assert any(p is module.theta for group in exp.optimizer.param_groups for p in group["params"])


# --- per-unit loops: float64 transcriptions; one rate: today's loop to the bit -------------------------------------

def draws(generator_seed: int, batch: int, steps: int, units: int, inputs: int, sigma: float, input_sigma: float):
    """The noise a cell draws from a generator of this seed: recurrent (B, T, N) first, then input (B, T, F)."""
    gen = torch.Generator().manual_seed(generator_seed)
    xi = torch.randn(batch, steps, units, generator=gen, dtype=torch.float64) if sigma > 0 else None
    eta = torch.randn(batch, steps, inputs, generator=gen, dtype=torch.float64) if input_sigma > 0 else None
    return (np.zeros((batch, steps, units)) if xi is None else xi.numpy(),
            np.zeros((batch, steps, inputs)) if eta is None else eta.numpy())


def leaky_reference(u, w_in, w, b, alpha, sigma, xi, input_sigma, eta):
    """x <- (1 - a) x + a (W_in (u + s_in eta) + W tanh(x) + b) + sigma xi, per unit a, in numpy float64."""
    x = np.zeros((u.shape[0], w.shape[0]))
    out = []
    for t in range(u.shape[1]):
        drive = (u[:, t] + input_sigma * eta[:, t]) @ w_in.T + np.tanh(x) @ w.T + b
        x = (1 - alpha) * x + alpha * drive + sigma * xi[:, t]
        out.append(np.tanh(x))
    return np.stack(out, 1)


def ctrnn_reference(u, w_in, w, b, alpha, sigma, xi, input_sigma, eta, f=np.tanh):
    """r <- (1 - a) r + a f(W_in (u + s_in eta) + W r + b + sigma xi), per unit a, in numpy float64."""
    r = np.zeros((u.shape[0], w.shape[0]))
    out = []
    for t in range(u.shape[1]):
        pre = (u[:, t] + input_sigma * eta[:, t]) @ w_in.T + r @ w.T + b + sigma * xi[:, t]
        r = (1 - alpha) * r + alpha * f(pre)
        out.append(r)
    return np.stack(out, 1)


def numpy_of(cell) -> tuple:
    b = cell.bias_l0.detach().numpy() if cell.bias_l0 is not None else 0.0
    return cell.weight_ih_l0.detach().numpy(), cell.weight_hh_l0.detach().numpy(), b


@pytest.mark.parametrize("kind", ["leaky", "ctrnn"])
@pytest.mark.parametrize("learnable", [False, True])
@pytest.mark.parametrize("sigma,input_sigma", [(0.0, 0.0), (0.2, 0.0), (0.0, 0.3), (0.2, 0.3)])
def test_per_unit_rates_equal_a_float64_transcription(kind, learnable, sigma, input_sigma):
    if kind == "leaky":
        cell = {"kind": "leaky", "units": 5, "alpha": 0.25, "sigma": sigma, "input_sigma": input_sigma}
        tau, step, bounds = {"a": [1.5, 2.0, 8.0], "b": 12.5}, 1.0, [1.0, 40.0]
        reference = leaky_reference
    else:
        cell = {"kind": "ctrnn", "units": 5, "tau": 100.0, "dt": 20.0, "activation": "tanh", "sigma": sigma,
                "input_sigma": input_sigma}
        tau, step, bounds = {"a": [25.0, 40.0, 60.0]}, 20.0, [20.0, 400.0]
        reference = ctrnn_reference
    section = {"tau": tau, **({"learnable": True, "bounds": bounds} if learnable else {})}
    net = network(cell, {"a": 3, "b": 2}, section)
    torch.manual_seed(4)
    model = ModularRNN(net, 3, seed=0).double()
    rnn = model.rnn
    with torch.no_grad():
        if rnn.bias_l0 is not None:
            rnn.bias_l0.normal_()
    u = torch.randn(2, 9, 3, dtype=torch.float64)
    got, _ = rnn(u, None, torch.Generator().manual_seed(5))
    taus = rnn.time_constants.tau().detach().numpy()
    if not learnable:
        declared = tau["a"] + ([tau["b"]] * 2 if "b" in tau else [1.0 / 0.25 if kind == "leaky" else 100.0] * 2)
        assert taus.tolist() == declared
    alpha = step / taus
    np.testing.assert_allclose(rnn.alpha.detach().numpy(), alpha, rtol=1e-15)
    xi, eta = draws(5, 2, 9, 5, 3, sigma, input_sigma)
    want = reference(u.numpy(), *numpy_of(rnn), alpha, sigma, xi, input_sigma, eta)
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["leaky", "ctrnn"])
def test_learnable_rates_have_exact_gradients(kind):
    cell = ({"kind": "leaky", "units": 4, "alpha": 0.2, "sigma": 0.1, "input_sigma": 0.1} if kind == "leaky" else
            {"kind": "ctrnn", "units": 4, "tau": 60.0, "dt": 20.0, "activation": "tanh", "sigma": 0.1,
             "input_sigma": 0.1})
    bounds = [1.0, 30.0] if kind == "leaky" else [20.0, 300.0]
    net = network(cell, {"a": 2, "b": 2}, {"tau": {"a": [bounds[0] * 2, bounds[0] * 3]}, "learnable": ["a"],
                                           "bounds": bounds})
    torch.manual_seed(1)
    rnn = ModularRNN(net, 2, seed=0).double().rnn
    u = torch.randn(2, 6, 2, dtype=torch.float64)

    def run(theta, w_hh):
        params = {"time_constants.theta": theta, "weight_hh_l0": w_hh}
        return torch.func.functional_call(rnn, params, (u, None, torch.Generator().manual_seed(2)))[0]

    theta = rnn.time_constants.theta.detach().clone().requires_grad_(True)
    w_hh = rnn.weight_hh_l0.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(run, (theta, w_hh))


def old_leaky_forward(cell: LeakyRNN, inputs, generator):
    """The leaky loop before time constants and input noise existed (pinned: the one-rate path must equal it)."""
    batch, steps, _ = inputs.shape
    a = cell.alpha
    drive = torch.nn.functional.linear(inputs, cell.weight_ih_l0 * a,
                                       None if cell.bias_l0 is None else cell.bias_l0 * a)
    if cell.sigma > 0:
        noise = torch.randn(drive.shape, generator=generator, device=drive.device, dtype=drive.dtype)
        drive = drive.add(noise, alpha=cell.sigma)
    x = inputs.new_zeros(batch, cell.units)
    w_t = (cell.weight_hh_l0 * a).t()
    r = torch.tanh(x)
    rates = []
    for d in drive.unbind(1):
        x = torch.addmm(torch.add(d, x, alpha=1.0 - a), r, w_t)
        r = torch.tanh(x)
        rates.append(r)
    return torch.stack(rates, dim=1)


def old_ctrnn_forward(cell: CTRNN, inputs, generator):
    """The CTRNN loop before time constants and input noise existed."""
    drive = torch.nn.functional.linear(inputs, cell.weight_ih_l0, cell.bias_l0)
    if cell.sigma > 0:
        noise = torch.randn(drive.shape, generator=generator, device=drive.device, dtype=drive.dtype)
        drive = drive.add(noise, alpha=cell.sigma)
    r = inputs.new_zeros(inputs.shape[0], cell.units)
    w_t = cell.weight_hh_l0.t()
    rates = []
    for d in drive.unbind(1):
        r = torch.lerp(r, cell.activation(torch.addmm(d, r, w_t)), cell.alpha)
        rates.append(r)
    return torch.stack(rates, dim=1)


@pytest.mark.parametrize("cell", [LeakyRNN(3, LeakyCellSpec(kind="leaky", units=12, alpha=0.13, sigma=0.1)),
                                  LeakyRNN(3, LeakyCellSpec(kind="leaky", units=12, sigma=0.0)),
                                  CTRNN(3, CTRNNCellSpec(kind="ctrnn", units=12, tau=100, dt=20, sigma=0.3)),
                                  CTRNN(3, CTRNNCellSpec(kind="ctrnn", units=12, activation="softplus"))],
                         ids=["leaky-noisy", "leaky", "ctrnn-noisy", "ctrnn"])
def test_one_rate_is_todays_loop_to_the_bit(cell):
    assert isinstance(cell.alpha, float) and cell.time_constants is None
    u = torch.randn(3, 40, 3, requires_grad=True)
    old = old_leaky_forward if isinstance(cell, LeakyRNN) else old_ctrnn_forward
    want = old(cell, u, torch.Generator().manual_seed(7))
    got, _ = cell(u, None, torch.Generator().manual_seed(7))
    assert torch.equal(got, want)
    wrt = [u, *cell.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(torch.autograd.grad(got.square().sum(), wrt),
                                                 torch.autograd.grad(want.square().sum(), wrt)))


@pytest.mark.parametrize("kind", ["leaky", "ctrnn"])
def test_equal_time_constants_give_the_one_rate_numbers_to_rounding(kind):
    cell = ({"kind": "leaky", "units": 6, "alpha": 0.125, "sigma": 0.1} if kind == "leaky" else
            {"kind": "ctrnn", "units": 6, "tau": 80.0, "dt": 20.0, "sigma": 0.1})
    own = 8.0 if kind == "leaky" else 80.0
    plain = ModularRNN(network(cell, {"a": 3, "b": 3}), 2, seed=0)
    per_unit = ModularRNN(network(cell, {"a": 3, "b": 3}, {"tau": {"a": own, "b": [own] * 3}}), 2, seed=0)
    per_unit.load_state_dict(plain.state_dict())
    assert isinstance(plain.rnn.alpha, float) and per_unit.rnn.alpha.shape == (6,)
    u = torch.randn(2, 30, 2)
    a = plain(u, generator=torch.Generator().manual_seed(1))[1]
    b = per_unit(u, generator=torch.Generator().manual_seed(1))[1]
    torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


# --- validation -------------------------------------------------------------------------------------------------

LEAKY = {"kind": "leaky", "units": 6}
CTRNN_CELL = {"kind": "ctrnn", "units": 6, "tau": 100.0, "dt": 20.0}
BAD_SECTIONS = {
    "unknown group": (LEAKY, {"tau": {"g9": 5}}, "network.time_constants.tau.g9", "unknown group 'g9'"),
    "list length": (LEAKY, {"tau": {"a": [2, 3]}}, "network.time_constants.tau.a", "2 values for group 'a' of 3"),
    "shorter than a step": (LEAKY, {"tau": {"a": 0.5}}, "network.time_constants.tau.a",
                            "0.5 time steps is shorter than the cell's step (1 time step)"),
    "shorter than dt": (CTRNN_CELL, {"tau": {"b": [30, 10, 50]}}, "network.time_constants.tau.b",
                        "10 ms is shorter than the cell's step (20 ms)"),
    "learnable without bounds": (LEAKY, {"tau": {"a": 4}, "learnable": True}, "network.time_constants",
                                 "need bounds"),
    "empty bounds": (LEAKY, {"tau": {"a": 4}, "bounds": [5, 5]}, "network.time_constants", "expected lo < hi"),
    "lower bound below the step": (CTRNN_CELL, {"tau": {"a": 50}, "learnable": True, "bounds": [10, 200]},
                                   "network.time_constants.bounds", "lo = 10 ms is shorter than the cell's step"),
    "start on a bound": (LEAKY, {"tau": {"a": 2}, "learnable": ["a"], "bounds": [2, 20]},
                         "network.time_constants.tau.a", "not strictly inside bounds [2, 20]"),
    "own tau outside the bounds": (CTRNN_CELL, {"tau": {"a": 50}, "learnable": True, "bounds": [20, 80]},
                                   "network.time_constants.learnable", "starts from the cell's own tau"),
    "fixed tau outside the bounds": (LEAKY, {"tau": {"a": 50}, "bounds": [2, 20]}, "network.time_constants.tau.a",
                                     "outside bounds"),
    "unknown learnable group": (LEAKY, {"tau": {"a": 4}, "learnable": ["z"], "bounds": [2, 20]},
                                "network.time_constants.learnable", "unknown group(s) ['z']"),
    "nothing to do": (LEAKY, {}, "network.time_constants", "names no group and nothing is learnable"),
    "infinite tau": (LEAKY, {"tau": {"a": math.inf}}, "network.time_constants.tau.a", "finite"),
    "rnn cell": ({"kind": "rnn", "units": 6}, {"tau": {"a": 4}}, "network.time_constants",
                 "an rnn cell replaces its state every step"),
    "gru cell": ({"kind": "gru", "units": 6}, {"tau": {"a": 4}}, "network.time_constants",
                 "a gru cell's update gate z"),
}


@pytest.mark.parametrize("case", sorted(BAD_SECTIONS))
def test_a_bad_time_constants_section_names_its_field(case):
    cell, section, field, expected = BAD_SECTIONS[case]
    data = spec_dict(cell, {"a": 3, "b": 3}, section)
    with pytest.raises(SpecError) as info:
        spec_from_dict(data)
    problems = info.value.problems  # a number-or-list value that is neither is reported once per form
    assert all(p.field.startswith(field) for p in problems), problems
    assert any(expected in p.message for p in problems), problems


@pytest.mark.parametrize("kind", BUILTIN_CELLS)
@pytest.mark.parametrize("field,value", [("sigma", -0.1), ("input_sigma", -1.0), ("input_sigma", math.nan)])
def test_noise_levels_are_checked(kind, field, value):
    cell = {"kind": kind, "units": 6, field: value, **({"dt": 100.0} if kind == "ctrnn" else {})}
    data = spec_dict(cell, {"a": 3, "b": 3})
    with pytest.raises(SpecError) as info:
        spec_from_dict(data)
    assert info.value.problems[0].field == f"network.cell.{field}"


def test_a_good_section_validates_and_resolves_every_unit():
    net = network(CTRNN_CELL, {"a": 3, "b": 2, "c": 1},
                  {"tau": {"a": [25, 30, 40], "c": 75}, "learnable": ["a", "b"], "bounds": [20, 500]})
    taus, learnable = net.time_constants.per_unit(net.group_indices(), net.cell)
    assert taus == [25.0, 30.0, 40.0, 100.0, 100.0, 75.0]
    assert learnable == [True, True, True, True, True, False]


def test_range_groups_get_their_own_units():
    net = network(LEAKY, {"a": [3, 6], "b": [0, 3]}, {"tau": {"a": [2, 3, 4]}})
    taus, _ = net.time_constants.per_unit(net.group_indices(), net.cell)
    assert taus == [10.0, 10.0, 10.0, 2.0, 3.0, 4.0]


# --- the dynamics probes with one rate per unit ------------------------------------------------------------------

def test_mean_jacobian_with_per_unit_rates_is_the_steps_jacobian():
    net = network({"kind": "ctrnn", "units": 5, "tau": 100.0, "dt": 20.0, "activation": "tanh"}, {"a": 2, "b": 3},
                  {"tau": {"a": [20.0, 35.0], "b": [50.0, 120.0, 400.0]}}, outputs=3)
    torch.manual_seed(0)
    cell = ModularRNN(net, 2, seed=0).double().rnn
    rng = np.random.default_rng(0)
    hidden, inputs = rng.normal(size=(1, 4, 5)), rng.normal(size=(1, 4, 2))
    got = mean_jacobian(cell, hidden, inputs)
    jacobians = []
    for r, u in zip(torch.from_numpy(hidden[0]), torch.from_numpy(inputs[0])):
        drive = torch.nn.functional.linear(u, cell.weight_ih_l0, cell.bias_l0)[None]
        jacobians.append(torch.autograd.functional.jacobian(lambda state: cell.step(state[None], drive)[0], r))
    want = torch.stack(jacobians).mean(0).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    alpha = cell.alpha.detach().numpy()
    np.testing.assert_allclose(np.diag(got), np.diag(want))
    assert not np.allclose(alpha, alpha[0])  # the rates differ: rows are scaled by their own unit's


def test_probes_give_the_one_rate_numbers_when_every_unit_has_the_cells_time_constant():
    cell = {"kind": "ctrnn", "units": 6, "tau": 100.0, "dt": 20.0, "activation": "tanh"}
    plain = ModularRNN(network(cell, {"a": 3, "b": 3}, outputs=3), 2, seed=0)
    per_unit = ModularRNN(network(cell, {"a": 3, "b": 3}, {"tau": {"a": 100.0, "b": 100.0}}, outputs=3), 2, seed=0)
    per_unit.load_state_dict(plain.state_dict())
    rng = np.random.default_rng(1)
    hidden = rng.normal(size=(2, 30, 6)).astype(np.float32)
    inputs = rng.normal(size=(2, 30, 2)).astype(np.float32)
    np.testing.assert_allclose(mean_jacobian(per_unit.rnn, hidden, inputs), mean_jacobian(plain.rnn, hidden, inputs),
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(lesion_similarity(per_unit.rnn, hidden, inputs.mean((0, 1)), 5),
                               lesion_similarity(plain.rnn, hidden, inputs.mean((0, 1)), 5), rtol=1e-4, atol=1e-5)


# --- noise: every cell kind, where it enters, reproducible, exact gradients -------------------------------------

@pytest.mark.parametrize("kind", BUILTIN_CELLS)
def test_every_cell_kind_has_both_noise_fields(kind):
    spec_class = registry.cells.get(kind).spec_class()
    assert {"sigma", "input_sigma"} <= set(spec_class.model_fields)
    assert spec_class.model_fields["input_sigma"].default == 0.0
    fields = {"activation": "tanh"} if kind == "ctrnn" else {}
    check_noise(kind, **fields)
    check_cell(kind, sigma=0.2, input_sigma=0.2, **fields)


def test_the_gru_noise_is_honoured_by_both_kernels():
    for kernel in ("torch", "modsim"):
        check_noise("gru", kernel=kernel)


def test_defaults_keep_todays_noise():
    assert LeakyCellSpec(kind="leaky", units=2).sigma == 0.1 and LeakyCellSpec(kind="leaky", units=2).noisy
    assert CTRNNCellSpec(kind="ctrnn", units=2).sigma == 0.0 and not CTRNNCellSpec(kind="ctrnn", units=2).noisy
    assert not RNNCellSpec(kind="rnn", units=2).noisy and not GRUCellSpec(kind="gru", units=2).noisy
    assert GRUCellSpec(kind="gru", units=2, input_sigma=0.1).noisy and RNNCellSpec(kind="rnn", units=2, sigma=0.1).noisy


@pytest.mark.parametrize("kind", BUILTIN_CELLS)
def test_input_noise_enters_the_input_channels_before_the_weights(kind):
    """A cell with only input noise gives exactly the noiseless cell's output on u + input_sigma eta (eta the
    generator's first draw, as no recurrent noise is drawn)."""
    spec_class = registry.cells.get(kind).spec_class()
    torch.manual_seed(0)
    noisy = registry.cells.get(kind).implementation()(3, spec_class(kind=kind, units=4, input_sigma=0.4,
                                                                     **({"sigma": 0.0} if kind == "leaky" else {})))
    torch.manual_seed(0)
    quiet = registry.cells.get(kind).implementation()(3, spec_class(kind=kind, units=4, sigma=0.0))
    noisy, quiet = noisy.double(), quiet.double()
    u = torch.randn(2, 8, 3, dtype=torch.float64)
    eta = torch.randn(u.shape, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    with torch.no_grad():
        got = noisy(u, None, torch.Generator().manual_seed(9))[0]
        want = quiet(u + 0.4 * eta)[0]
    torch.testing.assert_close(got, want, rtol=0, atol=1e-15)


def rnn_reference(u, cell, sigma, xi, input_sigma, eta):
    """h <- tanh(W_ih (u + s_in eta) + b_ih + W_hh h + b_hh + sigma xi), with torch ops (differentiable)."""
    h = u.new_zeros(u.shape[0], cell.hidden_size)
    out = []
    for t in range(u.shape[1]):
        h = torch.tanh((u[:, t] + input_sigma * eta[:, t]) @ cell.weight_ih_l0.T + cell.bias_ih_l0
                       + h @ cell.weight_hh_l0.T + cell.bias_hh_l0 + sigma * xi[:, t])
        out.append(h)
    return torch.stack(out, 1)


def gru_reference(u, cell, sigma, xi, input_sigma, eta):
    """r = s(gi_r + gh_r), z = s(gi_z + gh_z), n = tanh(gi_n + sigma xi + r gh_n), h' = (1 - z) n + z h."""
    n_units = cell.hidden_size
    h = u.new_zeros(u.shape[0], n_units)
    out = []
    for t in range(u.shape[1]):
        gi = (u[:, t] + input_sigma * eta[:, t]) @ cell.weight_ih_l0.T + cell.bias_ih_l0
        gh = h @ cell.weight_hh_l0.T + cell.bias_hh_l0
        r = torch.sigmoid(gi[:, :n_units] + gh[:, :n_units])
        z = torch.sigmoid(gi[:, n_units:2 * n_units] + gh[:, n_units:2 * n_units])
        n = torch.tanh(gi[:, 2 * n_units:] + sigma * xi[:, t] + r * gh[:, 2 * n_units:])
        h = (1 - z) * n + z * h
        out.append(h)
    return torch.stack(out, 1)


GATED = [("rnn", None), ("gru", "torch"), ("gru", "modsim")]


def build_gated(kind, kernel, sigma, input_sigma, units=4, inputs=3):
    torch.manual_seed(3)
    if kind == "rnn":
        return RNN(inputs, RNNCellSpec(kind="rnn", units=units, sigma=sigma, input_sigma=input_sigma)).double()
    return GRU(inputs, GRUCellSpec(kind="gru", units=units, kernel=kernel, sigma=sigma,
                                   input_sigma=input_sigma)).double()


@pytest.mark.parametrize("kind,kernel", GATED, ids=["rnn", "gru-torch", "gru-modsim"])
@pytest.mark.parametrize("sigma,input_sigma", [(0.3, 0.0), (0.3, 0.2)])
def test_recurrent_noise_of_rnn_and_gru_enters_the_documented_pre_activation(kind, kernel, sigma, input_sigma):
    cell = build_gated(kind, kernel, sigma, input_sigma)
    u = torch.randn(2, 7, 3, dtype=torch.float64)
    got, last = cell(u, None, torch.Generator().manual_seed(4))
    xi, eta = (torch.from_numpy(a) for a in draws(4, 2, 7, 4, 3, sigma, input_sigma))
    want = (rnn_reference if kind == "rnn" else gru_reference)(u, cell, sigma, xi, input_sigma, eta)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    assert torch.equal(last[0], got[:, -1])
    # a run continued from its last state draws fresh noise and goes on
    more, _ = cell(u, last, torch.Generator().manual_seed(4))
    assert more.shape == got.shape and not torch.equal(more, got)


@pytest.mark.parametrize("kind,kernel", GATED, ids=["rnn", "gru-torch", "gru-modsim"])
def test_recurrent_noise_gradients_are_exact_in_float64(kind, kernel):
    cell = build_gated(kind, kernel, 0.5, 0.3)
    u = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 2, 4, dtype=torch.float64, requires_grad=True)
    names = [name for name, _ in cell.named_parameters()]

    def run(x, h, *params):
        return torch.func.functional_call(cell, dict(zip(names, params)),
                                          (x, h, torch.Generator().manual_seed(6)))[0]

    params = [p.detach().clone().requires_grad_(True) for p in cell.parameters()]
    assert torch.autograd.gradcheck(run, (u, h0, *params))
    # and against autograd through the transcription
    xi, eta = (torch.from_numpy(a) for a in draws(6, 2, 5, 4, 3, 0.5, 0.3))
    got = torch.autograd.grad(cell(u.detach(), None, torch.Generator().manual_seed(6))[0].square().sum(),
                              list(cell.parameters()))
    reference = (rnn_reference if kind == "rnn" else gru_reference)(u.detach(), cell, 0.5, xi, 0.3, eta)
    want = torch.autograd.grad(reference.square().sum(), list(cell.parameters()))
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)


def test_the_modsim_gru_kernel_differentiates_its_noise_too():
    torch.manual_seed(8)
    gru = torch.nn.GRU(3, 4, batch_first=True).double()
    x = torch.rand(2, 6, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.rand(1, 2, 4, dtype=torch.float64, requires_grad=True)
    noise = torch.randn(2, 6, 4, dtype=torch.float64, requires_grad=True)
    params = (gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0)
    assert torch.autograd.gradcheck(lambda x, h, n, *p: gru_bptt(x, h, *p, Workspace(), n)[0], (x, h0, noise, *params))


def test_both_gru_kernels_agree_with_noise():
    cells = {kernel: build_gated("gru", kernel, 0.4, 0.2, units=6).float() for kernel in ("torch", "modsim")}
    cells["modsim"].load_state_dict(cells["torch"].state_dict())
    u = torch.randn(3, 12, 3)
    out = {k: c(u, None, torch.Generator().manual_seed(1))[0] for k, c in cells.items()}
    torch.testing.assert_close(out["modsim"], out["torch"], rtol=1e-5, atol=1e-6)
    grads = {k: torch.autograd.grad(o.square().sum(), cells[k].weight_hh_l0)[0] for k, o in out.items()}
    torch.testing.assert_close(grads["modsim"], grads["torch"], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", BUILTIN_CELLS)
def test_a_noisy_network_of_every_kind_trains_and_reruns_its_heldout_noise(kind):
    cell = {"kind": kind, "units": 6, "sigma": 0.2, "input_sigma": 0.1}
    if kind == "ctrnn":
        cell |= {"dt": 20.0, "activation": "tanh"}
    data = spec_dict(cell if kind != "gru" else {**cell, "kernel": "modsim"}, {"a": 3, "b": 3})
    spec = spec_from_dict(data)
    exp = compile_experiment(spec)
    assert exp.model.noisy
    before = copy.deepcopy(exp.model.state_dict())
    train_steps(exp, 2, lambda: None)
    assert any(not torch.equal(before[k], v) for k, v in exp.model.state_dict().items())
    u = torch.randn(2, 10, spec.task.input_dim)
    first = exp.model(u, generator=exp.model.eval_generator(torch.device("cpu")))[1]
    again = exp.model(u, generator=exp.model.eval_generator(torch.device("cpu")))[1]
    quiet_spec = spec_from_dict(data, ["network.cell.sigma=0.0", "network.cell.input_sigma=0.0"])
    quiet = ModularRNN(quiet_spec.network, spec.task.input_dim, spec.training.seed, spec.task.input_sets())
    quiet.load_state_dict(exp.model.state_dict())
    assert quiet.eval_generator(torch.device("cpu")) is None
    assert torch.equal(first, again) and not torch.equal(first, quiet(u)[1])
