"""Vanilla (Elman) RNN in NumPy: one cell and the layer that runs it over a sequence.

Row-vector convention throughout (as in the study notes): a batch of inputs is `x` of shape (B, D) and
weights multiply from the right.

    h_t = tanh(h_{t-1} W_h + x_t W_x + b)

    W_x: (D, H)   W_h: (H, H)   b: (H,)   x_t: (B, D)   h_t: (B, H)

Every layer here follows one protocol, which `gradcheck.check_layer` relies on:

* `params`: list of weight arrays; `grads`: list of same-shaped arrays, **overwritten** by `backward`.
* `forward(*inputs)` returns one array or a tuple of arrays and fills `cache`.
* `backward(*d_outputs)` takes the gradient of the loss for each output, in order, and returns the
  gradient for each input, in order.

The module also holds the small helpers the LSTM and GRU share (`sigmoid`, initialisation, reading
weights out of a `torch.nn` recurrent module).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attnlab.errors import UserError

Array = np.ndarray


def sigmoid(x: Array) -> Array:
    """σ(x) = 1 / (1 + e^{-x}), written as ½(1 + tanh(x/2)) so it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def uniform_init(
    shape: tuple[int, ...], hidden_size: int, rng: np.random.Generator, dtype: Any = np.float64
) -> Array:
    """U(-1/√H, 1/√H), the initialisation torch.nn.RNN/LSTM/GRU use for every weight and bias."""
    bound = 1.0 / np.sqrt(hidden_size)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


class RNNCell:
    """One step of a tanh RNN.

    Forward:  a = h_prev W_h + x W_x + b,   h_next = tanh(a)
    Backward: da = dh_next ⊙ (1 - h_next²)
              dW_x = xᵀ da,  dW_h = h_prevᵀ da,  db = Σ_batch da
              dx = da W_xᵀ,  dh_prev = da W_hᵀ
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
    ) -> RNNCell:
        """A cell with torch's initialisation: W_x (D, H), W_h (H, H), b (H,)."""
        rng = rng if rng is not None else np.random.default_rng(0)
        D, H = input_size, hidden_size
        return cls(
            uniform_init((D, H), H, rng, dtype),
            uniform_init((H, H), H, rng, dtype),
            uniform_init((H,), H, rng, dtype),
        )

    def forward(self, x: Array, h_prev: Array) -> Array:
        """x: (B, D), h_prev: (B, H) -> h_next: (B, H)."""
        Wx, Wh, b = self.params
        h_next = np.tanh(h_prev @ Wh + x @ Wx + b)
        self.cache = (x, h_prev, h_next)
        return h_next

    def backward(self, dh_next: Array) -> tuple[Array, Array]:
        """dh_next: (B, H) -> (dx (B, D), dh_prev (B, H)); writes dW_x, dW_h, db into `grads`."""
        assert self.cache is not None, "call forward before backward"
        Wx, Wh, _ = self.params
        x, h_prev, h_next = self.cache
        da = dh_next * (1.0 - h_next**2)
        self.grads[0][...] = x.T @ da
        self.grads[1][...] = h_prev.T @ da
        self.grads[2][...] = da.sum(axis=0)
        return da @ Wx.T, da @ Wh.T


