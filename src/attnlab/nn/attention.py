"""The attention family: scaled dot-product, Bahdanau (additive) and Luong (multiplicative/concat).

Every function here takes boolean masks with **True = may attend**. A query whose keys are *all* masked
gets a zero output and zero weights (never NaN): padding rows in a batch must not poison the loss.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnlab.nn.masks import causal_mask, combine

__all__ = ["AdditiveAttention", "LuongAttention", "masked_softmax", "scaled_dot_product_attention"]

LUONG_SCORES = ("dot", "general", "concat")


def masked_softmax(scores: Tensor, mask: Tensor | None = None) -> Tensor:
    """softmax over the last axis, restricted to keys where ``mask`` is True.

        weights = softmax(scores + log(mask))      (rows with no True key -> all zeros)

    Args:
        scores: (..., T_q, T_k) float.
        mask: bool, broadcastable to ``scores``; None = attend everywhere.
    Returns:
        (..., T_q, T_k) weights; each row sums to 1, or to 0 when its keys are all masked.
    """
    # Statistics in float32 whatever the input (bf16 under CPU autocast): the max and the normaliser of a
    # long row lose the small weights in bf16. The weights go back to the scores' dtype for the next matmul.
    dtype = scores.dtype
    if dtype in (torch.float16, torch.bfloat16):
        scores = scores.float()  # (float64, as in the gradient checks, stays float64)
    if mask is None:
        return scores.softmax(dim=-1).to(dtype)
    # The dtype's most negative finite number instead of -inf: a fully masked row then softmaxes to a finite
    # uniform row (no NaN in forward *or* backward), which the multiply by the mask zeroes.
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return (scores.softmax(dim=-1) * mask).to(dtype)


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    dropout_p: float = 0.0,
    scale: float | None = None,
    return_weights: bool = False,
    training: bool = True,
    causal: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Attention(Q, K, V) = softmax(Q Kᵀ · scale) V,   scale = 1/√d by default.

    Args:
        query: (..., T_q, d)
        key:   (..., T_k, d)
        value: (..., T_k, d_v)
        mask:  bool broadcastable to (..., T_q, T_k), True = may attend.
        dropout_p: dropout on the attention weights; applied only when ``training`` is True
            (modules pass ``self.training``).
        scale: multiplier of Q Kᵀ.
        return_weights: also return the (pre-dropout) attention weights.
        causal: also mask keys after each query, aligning the T_q queries with the *last* T_q keys
            (see :func:`attnlab.nn.masks.causal_mask`), which is right for cached decoding.
    Returns:
        output (..., T_q, d_v), or ``(output, weights (..., T_q, T_k))`` when ``return_weights``.

    Without weights this is torch's fused ``F.scaled_dot_product_attention`` (the fast path); with
    weights it is the explicit formula, since the fused kernels never materialise the weights.
    """
    if mask is not None and mask.dtype != torch.bool:
        raise TypeError(f"attention masks are boolean (True = may attend), got {mask.dtype}")
    p = dropout_p if training else 0.0
    t_q, t_k = query.size(-2), key.size(-2)
    if causal and mask is None and t_q == t_k and not return_weights:
        # Square and otherwise unmasked: torch's own is_causal lets the fused kernel skip masked blocks.
        return F.scaled_dot_product_attention(query, key, value, dropout_p=p, scale=scale, is_causal=True)
    if causal and t_q > 1:  # a single query at the end sees every key: nothing to mask
        mask = combine(mask, causal_mask(t_q, t_k, device=query.device))
    if return_weights:
        scale = 1.0 / math.sqrt(query.size(-1)) if scale is None else scale
        weights = masked_softmax(torch.matmul(query, key.transpose(-2, -1)) * scale, mask)
        dropped = F.dropout(weights, p) if p > 0.0 else weights
        return torch.matmul(dropped, value), weights

    if mask is None:
        return F.scaled_dot_product_attention(query, key, value, dropout_p=p, scale=scale)
    # Fully masked rows give NaN on some torch versions/backends. Only when such rows exist (checking
    # the small mask is cheap), unmask them so every row is finite, then zero their output; gradients
    # into those rows are zero, so the backward pass stays finite too.
    row_ok = mask.any(dim=-1, keepdim=True)
    if bool(row_ok.all()):
        return F.scaled_dot_product_attention(query, key, value, attn_mask=mask, dropout_p=p, scale=scale)
    out = F.scaled_dot_product_attention(
        query, key, value, attn_mask=mask | ~row_ok, dropout_p=p, scale=scale
    )
    return out.masked_fill(~row_ok, 0.0)


