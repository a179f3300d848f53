"""Attention in NumPy: masked softmax, additive (Bahdanau) and dot-product attention, forward and backward.

Shapes: queries q (B, T_q, D_q), keys k (B, T_k, D_k), values v (B, T_k, D_v). A query of shape (B, D_q)
(one decoder step, as in Bahdanau et al.) is also accepted; then the outputs drop the T_q axis too.
Masks are boolean with True = may attend, shaped (B, T_k) (a key-padding mask, the same for every
query) or anything that broadcasts to (B, T_q, T_k). Every query must be allowed at least one key.

Both layers return (context (B, T_q, D_v), weights (B, T_q, T_k)) and follow the `rnn.py` protocol:
`backward(dcontext, dweights=None) -> (dq, dk, dv)`, parameter gradients written into `grads`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attnlab.errors import UserError
from attnlab.scratch.rnn import Array, uniform_init


def _broadcast_mask(mask: Array | None, shape: tuple[int, int, int]) -> Array | None:
    """A (B, T_k) or broadcastable boolean mask as (B, T_q, T_k); rejects rows with no allowed key."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise UserError(f"attention mask must be boolean (True = may attend), got dtype {mask.dtype}")
    if mask.ndim == 2:
        mask = mask[:, None, :]
    try:
        mask = np.broadcast_to(mask, shape)
    except ValueError:
        raise UserError(
            f"attention mask of shape {mask.shape} does not fit scores {shape}; use (B, T_k) or (B, T_q, T_k)"
        ) from None
    if not mask.any(axis=-1).all():
        raise UserError("attention mask hides every key from some query; allow at least one key per query")
    return mask


def masked_softmax(scores: Array, mask: Array | None = None) -> Array:
    """α = softmax(scores) over the last axis, with α = 0 exactly where `mask` is False.

    α_j = exp(s_j - m) / Σ_{j' allowed} exp(s_j' - m), m = max over allowed s (for stability).
    `mask` must already broadcast to `scores` and allow at least one key per row.
    """
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_backward(weights: Array, dweights: Array) -> Array:
    """ds_j = α_j (dα_j - Σ_j' α_j' dα_j'): the softmax Jacobian applied to dα (zero where α = 0)."""
    return weights * (dweights - (weights * dweights).sum(axis=-1, keepdims=True))


def _as_3d(q: Array) -> tuple[Array, bool]:
    return (q[:, None, :], True) if q.ndim == 2 else (q, False)


class _Attention:
    """Shared forward/backward around the scores: α = masked_softmax(s), context = α v."""

    params: list[Array]
    grads: list[Array]
    cache: tuple[Any, ...] | None

    def _scores(self, q: Array, k: Array) -> tuple[Array, tuple[Any, ...]]:
        """(B, T_q, D_q), (B, T_k, D_k) -> scores (B, T_q, T_k) and what `_scores_backward` needs."""
        raise NotImplementedError

    def _scores_backward(self, ds: Array, saved: tuple[Any, ...]) -> tuple[Array, Array]:
        """ds (B, T_q, T_k) -> (dq, dk); writes parameter gradients."""
        raise NotImplementedError

    def forward(self, q: Array, k: Array, v: Array, mask: Array | None = None) -> tuple[Array, Array]:
        """q (B, T_q, D_q) or (B, D_q), k (B, T_k, D_k), v (B, T_k, D_v) -> (context, weights)."""
        q3, single = _as_3d(q)
        s, saved = self._scores(q3, k)
        alpha = masked_softmax(s, _broadcast_mask(mask, s.shape))
        context = alpha @ v
        self.cache = (saved, v, alpha, single)
        return (context[:, 0], alpha[:, 0]) if single else (context, alpha)

    def backward(self, dcontext: Array, dweights: Array | None = None) -> tuple[Array, Array, Array]:
        """(dcontext, dweights | None) -> (dq, dk, dv), shaped like q, k, v.

        dα = dcontext vᵀ + dweights,  dv = αᵀ dcontext,  ds = softmax_backward(α, dα), then the scores.
        """
        assert self.cache is not None, "call forward before backward"
        saved, v, alpha, single = self.cache
        if single:
            dcontext = dcontext[:, None]
            dweights = None if dweights is None else dweights[:, None]
        dalpha = dcontext @ v.transpose(0, 2, 1)
        if dweights is not None:
            dalpha = dalpha + dweights
        dv = alpha.transpose(0, 2, 1) @ dcontext
        dq, dk = self._scores_backward(softmax_backward(alpha, dalpha), saved)
        return (dq[:, 0] if single else dq), dk, dv


