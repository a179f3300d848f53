"""Numeric gradient checks (float64, relative error < 1e-6) for every recurrent cell and layer."""

import numpy as np
import pytest

from attnlab.scratch import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, check_layer

B, T, D, H = 2, 5, 3, 4
TOL = 1e-6


def _state(rng):
    return rng.standard_normal((B, H))


@pytest.mark.parametrize("cls", [RNNCell, GRUCell, LSTMCell])
def test_cell_gradients(cls):
    rng = np.random.default_rng(10)
    cell = cls.create(D, H, rng)
    inputs = [rng.standard_normal((B, D)), _state(rng)]
    if cls is LSTMCell:
        inputs.append(_state(rng))
    errors = check_layer(cell, inputs, tol=TOL)
    assert len(errors) == len(inputs) + len(cell.params)


@pytest.mark.parametrize("cls", [RNN, GRU, LSTM])
def test_sequence_layer_gradients_through_time(cls):
    rng = np.random.default_rng(11)
    layer = cls.create(D, H, rng)
    # Larger weights than the default init so gradients that flow back many steps are not negligible.
    for p in layer.params:
        p *= 2.0
    inputs = [rng.standard_normal((B, T, D)), _state(rng)]
    if cls is LSTM:
        inputs.append(_state(rng))
    check_layer(layer, inputs, tol=TOL)


@pytest.mark.parametrize("cls", [RNN, GRU, LSTM])
def test_early_inputs_really_reach_the_last_state(cls):
    """Guards against a BPTT that drops the recurrent term: dx_0 of a loss on h_T alone is nonzero."""
    rng = np.random.default_rng(12)
    layer = cls.create(D, H, rng)
    xs = rng.standard_normal((B, T, D))
    layer.forward(xs)
    grads = layer.backward(None, np.ones((B, H)))
    dxs = grads[0]
    assert np.abs(dxs[:, 0]).max() > 1e-4
    # ... and it is the same as passing explicit zeros for the per-step gradients.
    again = layer.backward(np.zeros((B, T, H)), np.ones((B, H)))
    for a, b in zip(grads, again, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)


@pytest.mark.parametrize("cls", [RNN, GRU, LSTM])
def test_backward_overwrites_grads_instead_of_accumulating(cls):
    rng = np.random.default_rng(13)
    layer = cls.create(D, H, rng)
    xs = rng.standard_normal((B, T, D))
    outs = layer.forward(xs)
    douts = [rng.standard_normal(o.shape) for o in outs]
    layer.backward(*douts)
    first = [g.copy() for g in layer.grads]
    layer.backward(*douts)
    for a, b in zip(first, layer.grads, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cls", [RNN, GRU, LSTM])
def test_states_default_to_zero_and_last_state_is_last_output(cls):
    rng = np.random.default_rng(14)
    layer = cls.create(D, H, rng)
    xs = rng.standard_normal((B, T, D))
    implicit = layer.forward(xs)
    zeros = [np.zeros((B, H))] * (2 if cls is LSTM else 1)
    explicit = layer.forward(xs, *zeros)
    for a, b in zip(implicit, explicit, strict=True):
        np.testing.assert_array_equal(a, b)
    hs, h_last = implicit[0], implicit[1]
    assert hs.shape == (B, T, H)
    np.testing.assert_array_equal(hs[:, -1], h_last)


def test_sequence_layer_equals_its_cell_stepped_by_hand():
    rng = np.random.default_rng(15)
    layer = LSTM.create(D, H, rng)
    cell = LSTMCell(*layer.params)
    xs, h, c = rng.standard_normal((B, T, D)), _state(rng), _state(rng)
    hs, h_T, c_T = layer.forward(xs, h, c)
    for t in range(T):
        h, c = cell.forward(xs[:, t], h, c)
        np.testing.assert_allclose(hs[:, t], h, rtol=0, atol=1e-15)
    np.testing.assert_allclose(c_T, c, rtol=0, atol=1e-15)


def test_dtype_follows_the_parameters():
    rng = np.random.default_rng(16)
    layer = GRU.create(D, H, rng, dtype=np.float32)
    hs, h_T = layer.forward(rng.standard_normal((B, T, D)).astype(np.float32))
    assert hs.dtype == h_T.dtype == np.float32
    dxs, dh0 = layer.backward(np.ones_like(hs))
    assert dxs.dtype == dh0.dtype == np.float32
