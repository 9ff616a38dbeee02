"""Dale's law (`network.dale`): signs and masks hold after every optimiser step, the forward pass equals PsychRNN's
formulation, the balanced spectral-radius initialisation, and the validation messages."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modsim.compile import compile_experiment
from modsim.compile.dale import balance_rows, spectral_radius
from modsim.compile.network import ModularRNN
from modsim.spec import Spec, SpecError, parse_spec_text
from modsim.train import train_step


def make_spec(cell: dict, groups: dict, dale: dict | None, recurrent: dict | None = None,
              spectral: float | None = None, readout_from: list[str] | None = None, steps: int = 3,
              seed: int = 5, time_constants: dict | None = None) -> Spec:
    """A tiny flip-flop spec around the given network parts (l2 weight penalty only: fast)."""
    network = {"cell": cell, "groups": groups, "readouts": [{"name": "out", "dim": 2,
                                                            "from": readout_from or list(groups)}]}
    if dale is not None:
        network["dale"] = dale
    if recurrent is not None:
        network["recurrent"] = recurrent
    if spectral is not None:
        network["spectral_radius"] = spectral
    if time_constants is not None:
        network["time_constants"] = time_constants
    data = {"name": "dale_test", "network": network,
            "task": {"kind": "flipflop", "bits": 2, "transient": 5, "length": 20, "eval_sequences": 2},
            "constraints": [{"kind": "l2", "weight": 0.01, "weights": ["input", "recurrent", "readout"]}],
            "training": {"steps": steps, "batch": 4, "optimizer": {"kind": "adam", "lr": 0.05}, "seed": seed,
                         "checkpoint_every": steps, "threads": 1},
            "analysis": {"metrics": ["mse"]}}
    return parse_spec_text(yaml.safe_dump(data), "dale_test.yaml")


def effective(model: ModularRNN) -> tuple[np.ndarray, np.ndarray]:
    """The recurrent and input weights the cell computes with, in float64."""
    return (model.rnn.weight_hh_l0.detach().double().numpy(), model.rnn.weight_ih_l0.detach().double().numpy())


CELLS = {
    "leaky": lambda n: {"kind": "leaky", "units": n, "alpha": 0.2, "sigma": 0.05},
    "ctrnn": lambda n: {"kind": "ctrnn", "units": n, "tau": 100.0, "dt": 20.0, "activation": "relu", "sigma": 0.05},
    "rnn": lambda n: {"kind": "rnn", "units": n},
}


TAU_BOUNDS = {"leaky": (2.0, 20.0), "ctrnn": (40.0, 400.0)}
"""Bounds of the learnable time constants drawn for the cells that have them (around the cell's own tau: 1 / alpha
= 5 steps for the leaky cell, 100 ms for the ctrnn)."""


@st.composite
def splits(draw, n: int) -> dict:
    """A group's E/I split: counts, an excitatory fraction (the rest inhibitory), or two fractions adding to 1."""
    form = draw(st.sampled_from(["counts", "fraction", "fractions"]))
    if form == "counts":
        e = draw(st.integers(0, n))
        return {"excitatory": e, "inhibitory": n - e}
    fraction = draw(st.sampled_from([0.0, 0.1, 0.25, 0.3, 0.5, 0.7, 0.75, 0.9, 1.0]))
    return {"excitatory": fraction} if form == "fraction" else {"excitatory": fraction, "inhibitory": 1.0 - fraction}