class SequenceLayer:
    """Runs a cell with a single state, `forward(x, h_prev) -> h_next`, over a batch-first sequence.

    forward(xs (B, T, D), h0 (B, H) | None) -> (hs (B, T, H), h_T (B, H)), with h0 = 0 when None.

    Backward (BPTT): walk t = T..1 carrying dh, the gradient flowing into h_t from the future,
        dh_t ← dhs[:, t] + dh          (the loss's own gradient plus the recurrent one)
        dx_t, dh ← cell_t.backward(dh_t)
    and sum every step's weight gradients, because every step shares the same weights.
    The gradient of h_T enters at the last step, and the dh left at the end is dh0.

    Subclasses set `cell_class`; `params[0]` is W_x (D, ·) and `params[1]` is W_h (H, ·).
    """

    cell_class: type = RNNCell

    def __init__(self, *params: Array):
        self.params: list[Array] = list(params)
        self.grads: list[Array] = [np.zeros_like(p) for p in self.params]
        self.cache: tuple[list[Any], tuple[int, ...]] | None = None

    @property
    def hidden_size(self) -> int:
        return self.params[1].shape[0]

    def forward(self, xs: Array, h0: Array | None = None) -> tuple[Array, Array]:
        B, T, _ = xs.shape
        h = np.zeros((B, self.hidden_size), dtype=xs.dtype) if h0 is None else h0
        hs = np.empty((B, T, self.hidden_size), dtype=xs.dtype)
        cells = []
        for t in range(T):
            cell = self.cell_class(*self.params)  # shares the weight arrays, keeps its own cache
            h = cell.forward(xs[:, t], h)
            hs[:, t] = h
            cells.append(cell)
        self.cache = (cells, xs.shape)
        return hs, h

    def backward(self, dhs: Array | None, dh_last: Array | None = None) -> tuple[Array, Array]:
        """dhs: (B, T, H) or None, dh_last: (B, H) or None -> (dxs (B, T, D), dh0 (B, H))."""
        assert self.cache is not None, "call forward before backward"
        cells, (B, T, D) = self.cache
        dtype = self.params[0].dtype
        dxs = np.empty((B, T, D), dtype=dtype)
        dh = np.zeros((B, self.hidden_size), dtype=dtype) if dh_last is None else dh_last.copy()
        for g in self.grads:
            g[...] = 0.0
        for t in reversed(range(T)):
            dh_t = dh if dhs is None else dhs[:, t] + dh
            dxs[:, t], dh = cells[t].backward(dh_t)
            for g, cg in zip(self.grads, cells[t].grads, strict=True):
                g += cg
        return dxs, dh


class RNN(SequenceLayer):
    """A tanh RNN over a batch-first sequence: h_t = tanh(h_{t-1} W_h + x_t W_x + b), params [W_x, W_h, b].

    See `SequenceLayer` for forward/backward shapes and the BPTT recursion.
    """

    cell_class = RNNCell

    def __init__(self, Wx: Array, Wh: Array, b: Array):
        super().__init__(Wx, Wh, b)

    @classmethod
    def create(
        cls,
        input_size: int,
        hidden_size: int,
        rng: np.random.Generator | None = None,
        dtype: Any = np.float64,
    ) -> RNN:
        """A layer with torch's initialisation (see `RNNCell.create`)."""
        return cls(*RNNCell.create(input_size, hidden_size, rng, dtype).params)

    @classmethod
    def from_torch(cls, module: Any, dtype: Any = np.float64) -> RNN:
        """Copy a single-layer, unidirectional, batch_first, tanh `torch.nn.RNN`.

        torch computes x W_ihᵀ + b_ih + h W_hhᵀ + b_hh, so W_x = W_ihᵀ, W_h = W_hhᵀ, b = b_ih + b_hh.
        """
        w = torch_rnn_weights(module, "RNN", dtype)
        return cls(w["weight_ih"].T.copy(), w["weight_hh"].T.copy(), w["bias_ih"] + w["bias_hh"])


def torch_rnn_weights(module: Any, kind: str, dtype: Any = np.float64) -> dict[str, Array]:
    """Read weight_ih, weight_hh, bias_ih, bias_hh (zeros when bias=False) out of a torch RNN/LSTM/GRU.

    Rejects what the NumPy layers cannot represent: several layers, both directions, sequence-first
    layout (the same (B, T, D) array would mean something else to the two), a relu RNN, LSTM projections.
    """
    import torch  # only here: the rest of `scratch` is NumPy-only

    expected = getattr(torch.nn, kind)
    if not isinstance(module, expected):
        raise UserError(f"expected a torch.nn.{kind}, got {type(module).__name__}; pass the matching module")
    problems = []
    if module.num_layers != 1:
        problems.append(f"num_layers={module.num_layers} (need 1)")
    if module.bidirectional:
        problems.append("bidirectional=True (need False)")
    if not module.batch_first:
        problems.append("batch_first=False (need True)")
    if kind == "RNN" and module.nonlinearity != "tanh":
        problems.append(f"nonlinearity={module.nonlinearity!r} (need 'tanh')")
    if kind == "LSTM" and module.proj_size != 0:
        problems.append(f"proj_size={module.proj_size} (need 0)")
    if problems:
        raise UserError(
            f"cannot copy this torch.nn.{kind}: {', '.join(problems)}; build it with those settings"
        )

    def arr(name: str) -> Array:
        return getattr(module, name).detach().cpu().to(torch.float64).numpy().astype(dtype)

    out = {"weight_ih": arr("weight_ih_l0"), "weight_hh": arr("weight_hh_l0")}
    for name in ("bias_ih", "bias_hh"):
        out[name] = arr(f"{name}_l0") if module.bias else np.zeros(out["weight_hh"].shape[0], dtype=dtype)
    return out
