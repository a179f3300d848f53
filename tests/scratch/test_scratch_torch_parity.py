"""The NumPy layers with weights copied from torch.nn.RNN/LSTM/GRU match torch, forward and backward."""

import numpy as np
import pytest
import torch

from attnlab.errors import UserError
from attnlab.scratch import GRU, LSTM, RNN, from_torch

B, T, D, H = 3, 6, 4, 5
ATOL = 1e-10


def _torch_run(module, xs, states, douts):
    """torch forward + autograd for L = Σ douts ⊙ outputs; returns outputs, input grads, param grads."""
    x = torch.tensor(xs, requires_grad=True)
    st = [torch.tensor(s[None], requires_grad=True) for s in states]  # torch wants (layers, B, H)
    out, last = module(x, tuple(st) if len(st) == 2 else st[0])
    last = list(last) if isinstance(last, tuple) else [last]
    outs = [out] + [s[0] for s in last]
    loss = sum((torch.tensor(g) * o).sum() for g, o in zip(douts, outs, strict=True))
    module.zero_grad()
    loss.backward()
    in_grads = [x.grad.numpy()] + [s.grad[0].numpy() for s in st]
    p_grads = {name: p.grad.numpy() for name, p in module.named_parameters()}
    return [o.detach().numpy() for o in outs], in_grads, p_grads


def _torch_module(kind, bias):
    cls = {"RNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[kind]
    torch.manual_seed(3)
    module = cls(D, H, batch_first=True, bias=bias).double()
    with torch.no_grad():  # larger than the default init, so every gate saturates somewhere
        for p in module.parameters():
            p.mul_(3.0)
    return module


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_forward_and_gradients_match_torch(kind, bias):
    module = _torch_module(kind, bias)
    layer = from_torch(module)
    assert type(layer).__name__ == kind
    rng = np.random.default_rng(4)
    xs = rng.standard_normal((B, T, D))
    states = [rng.standard_normal((B, H)) for _ in range(2 if kind == "LSTM" else 1)]

    outs = layer.forward(xs, *states)
    douts = [rng.standard_normal(o.shape) for o in outs]
    in_grads = layer.backward(*douts)
    t_outs, t_in_grads, t_p_grads = _torch_run(module, xs, states, douts)

    assert len(outs) == len(t_outs)
    for ours, theirs in zip(outs, t_outs, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=ATOL)
    for ours, theirs in zip(in_grads, t_in_grads, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=ATOL)

    dWx, dWh, *dbias = layer.grads
    np.testing.assert_allclose(dWx, t_p_grads["weight_ih_l0"].T, rtol=0, atol=ATOL)
    np.testing.assert_allclose(dWh, t_p_grads["weight_hh_l0"].T, rtol=0, atol=ATOL)
    if not bias:
        return
    if kind == "GRU":  # separate biases: b_hn sits inside r ⊙ (·), so its gradient differs from b_in's
        np.testing.assert_allclose(dbias[0], t_p_grads["bias_ih_l0"], rtol=0, atol=ATOL)
        np.testing.assert_allclose(dbias[1], t_p_grads["bias_hh_l0"], rtol=0, atol=ATOL)
        assert not np.allclose(dbias[0], dbias[1])
    else:  # one bias b = b_ih + b_hh: its gradient is each of theirs
        np.testing.assert_allclose(dbias[0], t_p_grads["bias_ih_l0"], rtol=0, atol=ATOL)
        np.testing.assert_allclose(dbias[0], t_p_grads["bias_hh_l0"], rtol=0, atol=ATOL)


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_zero_initial_state_matches_torch_default(cls):
    module = _torch_module(cls.__name__, True)
    layer = cls.from_torch(module)
    xs = np.random.default_rng(5).standard_normal((B, T, D))
    ours = layer.forward(xs)
    with torch.no_grad():
        out, _ = module(torch.tensor(xs))
    np.testing.assert_allclose(ours[0], out.numpy(), rtol=0, atol=ATOL)


def test_from_torch_copies_rather_than_shares_and_converts_float32():
    module = torch.nn.GRU(D, H, batch_first=True)  # float32
    layer = from_torch(module)
    assert all(p.dtype == np.float64 for p in layer.params)
    np.testing.assert_allclose(layer.params[0], module.weight_ih_l0.detach().numpy().T, rtol=0, atol=0)
    before = layer.params[0].copy()
    with torch.no_grad():
        module.weight_ih_l0.add_(1.0)
    np.testing.assert_array_equal(layer.params[0], before)


@pytest.mark.parametrize(
    "module",
    [
        torch.nn.LSTM(D, H, num_layers=2, batch_first=True),
        torch.nn.GRU(D, H, bidirectional=True, batch_first=True),
        torch.nn.RNN(D, H),  # sequence-first
        torch.nn.RNN(D, H, nonlinearity="relu", batch_first=True),
        torch.nn.LSTM(D, H, proj_size=2, batch_first=True),
        torch.nn.Linear(D, H),
    ],
    ids=["two-layers", "bidirectional", "seq-first", "relu", "proj", "linear"],
)
def test_from_torch_rejects_what_it_cannot_represent(module):
    with pytest.raises(UserError):
        from_torch(module)


def test_class_from_torch_rejects_the_wrong_kind():
    with pytest.raises(UserError, match="torch.nn.LSTM"):
        LSTM.from_torch(torch.nn.GRU(D, H, batch_first=True))