@st.composite
def dale_specs(draw):
    """Random small E/I specs: cell kind, 1-3 groups of 2-6 units with random E/I counts or fractions, a dense or
    modular mask, the input and readout options, learnable time constants (per group, within bounds) for the
    cells that have them, and a seed."""
    sizes = draw(st.lists(st.integers(2, 6), min_size=1, max_size=3))
    groups = {f"g{i + 1}": n for i, n in enumerate(sizes)}
    split = {g: draw(splits(n)) for g, n in groups.items()}
    dale = {"groups": split, "inputs": draw(st.sampled_from(["all", "excitatory"])),
            "input_sign": draw(st.sampled_from(["free", "positive"])), "balance": draw(st.booleans())}
    if len(groups) > 1 and draw(st.booleans()):
        recurrent = {"kind": "modular", "p": draw(st.sampled_from([0.0, 0.25, 0.5])), "self_connections": False}
    else:
        recurrent = {"kind": "dense", "self_connections": draw(st.booleans())}
    kind = draw(st.sampled_from(sorted(CELLS)))
    spectral = draw(st.sampled_from([None, 0.9, 1.5]))
    time_constants = None
    if kind in TAU_BOUNDS and draw(st.booleans()):
        lo, hi = TAU_BOUNDS[kind]
        time_constants = {"tau": {g: draw(st.floats(lo * 1.01, hi * 0.99)) for g in groups if draw(st.booleans())},
                          "learnable": True, "bounds": [lo, hi]}
    return make_spec(CELLS[kind](sum(sizes)), groups, dale, recurrent, spectral, steps=4,
                     seed=draw(st.integers(0, 10_000)), time_constants=time_constants)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dale_specs())
def test_signs_and_masks_hold_after_every_optimiser_step(spec):
    """Signs, masks and the input options hold after every optimiser step (with a learning rate of 0.05, large
    enough to push weights across zero), and learnable time constants stay within their bounds."""
    torch.set_num_threads(1)
    exp = compile_experiment(spec, torch.device("cpu"))
    signs = np.asarray(spec.network.unit_signs())
    masks = {name: m.numpy().astype(bool) for name, m in exp.model.masks().items()}
    learnable = spec.network.time_constants is not None
    if learnable:
        lo, hi = (torch.tensor(b, dtype=torch.float32) for b in spec.network.time_constants.bounds)
    for step in range(spec.training.steps + 1):
        w, w_in = effective(exp.model)
        assert (w[:, signs > 0] >= 0).all(), f"step {step}: an excitatory unit has a negative outgoing weight"
        assert (w[:, signs < 0] <= 0).all(), f"step {step}: an inhibitory unit has a positive outgoing weight"
        if "weight_hh_l0" in masks:
            assert (w[~masks["weight_hh_l0"]] == 0).all(), f"step {step}: a masked recurrent weight moved"
        if "weight_ih_l0" in masks:
            assert (w_in[~masks["weight_ih_l0"]] == 0).all(), f"step {step}: a masked input weight moved"
        if spec.network.dale.inputs == "excitatory":
            assert (w_in[signs < 0] == 0).all()
        if spec.network.dale.input_sign == "positive":
            assert (w_in >= 0).all()
        if learnable:
            tau = exp.model.rnn.time_constants.tau().detach()
            assert (tau >= lo).all() and (tau <= hi).all(), f"step {step}: a time constant left its bounds"
        if step < spec.training.steps:
            values = train_step(exp)
            assert np.isfinite(values["total"])


@pytest.mark.parametrize("excitatory,inhibitory,size,counts", [
    (0.5, 0.5, 5, (3, 2)), (0.3, 0.7, 5, (2, 3)), (0.1, 0.9, 25, (3, 22)), (0.5, None, 7, (4, 3)),
    (0.75, None, 4, (3, 1)), (16, 4, 20, (16, 4)), (0.8, 1, 5, (4, 1)), (3, 0.4, 5, (3, 2))])
def test_fractions_round_halves_up_and_two_fractions_leave_the_rest_inhibitory(excitatory, inhibitory, size, counts):
    from modsim.spec.dale import ExcitatoryInhibitory

    split = ExcitatoryInhibitory(excitatory=excitatory, inhibitory=inhibitory)
    assert split.counts(size, "g1") == counts


def psychrnn_forward(u, w_rec, w_in, b, c_rec, c_in, signs, alpha, transfer, positive_inputs):
    """PsychRNN's `Basic.recurrent_timestep` under Dale's law (Ehrlich et al. 2021, psychrnn/backend/models/
    basic.py), transcribed to torch without noise: x <- (1 - a) x + a (f(x) [(|W_rec| * C_rec) D]^T
    + u [|W_in| * C_in]^T + b), D = diag(signs); the states x of every step."""
    w_eff = (w_rec.abs() * c_rec) @ torch.diag(signs)
    w_in_eff = (w_in.abs() if positive_inputs else w_in) * c_in
    x = torch.zeros(u.shape[0], w_rec.shape[0], dtype=u.dtype)
    states = []
    for t in range(u.shape[1]):
        x = (1 - alpha) * x + alpha * (transfer(x) @ w_eff.T + u[:, t] @ w_in_eff.T + b)
        states.append(x)
    return torch.stack(states, 1)


