"""LSTM in NumPy: one cell and the layer that runs it over a sequence (BPTT).

The four gates are computed by one matrix product and sliced, in torch's order (i, f, g, o), so the
weights copy 1:1 from `torch.nn.LSTM` (transposed, with the two biases added):

    A = x_t W_x + h_{t-1} W_h + b                       A: (B, 4H)
    i = σ(A[:, 0:H])      input gate: how much of the candidate to write
    f = σ(A[:, H:2H])     forget gate: how much of the old cell to keep
    g = tanh(A[:, 2H:3H]) candidate cell content
    o = σ(A[:, 3H:4H])    output gate: how much of the cell to expose
    c_t = f ⊙ c_{t-1} + i ⊙ g
    h_t = o ⊙ tanh(c_t)

    W_x: (D, 4H)   W_h: (H, 4H)   b: (4H,)   x_t: (B, D)   h_t, c_t: (B, H)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attnlab.scratch.rnn import Array, sigmoid, torch_rnn_weights, uniform_init


class LSTMCell:
    """One LSTM step: forward(x, h_prev, c_prev) -> (h_next, c_next).

    Backward, with tc = tanh(c_next) and ds the total gradient reaching c_next:
        ds = dc_next + dh_next ⊙ o ⊙ (1 - tc²)
        do = dh_next ⊙ tc,  di = ds ⊙ g,  dg = ds ⊙ i,  df = ds ⊙ c_prev,  dc_prev = ds ⊙ f
        dA = [di ⊙ i(1-i), df ⊙ f(1-f), dg ⊙ (1-g²), do ⊙ o(1-o)]
        dW_x = xᵀ dA,  dW_h = h_prevᵀ dA,  db = Σ_batch dA,  dx = dA W_xᵀ,  dh_prev = dA W_hᵀ
    """

    def __init__(self, Wx: Array, Wh: Array, b: Array):
        self.params: list[Array] = [Wx, Wh, b]
        self.grads: list[Array] = [np.zeros_like(p) for p in self.params]
        self.cache: tuple[Array, ...] | None = None

    @classmethod
    def create(
        cls,
        input_size: int,
        hidden_size: int,
        rng: np.random.Generator | None = None,
        dtype: Any = np.float64,
    ) -> LSTMCell:
        """A cell with torch's initialisation: W_x (D, 4H), W_h (H, 4H), b (4H,)."""
        rng = rng if rng is not None else np.random.default_rng(0)
        D, H = input_size, hidden_size
        return cls(
            uniform_init((D, 4 * H), H, rng, dtype),
            uniform_init((H, 4 * H), H, rng, dtype),
            uniform_init((4 * H,), H, rng, dtype),
        )

    def forward(self, x: Array, h_prev: Array, c_prev: Array) -> tuple[Array, Array]:
        """x: (B, D), h_prev, c_prev: (B, H) -> (h_next, c_next), each (B, H)."""
        Wx, Wh, b = self.params
        H = Wh.shape[0]
        A = x @ Wx + h_prev @ Wh + b
        i, f = sigmoid(A[:, :H]), sigmoid(A[:, H : 2 * H])
        g, o = np.tanh(A[:, 2 * H : 3 * H]), sigmoid(A[:, 3 * H :])
        c_next = f * c_prev + i * g
        tc = np.tanh(c_next)
        h_next = o * tc
        self.cache = (x, h_prev, c_prev, i, f, g, o, tc)
        return h_next, c_next

    def backward(self, dh_next: Array, dc_next: Array) -> tuple[Array, Array, Array]:
        """(dh_next, dc_next), each (B, H) -> (dx (B, D), dh_prev (B, H), dc_prev (B, H))."""
        assert self.cache is not None, "call forward before backward"
        Wx, Wh, _ = self.params
        x, h_prev, c_prev, i, f, g, o, tc = self.cache
        ds = dc_next + dh_next * o * (1.0 - tc**2)
        dA = np.concatenate(
            [
                ds * g * i * (1.0 - i),
                ds * c_prev * f * (1.0 - f),
                ds * i * (1.0 - g**2),
                dh_next * tc * o * (1.0 - o),
            ],
            axis=1,
        )
        self.grads[0][...] = x.T @ dA
        self.grads[1][...] = h_prev.T @ dA
        self.grads[2][...] = dA.sum(axis=0)
        return dA @ Wx.T, dA @ Wh.T, ds * f


