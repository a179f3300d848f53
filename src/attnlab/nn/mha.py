"""Multi-head attention with Keras ``MultiHeadAttention`` semantics, plus a KV cache for decoding.

    MultiHead(Q, K, V) = Concat(head_1, ..., head_H) W_o,   head_h = Attention(Q W_q^h, K W_k^h, V W_v^h)

Shapes (the common case, ``attention_axes=None`` on (B, T, D) inputs):
    query (B, T_q, D_q), value (B, T_k, D_v), key (B, T_k, D_k) (defaults to value)
    -> per-head q, k: (B, H, T, key_dim), v: (B, H, T_k, value_dim)
    -> output (B, T_q, D_q) (or ``output_shape``), scores (B, H, T_q, T_k).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnlab.nn.attention import scaled_dot_product_attention
from attnlab.nn.positional import apply_rotary

__all__ = ["KVCache", "MultiHeadAttention"]


@dataclass
class KVCache:
    """Projected keys/values of one attention layer, k: (B, H, T, key_dim), v: (B, H, T, value_dim).

    * ``KVCache()`` (empty) for self-attention: every call appends the new tokens' k/v and returns a
      new cache; the old one is not modified.
    * ``static=True`` (from :meth:`MultiHeadAttention.precompute`) for cross-attention: the encoder
      memory is projected once and reused unchanged at every step; key/value arguments are ignored.
    """

    k: Tensor | None = None
    v: Tensor | None = None
    static: bool = False

    @property
    def length(self) -> int:
        """Number of cached positions (the position offset of the next token)."""
        return 0 if self.k is None else self.k.size(-2)

    def select(self, index: Tensor) -> KVCache:
        """Batch rows ``index`` (e.g. surviving beams in beam search) as a new cache."""
        if self.k is None:
            return self
        return KVCache(self.k.index_select(0, index), self.v.index_select(0, index), self.static)


class MultiHeadAttention(nn.Module):
    """Keras-style multi-head attention (``keras.layers.MultiHeadAttention``).

    Args:
        num_heads: H.
        key_dim: size of each query/key head.
        value_dim: size of each value head (default ``key_dim``).
        dropout: dropout on the attention weights (training only).
        use_bias: biases on the four projections.
        output_shape: last dim(s) of the output (int or tuple); default the query's last dim.
        attention_axes: input axes attended over jointly (default: all but batch and features). Other
            non-feature axes act as extra batch axes; e.g. (2, 3) on (B, 5, 3, 4, D) attends over the
            3x4 grid separately for each of the 5 slices.
        query_dim, key_in_dim, value_in_dim: input feature sizes. Given ``query_dim`` the layer builds
            at construction (``value_in_dim`` defaults to ``query_dim``, ``key_in_dim`` to
            ``value_in_dim``); otherwise it builds lazily from the first call's shapes (or from a
            state_dict being loaded), like a Keras layer; build it before creating the optimizer.
        rotary: rotate queries and keys with RoPE, for self-attention (positions count from the cache
            offset).
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        value_dim: int | None = None,
        dropout: float = 0.0,
        use_bias: bool = True,
        output_shape: int | tuple[int, ...] | None = None,
        attention_axes: int | tuple[int, ...] | None = None,
        query_dim: int | None = None,
        key_in_dim: int | None = None,
        value_in_dim: int | None = None,
        rotary: bool = False,
    ) -> None:
        super().__init__()
        self.num_heads, self.key_dim = num_heads, key_dim
        self.value_dim = key_dim if value_dim is None else value_dim
        self.dropout, self.use_bias, self.rotary = dropout, use_bias, rotary
        self.output_shape = (output_shape,) if isinstance(output_shape, int) else output_shape
        self.attention_axes = (attention_axes,) if isinstance(attention_axes, int) else attention_axes
        self.built = False
        if query_dim is not None:
            value_in_dim = query_dim if value_in_dim is None else value_in_dim
            self.build(query_dim, value_in_dim if key_in_dim is None else key_in_dim, value_in_dim)

    def build(
        self, query_dim: int, key_in_dim: int, value_in_dim: int, out_dim: int | None = None, **factory
    ) -> None:
        """Create the projections. Called eagerly, at the first forward (with the input's device and
        dtype as ``factory``), or when loading a state_dict."""
        h, b = self.num_heads, self.use_bias
        if out_dim is None:
            out_dim = math.prod(self.output_shape) if self.output_shape else query_dim
        self.query_dense = nn.Linear(query_dim, h * self.key_dim, bias=b, **factory)
        self.key_dense = nn.Linear(key_in_dim, h * self.key_dim, bias=b, **factory)
        self.value_dense = nn.Linear(value_in_dim, h * self.value_dim, bias=b, **factory)
        self.output_dense = nn.Linear(h * self.value_dim, out_dim, bias=b, **factory)
        self.built = True

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # Lazy layer + checkpoint: build from the stored shapes before torch copies the children.
        if not self.built and prefix + "query_dense.weight" in state_dict:
            shape = lambda name: state_dict[prefix + name + ".weight"].shape
            self.build(
                shape("query_dense")[1],
                shape("key_dense")[1],
                shape("value_dense")[1],
                shape("output_dense")[0],
            )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def precompute(self, memory: Tensor, key: Tensor | None = None) -> KVCache:
        """Project cross-attention memory once: (B, T_k, D) -> static :class:`KVCache`."""
        if not self.built:
            raise RuntimeError("call the layer once (or pass query_dim) before precompute")
        return KVCache(
            self._heads(self.key_dense(memory if key is None else key), self.key_dim),
            self._heads(self.value_dense(memory), self.value_dim),
            static=True,
        )

    def _heads(self, x: Tensor, d: int) -> Tensor:
        """(B, T, H*d) -> (B, H, T, d)."""
        return x.unflatten(-1, (self.num_heads, d)).transpose(1, 2)

    def forward(
        self,
        query: Tensor,
        value: Tensor | None,
        key: Tensor | None = None,
        attention_mask: Tensor | None = None,
        return_attention_scores: bool = False,
        use_causal_mask: bool = False,
        cache: KVCache | None = None,
    ) -> Tensor | tuple[Tensor, ...]:
        """Attend from ``query`` to ``key``/``value``.

        attention_mask: bool, True = attend. (B, T_q, T_k) as in Keras, or anything broadcastable to
            the scores (B, H, T_q, T_k), e.g. ``to_attention_mask(key_padding)`` (B, 1, 1, T_k). With
            ``attention_axes`` it is (B, *other axes, *query axes, *key axes), Keras-style.
        use_causal_mask: query i sees keys j <= i, queries aligned with the *last* T_q keys (so with a
            cache the new tokens see everything cached plus themselves).
        Returns:
            output; ``(output, scores)`` with ``return_attention_scores``; and when ``cache`` is given
            the updated cache is appended: ``(output, cache)`` or ``(output, scores, cache)``.
        """
        key = value if key is None else key
        if not self.built:
            self.build(query.size(-1), key.size(-1), value.size(-1), device=query.device, dtype=query.dtype)
        plain = query.dim() == 3 and (
            self.attention_axes is None or {a % 3 for a in self.attention_axes} == {1}
        )
        if not plain:
            if cache is not None or self.rotary:
                raise ValueError("KV caches and rotary need (B, T, D) inputs without attention_axes")
            out, scores = self._forward_axes(
                query, key, value, attention_mask, return_attention_scores, use_causal_mask
            )
            return (out, scores) if return_attention_scores else out

        offset = 0
        if cache is not None and cache.static:
            q = self._heads(self.query_dense(query), self.key_dim)  # (B, H, T_q, key_dim)
            k, v = cache.k, cache.v
        else:
            q, k, v = self._project(query, key, value)  # (B, H, T, key_dim / value_dim)
            if self.rotary:
                offset = cache.length if cache is not None else 0
                k = apply_rotary(k, torch.arange(offset, offset + k.size(2), device=k.device))
            if cache is not None and cache.k is not None:
                k, v = torch.cat([cache.k, k], dim=2), torch.cat([cache.v, v], dim=2)
            if cache is not None:
                cache = KVCache(k, v)
        if self.rotary:
            q = apply_rotary(q, torch.arange(offset, offset + q.size(2), device=q.device))
        mask = attention_mask
        if mask is not None and mask.dim() == 3:  # Keras (B, T_q, T_k): add the head axis
            mask = mask.unsqueeze(1)
        res = scaled_dot_product_attention(
            q,
            k,
            v,
            mask,
            self.dropout,
            return_weights=return_attention_scores,
            training=self.training,
            causal=use_causal_mask,
        )
        out, scores = res if return_attention_scores else (res, None)
        out = self._output(out.transpose(1, 2).flatten(-2))  # (B, T_q, H*value_dim) -> (B, T_q, D_out)
        result = (out, scores) if return_attention_scores else (out,)
        if cache is not None:
            result = (*result, cache)
        return result[0] if len(result) == 1 else result

    def _project(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Per-head q, k, v. Self-attention (one input tensor) uses one fused matmul, as torch does:
        one big GEMM and one input-gradient GEMM beat three smaller ones plus two gradient adds."""
        dims = (self.key_dim, self.key_dim, self.value_dim)
        denses = (self.query_dense, self.key_dense, self.value_dense)
        if query is key and key is value:
            weight, bias = self._fused_qkv()
            fused = F.linear(query, weight, bias).split([self.num_heads * d for d in dims], dim=-1)
            return tuple(self._heads(x, d) for x, d in zip(fused, dims, strict=True))
        return tuple(
            self._heads(dense(x), d) for dense, x, d in zip(denses, (query, key, value), dims, strict=True)
        )

    def _fused_qkv(self) -> tuple[Tensor, Tensor | None]:
        """[W_q; W_k; W_v] (and biases) as one matrix. Under autograd it is concatenated at every call so
        the gradient reaches the three parameters; without gradients (decoding) it is kept until a
        weight changes (tensor versions), since re-copying it for every generated token is pure cost."""
        params = [d.weight for d in (self.query_dense, self.key_dense, self.value_dense)]
        if self.use_bias:
            params += [d.bias for d in (self.query_dense, self.key_dense, self.value_dense)]
        if torch.is_grad_enabled() and any(p.requires_grad for p in params):
            return torch.cat(params[:3]), torch.cat(params[3:]) if self.use_bias else None
        stamp = tuple((p.data_ptr(), p._version) for p in params)
        cached = getattr(self, "_fused_cache", None)
        if cached is None or cached[0] != stamp:
            with torch.no_grad():
                bias = torch.cat(params[3:]) if self.use_bias else None
                cached = self._fused_cache = (stamp, torch.cat(params[:3]), bias)
        return cached[1], cached[2]

    def _output(self, x: Tensor) -> Tensor:
        out = self.output_dense(x)
        return out.unflatten(-1, self.output_shape) if self.output_shape else out

    def _forward_axes(
        self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None, want_scores: bool, causal: bool
    ) -> tuple[Tensor, Tensor | None]:
        """General ``attention_axes``: move attended axes last, flatten them, attend, restore."""
        n = query.dim()
        axes = tuple(range(1, n - 1)) if self.attention_axes is None else self.attention_axes
        axes = tuple(sorted(a % n for a in axes))
        if any(a in (0, n - 1) for a in axes):
            raise ValueError(f"attention_axes {self.attention_axes} must exclude batch and feature axes")
        batch_axes = tuple(a for a in range(n - 1) if a not in axes)

        def split(x: Tensor, d: int) -> tuple[Tensor, tuple[int, ...]]:
            # (..., D) -> (*batch, H, prod(attended sizes), d), remembering the attended sizes.
            x = x.unflatten(-1, (self.num_heads, d))
            x = x.permute(*batch_axes, n - 1, *axes, n)
            sizes = tuple(x.shape[len(batch_axes) + 1 : -1])
            return x.flatten(len(batch_axes) + 1, -2), sizes

        q, q_sizes = split(self.query_dense(query), self.key_dim)
        k, k_sizes = split(self.key_dense(key), self.key_dim)
        v, _ = split(self.value_dense(value), self.value_dim)
        batch_sizes = tuple(q.shape[: len(batch_axes)])
        if mask is not None:
            # Keras inserts the head axis just before the query axes, as often as needed.
            while mask.dim() < len(batch_axes) + 1 + 2 * len(axes):
                mask = mask.unsqueeze(-2 * len(axes) - 1)
            heads = mask.size(len(batch_axes))
            mask = mask.expand(*batch_sizes, heads, *q_sizes, *k_sizes)
            mask = mask.reshape(*batch_sizes, heads, q.size(-2), k.size(-2))
        res = scaled_dot_product_attention(
            q, k, v, mask, self.dropout, return_weights=want_scores, training=self.training, causal=causal
        )
        out, scores = res if want_scores else (res, None)
        # (*batch, H, T_flat, d_v) -> (*batch, H, *q_sizes, d_v) -> input axis order (..., H, d_v)
        out = out.unflatten(-2, q_sizes)
        inverse = [0] * (n + 1)
        for i, a in enumerate((*batch_axes, n - 1, *axes, n)):
            inverse[a] = i
        out = out.permute(*inverse).flatten(-2)
        if scores is not None:
            scores = scores.unflatten(-1, k_sizes).unflatten(len(batch_axes) + 1, q_sizes)
        return self._output(out), scores

    @torch.no_grad()
    def load_from_torch(self, mha: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copy weights from a ``torch.nn.MultiheadAttention`` with the same heads and head size."""
        e = mha.embed_dim
        if mha.num_heads != self.num_heads or mha.head_dim != self.key_dim or self.value_dim != self.key_dim:
            raise ValueError("torch MHA must have the same num_heads and head size (key_dim == value_dim)")
        if mha.bias_k is not None or mha.add_zero_attn or (mha.in_proj_bias is not None) != self.use_bias:
            raise ValueError("bias_k/add_zero_attn are unsupported and use_bias must match torch's bias")
        if not self.built:
            self.build(e, mha.kdim, mha.vdim)
        if mha._qkv_same_embed_dim:
            weights = mha.in_proj_weight.chunk(3)
        else:
            weights = (mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight)
        biases = mha.in_proj_bias.chunk(3) if self.use_bias else (None, None, None)
        for dense, w, b in zip(
            (self.query_dense, self.key_dense, self.value_dense), weights, biases, strict=True
        ):
            dense.weight.copy_(w)
            if b is not None:
                dense.bias.copy_(b)
        self.output_dense.weight.copy_(mha.out_proj.weight)
        if self.use_bias:
            self.output_dense.bias.copy_(mha.out_proj.bias)
        return self
