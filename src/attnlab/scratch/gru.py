"""GRU in NumPy, in PyTorch's convention so the weights copy 1:1 from `torch.nn.GRU`.

Gates in torch's order (r, z, n); the input and hidden projections keep separate biases, because the
reset gate multiplies only the hidden part of the candidate:

    a = x_t W_x + b_x          h' = h_{t-1} W_h + b_h          a, h': (B, 3H)
    r = σ(a_r + h'_r)                 reset gate: how much of the past feeds the candidate
    z = σ(a_z + h'_z)                 update gate: how much of the old state to keep
    n = tanh(a_n + r ⊙ h'_n)          candidate, i.e. tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
    h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

    W_x: (D, 3H)   W_h: (H, 3H)   b_x, b_h: (3H,)   x_t: (B, D)   h_t: (B, H)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attnlab.scratch.rnn import Array, SequenceLayer, sigmoid, torch_rnn_weights, uniform_init


class GRUCell:
    """One GRU step: forward(x, h_prev) -> h_next.

    Backward:
        dn = dh_next ⊙ (1 - z),  dz = dh_next ⊙ (h_prev - n),  dh_prev ← dh_next ⊙ z
        dn_pre = dn ⊙ (1 - n²),  dr = dn_pre ⊙ h'_n
        dr_pre = dr ⊙ r(1 - r),  dz_pre = dz ⊙ z(1 - z)
        da  = [dr_pre, dz_pre, dn_pre]           (gradient of x W_x + b_x)
        dh' = [dr_pre, dz_pre, dn_pre ⊙ r]       (gradient of h W_h + b_h)
        dW_x = xᵀ da, db_x = Σ_batch da, dW_h = h_prevᵀ dh', db_h = Σ_batch dh'
        dx = da W_xᵀ,  dh_prev += dh' W_hᵀ
    """

    def __init__(self, Wx: Array, Wh: Array, bx: Array, bh: Array):
        self.params: list[Array] = [Wx, Wh, bx, bh]
        self.grads: list[Array] = [np.zeros_like(p) for p in self.params]
        self.cache: tuple[Array, ...] | None = None

    @classmethod
    def create(
        cls,
        input_size: int,
        hidden_size: int,
        rng: np.random.Generator | None = None,
        dtype: Any = np.float64,
    ) -> GRUCell:
        """A cell with torch's initialisation: W_x (D, 3H), W_h (H, 3H), b_x (3H,), b_h (3H,)."""
        rng = rng if rng is not None else np.random.default_rng(0)
        D, H = input_size, hidden_size
        return cls(
            uniform_init((D, 3 * H), H, rng, dtype),
            uniform_init((H, 3 * H), H, rng, dtype),
            uniform_init((3 * H,), H, rng, dtype),
            uniform_init((3 * H,), H, rng, dtype),
        )

    def forward(self, x: Array, h_prev: Array) -> Array:
        """x: (B, D), h_prev: (B, H) -> h_next: (B, H)."""
        Wx, Wh, bx, bh = self.params
        H = Wh.shape[0]
        a = x @ Wx + bx
        hp = h_prev @ Wh + bh
        r = sigmoid(a[:, :H] + hp[:, :H])
        z = sigmoid(a[:, H : 2 * H] + hp[:, H : 2 * H])
        hn = hp[:, 2 * H :]
        n = np.tanh(a[:, 2 * H :] + r * hn)
        h_next = (1.0 - z) * n + z * h_prev
        self.cache = (x, h_prev, r, z, n, hn)
        return h_next

    def backward(self, dh_next: Array) -> tuple[Array, Array]:
        """dh_next: (B, H) -> (dx (B, D), dh_prev (B, H)); writes dW_x, dW_h, db_x, db_h into `grads`."""
        assert self.cache is not None, "call forward before backward"
        Wx, Wh, _, _ = self.params
        x, h_prev, r, z, n, hn = self.cache
        dn_pre = dh_next * (1.0 - z) * (1.0 - n**2)
        dz_pre = dh_next * (h_prev - n) * z * (1.0 - z)
        dr_pre = dn_pre * hn * r * (1.0 - r)
        da = np.concatenate([dr_pre, dz_pre, dn_pre], axis=1)
        dhp = np.concatenate([dr_pre, dz_pre, dn_pre * r], axis=1)
        self.grads[0][...] = x.T @ da
        self.grads[1][...] = h_prev.T @ dhp
        self.grads[2][...] = da.sum(axis=0)
        self.grads[3][...] = dhp.sum(axis=0)
        return da @ Wx.T, dh_next * z + dhp @ Wh.T


class GRU(SequenceLayer):
    """A GRU over a batch-first sequence; params [W_x, W_h, b_x, b_h].

    forward(xs (B, T, D), h0 | None) -> (hs (B, T, H), h_T (B, H));
    backward(dhs, dh_last) -> (dxs, dh0). See `SequenceLayer` for the BPTT recursion.
    """

    cell_class = GRUCell

    def __init__(self, Wx: Array, Wh: Array, bx: Array, bh: Array):
        super().__init__(Wx, Wh, bx, bh)

    @classmethod
    def create(
        cls,
        input_size: int,
        hidden_size: int,
        rng: np.random.Generator | None = None,
        dtype: Any = np.float64,
    ) -> GRU:
        """A layer with torch's initialisation (see `GRUCell.create`)."""
        return cls(*GRUCell.create(input_size, hidden_size, rng, dtype).params)

    @classmethod
    def from_torch(cls, module: Any, dtype: Any = np.float64) -> GRU:
        """Copy a single-layer, unidirectional, batch_first `torch.nn.GRU`: W_x = W_ihᵀ, W_h = W_hhᵀ,
        b_x = b_ih, b_h = b_hh (kept apart: b_hn sits inside r ⊙ (·))."""
        w = torch_rnn_weights(module, "GRU", dtype)
        return cls(w["weight_ih"].T.copy(), w["weight_hh"].T.copy(), w["bias_ih"].copy(), w["bias_hh"].copy())