@pytest.mark.parametrize("kind,positive", [("leaky", True), ("leaky", False), ("rnn", True)])
def test_forward_equals_psychrnn_formulation(kind, positive):
    """Random magnitudes (both signs), a modular mask and Dale's signs, float64: our rates equal f(x) of the
    transcription to 1e-12 (the rnn cell is the alpha = 1 case: h = tanh(x))."""
    torch.manual_seed(3)
    cell = {"kind": "leaky", "units": 10, "alpha": 0.3, "sigma": 0.0} if kind == "leaky" \
        else {"kind": "rnn", "units": 10}
    spec = make_spec(cell, {"g1": 6, "g2": 4},
                     {"g1": {"excitatory": 4, "inhibitory": 2}, "g2": {"excitatory": 0.75},
                      "input_sign": "positive" if positive else "free"},
                     recurrent={"kind": "modular", "p": 0.5})
    model = ModularRNN(spec.network, spec.task.input_dim, spec.training.seed, spec.task.input_sets()).double()
    raw_rec = model.rnn.parametrizations.weight_hh_l0.original
    with torch.no_grad():  # random magnitudes of both signs, then the masks (as after an optimiser step)
        raw_rec.copy_(torch.randn_like(raw_rec))
        raw_in = model.rnn.parametrizations.weight_ih_l0.original if positive else model.rnn.weight_ih_l0
        raw_in.copy_(torch.randn_like(raw_in))
        model.apply_masks_()
    c_rec = model.masks()["weight_hh_l0"].double()
    c_in = torch.ones_like(raw_in)
    signs = torch.tensor(spec.network.unit_signs(), dtype=torch.float64)
    if kind == "leaky":
        bias, alpha = model.rnn.bias_l0, 0.3
    else:
        with torch.no_grad():
            model.rnn.bias_hh_l0.copy_(torch.randn(10, dtype=torch.float64))
        bias, alpha = model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0, 1.0
    u = torch.randn(3, 15, spec.task.input_dim, dtype=torch.float64)
    with torch.no_grad():
        _, rates = model(u)
        x = psychrnn_forward(u, raw_rec.detach(), raw_in.detach(), bias.detach(), c_rec, c_in, signs, alpha,
                             torch.tanh, positive)
    assert torch.allclose(rates, torch.tanh(x), rtol=0, atol=1e-12)
    assert (signs == 1).sum() == 7  # 4 of g1, round(0.75 * 4) = 3 of g2


def test_ctrnn_rates_equal_psychrnns_weights_in_the_rate_equation():
    """The cell the E/I specs use (relu CTRNN) with a modular mask, inputs to excitatory units only and positive
    input weights, float64: its rates equal r <- (1 - a) r + a relu(r [(|W_rec| * C_rec) D]^T + u [|W_in| * C_in]^T
    + b) with PsychRNN's Dale weights and a = dt / tau (the CTRNN's rate form of PsychRNN's update) to 1e-12; the
    inhibitory units' input rows are zero."""
    torch.manual_seed(4)
    cell = {"kind": "ctrnn", "units": 10, "tau": 100.0, "dt": 20.0, "activation": "relu", "sigma": 0.0}
    spec = make_spec(cell, {"g1": 6, "g2": 4}, {"g1": {"excitatory": 4, "inhibitory": 2}, "g2": {"excitatory": 0.75},
                                                "input_sign": "positive", "inputs": "excitatory"},
                     recurrent={"kind": "modular", "p": 0.5})
    model = ModularRNN(spec.network, spec.task.input_dim, spec.training.seed, spec.task.input_sets()).double()
    raw_rec = model.rnn.parametrizations.weight_hh_l0.original
    raw_in = model.rnn.parametrizations.weight_ih_l0.original
    with torch.no_grad():
        raw_rec.copy_(torch.randn_like(raw_rec))
        raw_in.copy_(torch.randn_like(raw_in))
        model.rnn.bias_l0.copy_(torch.randn(10, dtype=torch.float64))
        model.apply_masks_()
    masks = model.masks()
    c_rec, c_in = masks["weight_hh_l0"].double(), masks["weight_ih_l0"].double()
    signs = torch.tensor(spec.network.unit_signs(), dtype=torch.float64)
    assert (c_in[signs < 0] == 0).all() and (c_in[signs > 0] == 1).all()
    w_eff = (raw_rec.detach().abs() * c_rec) @ torch.diag(signs)
    w_in_eff = raw_in.detach().abs() * c_in
    u = torch.randn(3, 15, spec.task.input_dim, dtype=torch.float64)
    r, want = torch.zeros(3, 10, dtype=torch.float64), []
    for t in range(u.shape[1]):
        r = (1 - 0.2) * r + 0.2 * torch.relu(r @ w_eff.T + u[:, t] @ w_in_eff.T + model.rnn.bias_l0.detach())
        want.append(r)
    with torch.no_grad():
        _, rates = model(u)
    assert torch.allclose(rates, torch.stack(want, 1), rtol=0, atol=1e-12)
    assert (model.rnn.weight_ih_l0[signs < 0] == 0).all()


