"""Compiled network: readout heads, bottleneck, max competition, input pathways, weight accessors."""

from __future__ import annotations

import numpy as np
import torch

from modsim.compile import ModularRNN, input_mask
from modsim.spec import Network


def network(**kw) -> Network:
    base = dict(cell={"kind": "gru", "units": 8}, groups={"a": 4, "b": 4},
                readouts=[{"name": "ra", "dim": 3, "from": ["a"], "bottleneck": 2},
                          {"name": "rb", "dim": 3, "from": ["b"]}])
    base.update(kw)
    return Network.model_validate(base)


def test_heads_read_only_their_groups():
    torch.manual_seed(0)
    model = ModularRNN(network(), input_dim=3, seed=0)
    out, hidden = model(torch.randn(2, 5, 3))
    assert out.shape == (2, 5, 6) and hidden.shape == (2, 5, 8)
    w = model.readout_matrix()
    assert w.shape == (6, 8)
    assert np.all(w[:3, 4:] == 0) and np.all(w[3:, :4] == 0)
    assert np.linalg.matrix_rank(w[:3, :4]) <= 2  # through the 2-unit bottleneck
    h = hidden.detach().clone()
    h[..., 4:] = 0
    np.testing.assert_allclose(model.readout(h)[..., :3].detach(), out[..., :3].detach(), atol=1e-6)


def test_max_competition_picks_head_with_largest_output():
    torch.manual_seed(0)
    model = ModularRNN(network(competition="max"), input_dim=3, seed=0)
    hidden = torch.randn(4, 7, 8)
    out = model.readout(hidden)
    heads = torch.stack([head(hidden) for head in model.heads], dim=-2)
    winner = heads.amax(-1).argmax(-1)
    expected = torch.where((winner == 0).unsqueeze(-1), heads[..., 0, :], heads[..., 1, :])
    assert out.shape == (4, 7, 3)
    torch.testing.assert_close(out, expected)


def test_per_group_inputs_and_rnn_cell():
    net = network(cell={"kind": "rnn", "units": 8}, inputs={"kind": "per_group", "channels": {"a": [0], "b": [1, 2]}})
    mask = input_mask(net, 3)
    assert mask[:4].tolist() == [[True, False, False]] * 4 and mask[4:].tolist() == [[False, True, True]] * 4
    model = ModularRNN(net, input_dim=3, seed=0)
    w = model.input_matrix()
    assert w.shape == (8, 3) and np.all(w[~mask] == 0)
    assert model.recurrent_matrix().shape == (8, 8)


def test_gru_recurrent_blocks():
    model = ModularRNN(network(), input_dim=3, seed=0)
    full = model.rnn.weight_hh_l0.detach().numpy()
    np.testing.assert_array_equal(model.recurrent_matrix("candidate"), full[16:24])
    np.testing.assert_array_equal(model.recurrent_matrix("reset"), full[:8])
    np.testing.assert_allclose(model.recurrent_matrix("all"), full[:8] + full[8:16] + full[16:24])