class LSTM:
    """An LSTM over a batch-first sequence.

    forward(xs (B, T, D), h0 (B, H) | None, c0 (B, H) | None) -> (hs (B, T, H), h_T (B, H), c_T (B, H)).
    Zero initial states when None. (torch returns (hs, (h_n, c_n)) with a leading layer axis; here flat.)

    backward(dhs, dh_last, dc_last) -> (dxs (B, T, D), dh0 (B, H), dc0 (B, H)) walks t = T..1 carrying
    (dh, dc) into each cell, adding dhs[:, t] to dh, and sums the shared weights' gradients over steps.
    """

    def __init__(self, Wx: Array, Wh: Array, b: Array):
        self.params: list[Array] = [Wx, Wh, b]
        self.grads: list[Array] = [np.zeros_like(p) for p in self.params]
        self.cache: tuple[list[LSTMCell], tuple[int, ...]] | None = None

    @property
    def hidden_size(self) -> int:
        return self.params[1].shape[0]

    @classmethod
    def create(
        cls,
        input_size: int,
        hidden_size: int,
        rng: np.random.Generator | None = None,
        dtype: Any = np.float64,
    ) -> LSTM:
        """A layer with torch's initialisation (see `LSTMCell.create`)."""
        return cls(*LSTMCell.create(input_size, hidden_size, rng, dtype).params)

    @classmethod
    def from_torch(cls, module: Any, dtype: Any = np.float64) -> LSTM:
        """Copy a single-layer, unidirectional, batch_first `torch.nn.LSTM` (gate order i, f, g, o).

        W_x = W_ihᵀ, W_h = W_hhᵀ, b = b_ih + b_hh.
        """
        w = torch_rnn_weights(module, "LSTM", dtype)
        return cls(w["weight_ih"].T.copy(), w["weight_hh"].T.copy(), w["bias_ih"] + w["bias_hh"])

    def forward(
        self, xs: Array, h0: Array | None = None, c0: Array | None = None
    ) -> tuple[Array, Array, Array]:
        B, T, _ = xs.shape
        H = self.hidden_size
        h = np.zeros((B, H), dtype=xs.dtype) if h0 is None else h0
        c = np.zeros((B, H), dtype=xs.dtype) if c0 is None else c0
        hs = np.empty((B, T, H), dtype=xs.dtype)
        cells = []
        for t in range(T):
            cell = LSTMCell(*self.params)
            h, c = cell.forward(xs[:, t], h, c)
            hs[:, t] = h
            cells.append(cell)
        self.cache = (cells, xs.shape)
        return hs, h, c

    def backward(
        self, dhs: Array | None, dh_last: Array | None = None, dc_last: Array | None = None
    ) -> tuple[Array, Array, Array]:
        assert self.cache is not None, "call forward before backward"
        cells, (B, T, D) = self.cache
        dtype = self.params[0].dtype
        zeros = np.zeros((B, self.hidden_size), dtype=dtype)
        dh = zeros.copy() if dh_last is None else dh_last.copy()
        dc = zeros.copy() if dc_last is None else dc_last.copy()
        dxs = np.empty((B, T, D), dtype=dtype)
        for g in self.grads:
            g[...] = 0.0
        for t in reversed(range(T)):
            dh_t = dh if dhs is None else dhs[:, t] + dh
            dxs[:, t], dh, dc = cells[t].backward(dh_t, dc)
            for g, cg in zip(self.grads, cells[t].grads, strict=True):
                g += cg
        return dxs, dh, dc
