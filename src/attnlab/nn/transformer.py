"""Transformer encoder/decoder layers and stacks (Vaswani et al., 2017), built on :class:`MultiHeadAttention`.

    post-norm (paper, default):  x = LayerNorm(x + Dropout(Sublayer(x)))
    pre-norm (``norm_first``):   x = x + Dropout(Sublayer(LayerNorm(x)))     (+ final LayerNorm in stacks)

Stacks take already-embedded inputs (B, T, d_model): a model composes :class:`TokenEmbedding`, a
positional encoding and a stack. Masks are real-token masks (B, T) with True = real token.

Return convention (same as :class:`MultiHeadAttention`): the main tensor alone, or a tuple with the
extras appended in a fixed order: attention lists (when ``return_attention``), then the cache (when
``cache`` is given). Attention weights are per layer, per head: (B, H, T_q, T_k).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from attnlab.nn.masks import to_attention_mask
from attnlab.nn.mha import KVCache, MultiHeadAttention
from attnlab.nn.norm import LayerNorm

__all__ = [
    "DecoderCache",
    "PositionwiseFeedForward",
    "TokenEmbedding",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
]

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def _key_mask(mask: Tensor | None) -> Tensor | None:
    """(B, T_k) real-token mask -> (B, 1, 1, T_k), broadcast over heads and queries."""
    return None if mask is None else to_attention_mask(mask)


class TokenEmbedding(nn.Module):
    """Embedding(ids) · √d_model: (B, T) ids -> (B, T, d_model). The scale keeps embeddings on the same
    scale as the unit-variance positional encodings added to them; <pad> gets a zero, frozen row."""

    def __init__(self, vocab: int, d_model: int, pad_id: int = 0) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, d_model, padding_idx=pad_id)
        self.scale = math.sqrt(d_model)

    @property
    def weight(self) -> Tensor:
        """The (vocab, d_model) table, for tying with the output projection."""
        return self.embedding.weight

    def forward(self, ids: Tensor) -> Tensor:
        return self.embedding(ids) * self.scale


class PositionwiseFeedForward(nn.Module):
    """FFN(x) = W_2 Dropout(act(W_1 x + b_1)) + b_2,   (B, T, d_model) -> (B, T, d_model)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.1, activation: str = "relu") -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(ACTIVATIONS)}")
        self.w_1, self.w_2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.activation = ACTIVATIONS[activation]

    def forward(self, x: Tensor) -> Tensor:
        return self.w_2(self.dropout(self.activation(self.w_1(x))))


def _mha(d_model: int, num_heads: int, dropout: float, rotary: bool = False) -> MultiHeadAttention:
    if d_model % num_heads:
        raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
    return MultiHeadAttention(
        num_heads, d_model // num_heads, dropout=dropout, query_dim=d_model, rotary=rotary
    )


def _check_torch_layer(layer: nn.Module, norm_first: bool) -> None:
    if layer.norm_first != norm_first or not layer.self_attn.batch_first:
        raise ValueError("torch layer must be batch_first with the same norm_first")


class TransformerEncoderLayer(nn.Module):
    """Self-attention + FFN, each wrapped in residual + LayerNorm.   x (B, T, d_model) -> same.

    forward(x, src_mask=None, return_attention=False): src_mask (B, T) real-token mask;
    returns x, or (x, attention (B, H, T, T)).
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        activation: str = "relu",
        norm_first: bool = False,
        rotary: bool = False,
    ) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = _mha(d_model, num_heads, dropout, rotary)
        self.ff = PositionwiseFeedForward(d_model, d_ff, dropout, activation)
        self.norm1, self.norm2 = LayerNorm(d_model), LayerNorm(d_model)
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def _sa(self, x: Tensor, mask: Tensor | None, want: bool) -> tuple[Tensor, Tensor | None]:
        res = self.self_attn(x, x, attention_mask=mask, return_attention_scores=want)
        out, attn = res if want else (res, None)
        return self.dropout1(out), attn

    def forward(
        self, x: Tensor, src_mask: Tensor | None = None, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        mask = _key_mask(src_mask)
        if self.norm_first:
            h, attn = self._sa(self.norm1(x), mask, return_attention)
            x = x + h
            x = x + self.dropout2(self.ff(self.norm2(x)))
        else:
            h, attn = self._sa(x, mask, return_attention)
            x = self.norm1(x + h)
            x = self.norm2(x + self.dropout2(self.ff(x)))
        return (x, attn) if return_attention else x

    def load_from_torch(self, layer: nn.TransformerEncoderLayer) -> TransformerEncoderLayer:
        """Copy weights from a batch_first ``torch.nn.TransformerEncoderLayer``."""
        _check_torch_layer(layer, self.norm_first)
        self.self_attn.load_from_torch(layer.self_attn)
        pairs = [(self.ff.w_1, layer.linear1), (self.ff.w_2, layer.linear2)]
        pairs += [(self.norm1, layer.norm1), (self.norm2, layer.norm2)]
        _copy(pairs)
        return self


@dataclass
class DecoderCache:
    """Incremental-decoding state of a :class:`TransformerDecoder`.

    self_attn: per layer, the growing keys/values of the tokens decoded so far, (B, H, t, d_head).
    cross_attn: per layer, the encoder memory projected once, (B, H, T_src, d_head).
    """

    self_attn: list[KVCache]
    cross_attn: list[KVCache]

    @property
    def offset(self) -> int:
        """Tokens decoded so far = position of the next token (pass it to the positional encoding)."""
        return self.self_attn[0].length

    def select(self, index: Tensor) -> DecoderCache:
        """Batch rows ``index`` of every layer's cache (beam search reordering)."""
        return DecoderCache(
            [c.select(index) for c in self.self_attn], [c.select(index) for c in self.cross_attn]
        )