def test_balanced_initialisation_at_the_spectral_radius():
    spec = make_spec(CELLS["ctrnn"](40), {"g1": 20, "g2": 20},
                     {"g1": {"excitatory": 16, "inhibitory": 4}, "g2": {"excitatory": 16, "inhibitory": 4}},
                     recurrent={"kind": "dense", "self_connections": False}, spectral=1.3)
    model = ModularRNN(spec.network, spec.task.input_dim, spec.training.seed)
    w = model.rnn.weight_hh_l0.detach().double()
    assert np.allclose(w.sum(dim=1).numpy(), 0.0, atol=1e-5)  # every row: excitation cancels inhibition
    assert spectral_radius(w) == pytest.approx(1.3, rel=1e-5)
    assert (torch.diagonal(w) == 0).all()
    signs = torch.tensor(spec.network.unit_signs(), dtype=torch.float64)
    assert (w[:, signs > 0] >= 0).all() and (w[:, signs < 0] <= 0).all()


def test_balance_leaves_one_sided_rows():
    w = torch.tensor([[0.5, 0.2, -0.1], [0.0, 0.3, 0.0], [0.0, 0.0, -0.4]], dtype=torch.float64)
    signs = torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
    out = balance_rows(w, signs)
    assert out[0].tolist() == pytest.approx([0.5, 0.2, -0.7])
    assert out[1].tolist() == [0.0, 0.3, 0.0] and out[2].tolist() == [0.0, 0.0, -0.4]


def test_spectral_radius_without_dale_scales_the_cell_initialisation():
    spec = make_spec({"kind": "leaky", "units": 12, "alpha": 0.1, "sigma": 0.0}, {"g1": 6, "g2": 6}, None,
                     spectral=0.8)
    plain = make_spec({"kind": "leaky", "units": 12, "alpha": 0.1, "sigma": 0.0}, {"g1": 6, "g2": 6}, None)
    torch.manual_seed(0)
    scaled = ModularRNN(spec.network, spec.task.input_dim, 0).rnn.weight_hh_l0.detach()
    torch.manual_seed(0)
    cell = ModularRNN(plain.network, plain.task.input_dim, 0).rnn.weight_hh_l0.detach()
    assert spectral_radius(scaled) == pytest.approx(0.8, rel=1e-5)
    ratio = scaled / cell
    assert torch.allclose(ratio, ratio[0, 0].expand_as(ratio), rtol=1e-5)  # one factor: the same draws


def test_unit_signs_excitatory_first_in_each_group():
    spec = make_spec(CELLS["leaky"](7), {"g1": 4, "g2": 3},
                     {"g1": {"excitatory": 0.5}, "g2": {"excitatory": 1, "inhibitory": 2}})
    assert spec.network.unit_signs() == [1, 1, -1, -1, 1, -1, -1]
    assert make_spec(CELLS["leaky"](4), {"g1": 4}, None).network.unit_signs() is None