class AdditiveAttention(_Attention):
    """Bahdanau attention: score_ij = w_aᵀ tanh(q_i W_q + k_j W_k).

    (The paper calls w_a "v_a"; renamed here so that v means the values.)

        E = tanh(q W_q [:, :, None] + k W_k [:, None])     (B, T_q, T_k, A)
        s = E w_a                                          (B, T_q, T_k)
        α = masked_softmax(s, mask),  context_i = Σ_j α_ij v_j

    params [W_q (D_q, A), W_k (D_k, A), w_a (A,)]. Backward from ds:
        dw_a = Σ ds ⊙ E,  dP = ds w_aᵀ ⊙ (1 - E²),  dQ = Σ_j dP,  dK = Σ_i dP,
        dW_q = Σ_b qᵀ dQ,  dW_k = Σ_b kᵀ dK,  dq = dQ W_qᵀ,  dk = dK W_kᵀ
    """

    def __init__(self, Wq: Array, Wk: Array, wa: Array):
        self.params: list[Array] = [Wq, Wk, wa]
        self.grads: list[Array] = [np.zeros_like(p) for p in self.params]
        self.cache = None

    @classmethod
    def create(
        cls,
        query_size: int,
        key_size: int,
        attn_size: int,
        rng: np.random.Generator | None = None,
        dtype: Any = np.float64,
    ) -> AdditiveAttention:
        """Weights drawn from U(-1/√A, 1/√A)."""
        rng = rng if rng is not None else np.random.default_rng(0)
        A = attn_size
        return cls(
            uniform_init((query_size, A), A, rng, dtype),
            uniform_init((key_size, A), A, rng, dtype),
            uniform_init((A,), A, rng, dtype),
        )

    def _scores(self, q: Array, k: Array) -> tuple[Array, tuple[Any, ...]]:
        Wq, Wk, wa = self.params
        E = np.tanh((q @ Wq)[:, :, None, :] + (k @ Wk)[:, None, :, :])
        return E @ wa, (q, k, E)

    def _scores_backward(self, ds: Array, saved: tuple[Any, ...]) -> tuple[Array, Array]:
        Wq, Wk, wa = self.params
        q, k, E = saved
        self.grads[2][...] = np.einsum("bij,bija->a", ds, E)
        dP = ds[..., None] * wa * (1.0 - E**2)  # (B, T_q, T_k, A)
        dQ, dK = dP.sum(axis=2), dP.sum(axis=1)
        self.grads[0][...] = np.einsum("bid,bia->da", q, dQ)
        self.grads[1][...] = np.einsum("bjd,bja->da", k, dK)
        return dQ @ Wq.T, dK @ Wk.T


class DotProductAttention(_Attention):
    """score_ij = c · q_i · k_j, c = 1/√D when `scaled` (Vaswani et al.) else 1. No parameters.

        s = c q kᵀ,  α = masked_softmax(s, mask),  context = α v
    Backward from ds:  dq = c ds k,  dk = c dsᵀ q.
    """

    def __init__(self, scaled: bool = True):
        self.scaled = scaled
        self.params: list[Array] = []
        self.grads: list[Array] = []
        self.cache = None

    def _scores(self, q: Array, k: Array) -> tuple[Array, tuple[Any, ...]]:
        c = 1.0 / np.sqrt(q.shape[-1]) if self.scaled else 1.0
        return c * (q @ k.transpose(0, 2, 1)), (q, k, c)

    def _scores_backward(self, ds: Array, saved: tuple[Any, ...]) -> tuple[Array, Array]:
        q, k, c = saved
        return c * (ds @ k), c * (ds.transpose(0, 2, 1) @ q)
