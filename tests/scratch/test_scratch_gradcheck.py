"""The gradient checker itself: right on known derivatives, and it catches broken backward passes."""

import numpy as np
import pytest

from attnlab.scratch import LSTMCell, RNNCell, check_layer, numeric_grad, relative_error


def test_numeric_grad_matches_a_known_derivative_and_restores_x():
    x = np.random.default_rng(0).standard_normal((3, 4))
    before = x.copy()
    grad = numeric_grad(lambda z: float(np.sum(np.sin(z) * z**2)), x, eps=1e-5)
    exact = np.cos(x) * x**2 + 2 * x * np.sin(x)
    assert relative_error(grad, exact) < 1e-9
    np.testing.assert_array_equal(x, before)


def test_numeric_grad_rejects_integer_arrays():
    with pytest.raises(TypeError):
        numeric_grad(lambda z: float(z.sum()), np.arange(3), 1e-6)


def test_relative_error_values():
    a = np.array([1.0, -2.0, 3.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(a, -a) == pytest.approx(1.0)
    assert relative_error(a, np.zeros(3)) == pytest.approx(1.0)
    assert relative_error(a, a * (1 + 1e-4)) == pytest.approx(0.5e-4, rel=1e-3)
    assert relative_error(a, a[:2]) == float("inf")


class _NoTanhDerivative(RNNCell):
    """Forgets the (1 - h²) factor: every gradient is wrong."""

    def backward(self, dh_next):
        Wx, Wh, _ = self.params
        x, h_prev, _ = self.cache
        self.grads[0][...] = x.T @ dh_next
        self.grads[1][...] = h_prev.T @ dh_next
        self.grads[2][...] = dh_next.sum(axis=0)
        return dh_next @ Wx.T, dh_next @ Wh.T


class _BiasNotSummed(RNNCell):
    """Right except db, which takes only the first example of the batch."""

    def backward(self, dh_next):
        out = super().backward(dh_next)
        _, _, h_next = self.cache
        self.grads[2][...] = (dh_next * (1 - h_next**2))[0]
        return out


class _ForgetGateSwapped(LSTMCell):
    """Uses c_next instead of c_prev for the forget gate's gradient (a classic slip)."""

    def backward(self, dh_next, dc_next):
        x, h_prev, c_prev, i, f, g, o, tc = self.cache
        self.cache = (x, h_prev, np.arctanh(tc), i, f, g, o, tc)
        try:
            return super().backward(dh_next, dc_next)
        finally:
            self.cache = (x, h_prev, c_prev, i, f, g, o, tc)


def _rnn_inputs(D=3, H=4, B=2):
    rng = np.random.default_rng(1)
    return rng, [rng.standard_normal((B, D)), rng.standard_normal((B, H))]


def test_check_layer_passes_a_correct_cell_and_leaves_inputs_alone():
    rng, inputs = _rnn_inputs()
    copies = [x.copy() for x in inputs]
    errors = check_layer(RNNCell.create(3, 4, rng), inputs)
    assert set(errors) == {"input 0", "input 1", "param 0", "param 1", "param 2"}
    assert max(errors.values()) < 1e-8
    for x, c in zip(inputs, copies, strict=True):
        np.testing.assert_array_equal(x, c)


def test_check_layer_catches_a_missing_activation_derivative():
    rng, inputs = _rnn_inputs()
    layer = _NoTanhDerivative(*RNNCell.create(3, 4, rng).params)
    with pytest.raises(AssertionError, match="gradient check failed"):
        check_layer(layer, inputs)


def test_check_layer_names_the_one_wrong_parameter():
    rng, inputs = _rnn_inputs()
    layer = _BiasNotSummed(*RNNCell.create(3, 4, rng).params)
    errors = check_layer(layer, inputs, tol=None)
    assert errors["param 2"] > 1e-3
    assert max(v for k, v in errors.items() if k != "param 2") < 1e-8
    with pytest.raises(AssertionError, match="param 2"):
        check_layer(layer, inputs)


def test_check_layer_catches_a_wrong_lstm_gate_gradient():
    rng = np.random.default_rng(2)
    inputs = [rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))]
    layer = _ForgetGateSwapped(*LSTMCell.create(3, 4, rng).params)
    with pytest.raises(AssertionError):
        check_layer(layer, inputs)


def test_check_layer_fails_on_nan_gradients():
    rng, inputs = _rnn_inputs()

    class _Nan(RNNCell):
        def backward(self, dh_next):
            dx, dh = super().backward(dh_next)
            return dx * np.nan, dh

    with pytest.raises(AssertionError, match="input 0"):
        check_layer(_Nan(*RNNCell.create(3, 4, rng).params), inputs)