def _attend(scores: Tensor, values: Tensor, mask: Tensor | None, single: bool) -> tuple[Tensor, Tensor]:
    """Shared tail of the RNN-style attentions: scores (B, T_q, T_k) -> (context, weights)."""
    if mask is not None and mask.dim() == 2:  # (B, T_k) key mask -> broadcast over queries
        mask = mask[:, None, :]
    weights = masked_softmax(scores, mask)
    context = torch.bmm(weights, values)  # (B, T_q, T_k) @ (B, T_k, d_v)
    if single:
        return context.squeeze(1), weights.squeeze(1)
    return context, weights


class AdditiveAttention(nn.Module):
    """Bahdanau et al. (2015) additive attention.

        score(q, k_j) = vᵀ tanh(W_q q + W_k k_j)
        α = softmax(score) over j,    context = Σ_j α_j k_j

    ``W_k k`` does not depend on the decoder step, so a decoder calls :meth:`project_keys` once per
    source batch and passes the result as ``projected_keys`` at every step. W_k carries the single bias
    (a bias on W_q would be redundant); v has none (a constant shift cancels in the softmax).

    Shapes: query (B, query_dim) -> context (B, value_dim), weights (B, T_k);
            query (B, T_q, query_dim) -> context (B, T_q, value_dim), weights (B, T_q, T_k);
            values (B, T_k, key_dim) are the encoder states (they are also the keys);
            mask (B, T_k) or (B, T_q, T_k) bool, True = real token.
    """

    def __init__(self, query_dim: int, key_dim: int, units: int) -> None:
        super().__init__()
        self.w_q = nn.Linear(query_dim, units, bias=False)
        self.w_k = nn.Linear(key_dim, units, bias=True)
        self.v = nn.Linear(units, 1, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        """W_k k: (B, T_k, key_dim) -> (B, T_k, units)."""
        return self.w_k(keys)

    def forward(
        self, query: Tensor, values: Tensor, mask: Tensor | None = None, projected_keys: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        single = query.dim() == 2
        q = query.unsqueeze(1) if single else query  # (B, T_q, query_dim)
        pk = self.project_keys(values) if projected_keys is None else projected_keys
        # (B, T_q, 1, units) + (B, 1, T_k, units) -> (B, T_q, T_k, units) -> (B, T_q, T_k)
        scores = self.v(torch.tanh(self.w_q(q).unsqueeze(2) + pk.unsqueeze(1))).squeeze(-1)
        return _attend(scores, values, mask, single)


class LuongAttention(nn.Module):
    """Luong et al. (2015) global attention with the three score functions of the paper.

        dot:     score(q, k) = qᵀ k                  (query_dim == key_dim)
        general: score(q, k) = qᵀ W k                W: key_dim -> query_dim
        concat:  score(q, k) = vᵀ tanh(W [q; k])     W = [W_q  W_k]: (query_dim + key_dim) -> units

    :meth:`project_keys` returns the query-independent part, computed once per source batch:
    dot: k itself; general: W k (B, T_k, query_dim); concat: W_k k (B, T_k, units).
    ``forward`` has the same signature and returns as :class:`AdditiveAttention`.
    """

    def __init__(self, query_dim: int, key_dim: int, score: str = "dot", units: int | None = None) -> None:
        super().__init__()
        if score not in LUONG_SCORES:
            raise ValueError(f"unknown Luong score {score!r}; valid: {', '.join(LUONG_SCORES)}")
        self.score = score
        if score == "dot" and query_dim != key_dim:
            raise ValueError(f"Luong 'dot' score needs query_dim == key_dim, got {query_dim} and {key_dim}")
        if score == "general":
            self.w = nn.Linear(key_dim, query_dim, bias=False)
        elif score == "concat":
            units = query_dim if units is None else units
            # W [q; k] = W_q q + W_k k: split so the key half can be precomputed.
            self.w_q = nn.Linear(query_dim, units, bias=False)
            self.w_k = nn.Linear(key_dim, units, bias=False)
            self.v = nn.Linear(units, 1, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        if self.score == "general":
            return self.w(keys)
        if self.score == "concat":
            return self.w_k(keys)
        return keys

    def forward(
        self, query: Tensor, values: Tensor, mask: Tensor | None = None, projected_keys: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        single = query.dim() == 2
        q = query.unsqueeze(1) if single else query  # (B, T_q, query_dim)
        pk = self.project_keys(values) if projected_keys is None else projected_keys
        if self.score == "concat":
            scores = self.v(torch.tanh(self.w_q(q).unsqueeze(2) + pk.unsqueeze(1))).squeeze(-1)
        else:  # dot / general: (B, T_q, d) @ (B, d, T_k)
            scores = torch.bmm(q, pk.transpose(1, 2))
        return _attend(scores, values, mask, single)
