"""Contract checks every registered kind must pass, built-in or plugin (zarr-python's shared codec tests).

`check_cell`, `check_task`, `check_metric` and `check_loss_terms` raise AssertionError naming what a kind
got wrong; modsim's tests run them on every built-in kind, and a plugin's tests can run them on its own.
"""

from __future__ import annotations

import numpy as np

from .. import registry


def check_cell(name: str, input_dim: int = 3, units: int = 6, **fields) -> None:
    """A cell kind builds from `{kind, units, **fields}`, has the weight layout of its gate blocks, runs a
    sequence to (B, T, N) activity, continues a run from its returned state, and passes gradients back."""
    import torch

    kind = registry.cells.get(name)
    spec = kind.spec_class().model_validate({"kind": name, "units": units, **fields})
    torch.manual_seed(0)
    cell = kind.implementation()(input_dim, spec).double()
    blocks = cell.gate_blocks
    assert isinstance(blocks, tuple) and blocks, f"{name}: gate_blocks must be a non-empty tuple"
    assert cell.analysed_block in (*blocks, "all"), f"{name}: analysed_block {cell.analysed_block!r} is no block"
    assert tuple(cell.weight_ih_l0.shape) == (len(blocks) * units, input_dim), f"{name}: weight_ih_l0 shape"
    assert tuple(cell.weight_hh_l0.shape) == (len(blocks) * units, units), f"{name}: weight_hh_l0 shape"
    assert len(blocks) == spec.weight_blocks, f"{name}: {len(blocks)} gate blocks, its spec says {spec.weight_blocks}"
    x = torch.randn(2, 7, input_dim, dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    activity, last = cell(x, None, gen)
    assert tuple(activity.shape) == (2, 7, units), f"{name}: activity shape {tuple(activity.shape)}"
    assert torch.isfinite(activity).all(), f"{name}: non-finite activity"
    if not spec.noisy:
        early, state = cell(x[:, :3])
        late, _ = cell(x[:, 3:], state)
        np.testing.assert_allclose(torch.cat([early, late], 1).detach().numpy(), activity.detach().numpy(),
                                   rtol=1e-9, atol=1e-12, err_msg=f"{name}: a run split in two must continue")
    activity.pow(2).sum().backward()
    for pname in ("weight_ih_l0", "weight_hh_l0"):
        grad = getattr(cell, pname).grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, f"{name}: no gradient to {pname}"
    if cell.has_preactivation:
        pre, _ = cell(x, None, torch.Generator().manual_seed(1), preactivation=True)
        np.testing.assert_allclose(torch.tanh(pre).detach().numpy(), activity.detach().numpy(), rtol=1e-12,
                                   err_msg=f"{name}: tanh(pre-activation) must be the activity")
    check_noise(name, input_dim, units, **fields)


NOISE_FIELDS = ("sigma", "input_sigma")
"""The noise fields every built-in cell spec has: recurrent (private) noise and input noise."""


def check_noise(name: str, input_dim: int = 3, units: int = 6, **fields) -> None:
    """A cell kind whose spec has the noise fields `sigma` and `input_sigma` (every built-in does; a plugin's
    may) honours both: with both 0 its spec is not `noisy` and it gives the noiseless output exactly, with or
    without a generator; each alone makes the spec `noisy` and changes the output, the same for the same
    generator seed and different for another. Cells without both fields are not checked."""
    import torch

    kind = registry.cells.get(name)
    spec_class = kind.spec_class()
    if not set(NOISE_FIELDS) <= set(spec_class.model_fields):
        return

    def build(sigma: float, input_sigma: float):
        spec = spec_class.model_validate({"kind": name, "units": units, **fields, "sigma": sigma,
                                          "input_sigma": input_sigma})
        torch.manual_seed(0)
        return spec, kind.implementation()(input_dim, spec).double()

    x = torch.randn(2, 7, input_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    spec, quiet = build(0.0, 0.0)
    assert not spec.noisy, f"{name}: a spec with sigma = input_sigma = 0 must not be noisy"
    with torch.no_grad():
        plain = quiet(x)[0]
        again = quiet(x, None, torch.Generator().manual_seed(1))[0]
    assert torch.equal(plain, again), f"{name}: without noise a generator must change nothing"
    for sigma, input_sigma in ((0.5, 0.0), (0.0, 0.5)):
        label = f"{name} with sigma={sigma}, input_sigma={input_sigma}"
        spec, cell = build(sigma, input_sigma)
        assert spec.noisy, f"{label}: the spec must say it is noisy"
        cell.load_state_dict(quiet.state_dict())
        with torch.no_grad():
            first, same, other = (cell(x, None, torch.Generator().manual_seed(seed))[0] for seed in (1, 1, 2))
        assert torch.isfinite(first).all(), f"{label}: non-finite activity"
        assert torch.equal(first, same), f"{label}: the same generator seed must give the same noise"
        assert not torch.equal(first, plain), f"{label}: the noise must change the output"
        assert not torch.equal(first, other), f"{label}: another generator seed must give other noise"


def check_task(spec, seed: int = 0) -> None:
    """A task spec's data builder returns float32 (trials, time, channels) data of the declared widths, sets
    and names inside them, a washout shorter than a held-out sequence, a source of training batches, and the
    same data for the same seed."""
    from ..tasks import build_task

    data, again = build_task(spec, seed), build_task(spec, seed)
    x, y = data.eval.inputs, data.eval.targets
    assert x.ndim == 3 and y.ndim == 3 and x.shape[:2] == y.shape[:2], f"{spec.kind}: eval shapes {x.shape}, {y.shape}"
    assert x.dtype == np.float32 and y.dtype == np.float32, f"{spec.kind}: data must be float32"
    assert x.shape[2] == spec.input_dim, f"{spec.kind}: {x.shape[2]} input channels, input_dim {spec.input_dim}"
    assert y.shape[2] == spec.target_width(), f"{spec.kind}: targets have {y.shape[2]} channels for loss {spec.loss}"
    assert len(spec.output_names()) == spec.output_dim, f"{spec.kind}: one output name per output channel"
    offered = "classes" if spec.n_classes() is not None else "regression"
    assert offered in type(spec).target_kinds, f"{spec.kind}: its targets are {offered}, not in its target_kinds"
    for label, sets, dim in (("output", spec.output_sets(), spec.output_dim), ("input", spec.input_sets(), spec.input_dim)):
        for set_name, idx in sets.items():
            assert idx and all(0 <= i < dim for i in idx), f"{spec.kind}: {label} set {set_name!r} out of range"
    assert 0 <= spec.washout < x.shape[1], f"{spec.kind}: washout {spec.washout} of {x.shape[1]} steps"
    assert 0 <= spec.grad_from < x.shape[1], f"{spec.kind}: grad_from {spec.grad_from} of {x.shape[1]} steps"
    assert (data.train is None) != (data.draw is None), f"{spec.kind}: give a training pool or a draw function"
    np.testing.assert_array_equal(x, again.eval.inputs, err_msg=f"{spec.kind}: same seed, same data")
    if data.draw is not None:
        batch = data.draw(3, np.random.default_rng(0))
        assert batch.inputs.shape[0] == 3 and batch.inputs.shape[2] == spec.input_dim, f"{spec.kind}: draw shape"


def check_metric(name: str, snapshot, context) -> dict:
    """A metric returns named float or array values whose keys are among its declared stored keys (templates
    expanded over groups and measures), the same values when computed twice, and, when it declares `bounds`,
    every finite value inside them."""
    metric = registry.metrics.get(name)
    first, second = metric.compute(snapshot, context), metric.compute(snapshot, context)
    assert first and isinstance(first, dict), f"{name}: compute must return a non-empty dict"
    patterns = [k.replace("<group>", "*").replace("<measure>", "*") for k in metric.stored_keys]
    for key, value in first.items():
        assert any(_matches(key, p) for p in patterns), f"{name}: stores {key!r}, not among {metric.stored_keys}"
        value = np.asarray(value, dtype=np.float64)
        np.testing.assert_array_equal(value, np.asarray(second[key], dtype=np.float64), err_msg=f"{name}: {key}")
        check_bounds(metric, key, value)
    return first


def check_bounds(metric, key: str, value) -> None:
    """Every finite entry of `value` (stored under `key`) lies in the metric's declared `bounds` (a relative
    1e-9 of slack for rounding); nothing is checked for a metric that declares none."""
    bounds = getattr(metric, "bounds", None)
    if bounds is None:
        return
    low, high = bounds
    finite = np.asarray(value, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    slack = 1e-9 * max(1.0, abs(low) if np.isfinite(low) else 1.0, abs(high) if np.isfinite(high) else 1.0)
    assert not finite.size or (finite.min() >= low - slack and finite.max() <= high + slack), (
        f"{metric.name}: {key} = {finite.min() if finite.min() < low else finite.max()} outside its bounds "
        f"[{low}, {high}]")


def _matches(key: str, pattern: str) -> bool:
    if "*" not in pattern:
        return key == pattern
    head, tail = pattern.split("*", 1)
    return key.startswith(head) and key.endswith(tail) and len(key) > len(head) + len(tail)


def check_loss_terms(experiment) -> None:
    """Every loss term of a compiled experiment gives a finite scalar (or None) and finite monitors on one
    minibatch, and a gradient reaches the network through the summed objective; its held-out values are
    finite floats and its saved state loads back (`check_term_state_and_heldout`)."""
    import torch

    inputs, targets = experiment.next_batch()
    outputs, hidden = experiment.forward(inputs)
    for term in experiment.terms:
        term.before_loss(hidden)
    terms, monitors = experiment.objective(outputs, targets, hidden)
    for key, value in {**terms, **monitors}.items():
        assert value.ndim == 0 and torch.isfinite(value), f"term {key}: not a finite scalar"
    experiment.optimizer.zero_grad(set_to_none=True)
    sum(terms.values()).backward()
    grads = [p.grad for p in experiment.model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads), "the objective must reach the network"
    check_term_state_and_heldout(experiment, hidden.detach().cpu().numpy())


def check_term_state_and_heldout(experiment, activity: np.ndarray) -> None:
    """Every loss term reports finite float values on (trials, time, units) `activity` as held-out activity,
    and accepts the state it saves (`load_state_dict(state_dict())`)."""
    for term in experiment.terms:
        for key, value in term.heldout(activity).items():
            assert isinstance(value, float) and np.isfinite(value), f"term {term.name}: held-out {key} = {value!r}"
        term.load_state_dict(term.state_dict())