def test_readout_from_excitatory_units_only():
    spec = make_spec(CELLS["ctrnn"](6), {"g1": 3, "g2": 3},
                     {"groups": {"g1": {"excitatory": 2}, "g2": {"excitatory": 1}}, "readout": "excitatory"})
    model = ModularRNN(spec.network, spec.task.input_dim, 0)
    read = model.readout_matrix()
    assert (read[:, [2, 4, 5]] == 0).all() and (np.abs(read[:, [0, 1, 3]]) > 0).all()


@pytest.mark.parametrize("dale,cell,expected", [
    ({"g1": {"excitatory": 3}}, "leaky", "missing ['g2']"),
    ({"g1": {"excitatory": 3}, "g2": {"excitatory": 3}, "g3": {"excitatory": 1}}, "leaky", "unknown group"),
    ({"g1": {"excitatory": 3, "inhibitory": 2}, "g2": {"excitatory": 4}}, "leaky", "do not make the group's 4"),
    ({"g1": {"excitatory": 1.5}, "g2": {"excitatory": 4}}, "leaky", "fraction above 1"),
    ({"g1": {"excitatory": 4}, "g2": {"excitatory": 4}}, "gru", "mix signs"),
])
def test_invalid_dale_specs_name_the_field(dale, cell, expected):
    cells = {"leaky": CELLS["leaky"](8), "gru": {"kind": "gru", "units": 8}}
    with pytest.raises(SpecError) as info:
        make_spec(cells[cell], {"g1": 4, "g2": 4}, dale)
    assert expected in str(info.value) and "dale" in str(info.value) and "dale_test.yaml" in str(info.value)


def test_readout_of_a_group_without_excitatory_units_is_refused():
    with pytest.raises(SpecError, match="reads only excitatory units"):
        make_spec(CELLS["leaky"](8), {"g1": 4, "g2": 4},
                  {"groups": {"g1": {"excitatory": 4}, "g2": {"excitatory": 0}}, "readout": "excitatory"},
                  readout_from=["g2"])


def test_spectral_radius_on_a_gated_cell_is_refused():
    with pytest.raises(SpecError, match="spectral_radius"):
        make_spec({"kind": "gru", "units": 8}, {"g1": 4, "g2": 4}, None, spectral=1.0)


@pytest.mark.slow
def test_a_dale_run_stores_signed_weights_and_rebuilds_from_its_checkpoint(tmp_path):
    import modsim
    spec = make_spec(CELLS["ctrnn"](8), {"g1": 4, "g2": 4},
                     {"g1": {"excitatory": 3}, "g2": {"excitatory": 3}}, spectral=1.0, steps=6)
    run = modsim.run(spec, store=tmp_path)
    stored = run.group["weights/recurrent"][...]
    signs = np.asarray(spec.network.unit_signs())
    assert (stored[:, signs > 0] >= 0).all() and (stored[:, signs < 0] <= 0).all()
    rebuilt = run.model()
    assert np.array_equal(rebuilt.recurrent_matrix(), stored)


def test_the_dynamics_probes_override_the_signed_recurrent_matrix():
    """The lesion probes run the cell with modified effective weights through torch.func.functional_call; under
    Dale's law that overrides the parametrised (signed) matrix exactly."""
    spec = make_spec({"kind": "ctrnn", "units": 8, "tau": 100.0, "dt": 20.0, "activation": "relu"},
                     {"g1": 4, "g2": 4}, {"g1": {"excitatory": 3}, "g2": {"excitatory": 3}})
    cell = ModularRNN(spec.network, spec.task.input_dim, 0).rnn
    x = torch.randn(2, 5, spec.task.input_dim, generator=torch.Generator().manual_seed(0))
    lesioned = cell.weight_hh_l0.detach().clone()
    lesioned[:, 0] = 0
    rates, _ = torch.func.functional_call(cell, {"weight_hh_l0": lesioned}, (x,))
    with torch.no_grad():
        drive = torch.nn.functional.linear(x, cell.weight_ih_l0, cell.bias_l0)
        r, expected = torch.zeros(2, 8), []
        for t in range(5):
            r = torch.lerp(r, torch.relu(torch.addmm(drive[:, t], r, lesioned.t())), cell.alpha)
            expected.append(r)
    assert torch.equal(rates, torch.stack(expected, 1))
    assert (cell.weight_hh_l0[:, 0] != 0).sum() > 0  # the cell's own weights are untouched