class TransformerDecoderLayer(nn.Module):
    """Masked self-attention, cross-attention over the encoder memory, FFN; each with residual + norm.

    forward(x (B, T, d_model), memory (B, S, d_model), tgt_mask=None (B, T_total), memory_mask=None
    (B, S), causal=True, self_cache=None, cross_cache=None, return_attention=False)
    returns x, then (self_attn (B, H, T, T_total), cross_attn (B, H, T, S)) if return_attention, then
    the new self-attention KVCache if ``self_cache`` is given. With ``cross_cache`` (static) ``memory``
    may be None.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        activation: str = "relu",
        norm_first: bool = False,
        rotary: bool = False,
    ) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = _mha(d_model, num_heads, dropout, rotary)
        self.cross_attn = _mha(d_model, num_heads, dropout)
        self.ff = PositionwiseFeedForward(d_model, d_ff, dropout, activation)
        self.norm1, self.norm2, self.norm3 = (LayerNorm(d_model) for _ in range(3))
        self.dropout1, self.dropout2, self.dropout3 = (nn.Dropout(dropout) for _ in range(3))

    def forward(
        self,
        x: Tensor,
        memory: Tensor | None,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        causal: bool = True,
        self_cache: KVCache | None = None,
        cross_cache: KVCache | None = None,
        return_attention: bool = False,
    ) -> Tensor | tuple:
        want = return_attention

        def self_block(h: Tensor) -> tuple[Tensor, Tensor | None, KVCache | None]:
            res = self.self_attn(h, h, attention_mask=_key_mask(tgt_mask), return_attention_scores=want,
                                 use_causal_mask=causal, cache=self_cache)  # fmt: skip
            res = res if isinstance(res, tuple) else (res,)
            out, attn = res[0], (res[1] if want else None)
            return self.dropout1(out), attn, (res[-1] if self_cache is not None else None)

        def cross_block(h: Tensor) -> tuple[Tensor, Tensor | None]:
            res = self.cross_attn(h, memory, attention_mask=_key_mask(memory_mask),
                                  return_attention_scores=want, cache=cross_cache)  # fmt: skip
            res = res if isinstance(res, tuple) else (res,)
            return self.dropout2(res[0]), (res[1] if want else None)

        if self.norm_first:
            h, self_w, cache = self_block(self.norm1(x))
            x = x + h
            h, cross_w = cross_block(self.norm2(x))
            x = x + h
            x = x + self.dropout3(self.ff(self.norm3(x)))
        else:
            h, self_w, cache = self_block(x)
            x = self.norm1(x + h)
            h, cross_w = cross_block(x)
            x = self.norm2(x + h)
            x = self.norm3(x + self.dropout3(self.ff(x)))
        out = (x, self_w, cross_w) if want else (x,)
        out = (*out, cache) if self_cache is not None else out
        return out[0] if len(out) == 1 else out

    def load_from_torch(self, layer: nn.TransformerDecoderLayer) -> TransformerDecoderLayer:
        """Copy weights from a batch_first ``torch.nn.TransformerDecoderLayer``."""
        _check_torch_layer(layer, self.norm_first)
        self.self_attn.load_from_torch(layer.self_attn)
        self.cross_attn.load_from_torch(layer.multihead_attn)
        pairs = [(self.ff.w_1, layer.linear1), (self.ff.w_2, layer.linear2)]
        pairs += [(self.norm1, layer.norm1), (self.norm2, layer.norm2), (self.norm3, layer.norm3)]
        _copy(pairs)
        return self


class TransformerEncoder(nn.Module):
    """N encoder layers (+ final LayerNorm when pre-norm, since the last residual is un-normalised).

    forward(x, src_mask=None, return_attention=False) -> x, or (x, [attention (B, H, T, T)] * N).
    """

    def __init__(self, num_layers: int, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = False, rotary: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(d_model, num_heads, d_ff, dropout, activation, norm_first, rotary)
            for _ in range(num_layers)
        )
        self.norm = LayerNorm(d_model) if norm_first else None

    def forward(
        self, x: Tensor, src_mask: Tensor | None = None, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        attentions = []
        for layer in self.layers:
            if return_attention:
                x, attn = layer(x, src_mask, return_attention=True)
                attentions.append(attn)
            else:
                x = layer(x, src_mask)
        x = x if self.norm is None else self.norm(x)
        return (x, attentions) if return_attention else x

    def load_from_torch(self, encoder: nn.TransformerEncoder) -> TransformerEncoder:
        """Copy weights from a ``torch.nn.TransformerEncoder`` (its ``norm`` too, when both have one)."""
        for ours, theirs in zip(self.layers, encoder.layers, strict=True):
            ours.load_from_torch(theirs)
        if self.norm is not None and encoder.norm is not None:
            _copy([(self.norm, encoder.norm)])
        return self


class TransformerDecoder(nn.Module):
    """N decoder layers (+ final LayerNorm when pre-norm).

    Full pass:   forward(y, memory, tgt_mask=None, memory_mask=None, return_attention=False)
                 -> y, or (y, self_attentions, cross_attentions)   (lists of (B, H, T_q, T_k))
    Incremental: cache = decoder.init_cache(memory); then for each new token embedding y_t (B, 1, D)
                 (positions offset by ``cache.offset``): y, cache = decoder(y_t, None, memory_mask=...,
                 cache=cache). Each step attends over t cached keys, O(t) instead of re-running O(t²).
                 Appending the cache: (y, cache) or (y, self_attentions, cross_attentions, cache).
    """

    def __init__(self, num_layers: int, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = False, rotary: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.layers = nn.ModuleList(
            TransformerDecoderLayer(d_model, num_heads, d_ff, dropout, activation, norm_first, rotary)
            for _ in range(num_layers)
        )
        self.norm = LayerNorm(d_model) if norm_first else None

    def init_cache(self, memory: Tensor) -> DecoderCache:
        """Empty self-attention caches + each layer's cross-attention K/V of ``memory`` (B, S, D)."""
        return DecoderCache(
            self_attn=[KVCache() for _ in self.layers],
            cross_attn=[layer.cross_attn.precompute(memory) for layer in self.layers],
        )

    def forward(
        self,
        y: Tensor,
        memory: Tensor | None,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        return_attention: bool = False,
        cache: DecoderCache | None = None,
    ) -> Tensor | tuple:
        self_ws, cross_ws, new_self = [], [], []
        for i, layer in enumerate(self.layers):
            kw = (
                {}
                if cache is None
                else {"self_cache": cache.self_attn[i], "cross_cache": cache.cross_attn[i]}
            )
            res = layer(y, memory, tgt_mask, memory_mask, return_attention=return_attention, **kw)
            res = res if isinstance(res, tuple) else (res,)
            y = res[0]
            if return_attention:
                self_ws.append(res[1])
                cross_ws.append(res[2])
            if cache is not None:
                new_self.append(res[-1])
        y = y if self.norm is None else self.norm(y)
        out = (y, self_ws, cross_ws) if return_attention else (y,)
        if cache is not None:
            out = (*out, DecoderCache(new_self, cache.cross_attn))
        return out[0] if len(out) == 1 else out

    def load_from_torch(self, decoder: nn.TransformerDecoder) -> TransformerDecoder:
        """Copy weights from a ``torch.nn.TransformerDecoder`` (its ``norm`` too, when both have one)."""
        for ours, theirs in zip(self.layers, decoder.layers, strict=True):
            ours.load_from_torch(theirs)
        if self.norm is not None and decoder.norm is not None:
            _copy([(self.norm, decoder.norm)])
        return self


def _copy(pairs: list[tuple[nn.Module, nn.Module]]) -> None:
    """Copy each (ours, theirs) Linear/LayerNorm pair's weight and bias in place."""
    for ours, theirs in pairs:
        ours.load_state_dict(theirs.state_dict())
