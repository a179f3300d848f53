"""Language models over one token stream: an LSTM/GRU LM and a GPT-style decoder-only Transformer.

Both share one interface, used by training (full sequences) and generation (incremental):

    logits (B, T, V), state = model(ids (B, T), state=None)

`state` is what lets the next call continue where this one stopped: the recurrent (h, c) for the RNN,
one `KVCache` per layer for the Transformer. A full pass over `[a b c d]` and the calls `[a b]`, `[c]`,
`[d]` give the same logits (tests/tasks/test_lm.py checks this to 1e-5).

GPT (Radford et al., 2019; nanoGPT's `model.py`), built from attnlab.nn's causal `MultiHeadAttention`:

    ids ─ Embedding ─ + positions ─ N × [x + Attn(LN(x)); x + MLP(LN(x))] ─ LN ─ Linear (tied) ─ logits

pre-norm, GELU MLP of width 4·d, optional biases, weight tying, N(0, 0.02) init with the residual
projections scaled by 1/√(2N). `positional: sinusoidal` uses the Vaswani table instead, with the token
embedding scaled by √d (attnlab.nn.TokenEmbedding) so both have the same magnitude.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnlab.errors import UserError
from attnlab.nn import (
    KVCache,
    LayerNorm,
    LearnedPositionalEncoding,
    MultiHeadAttention,
    SinusoidalPositionalEncoding,
    TokenEmbedding,
)

__all__ = ["GPTConfig", "GPTLanguageModel", "RNNLMConfig", "RNNLanguageModel"]


@dataclass
class RNNLMConfig:
    """model.arch: lstm — the seed's character LSTM (Keras `lstm_text_generation`: LSTM 128) by default."""

    cell: Literal["lstm", "gru"] = "lstm"
    embed_dim: int = 64
    hidden: int = 128
    layers: int = 1
    dropout: float = 0.0
    tie_embeddings: bool = False  # needs embed_dim == hidden

    def validate(self) -> None:
        if min(self.embed_dim, self.hidden, self.layers) <= 0:
            raise UserError("model.embed_dim, model.hidden and model.layers must be positive")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"model.dropout must be in [0, 1), got {self.dropout}")
        if self.tie_embeddings and self.embed_dim != self.hidden:
            raise UserError("model.tie_embeddings needs model.embed_dim == model.hidden")


@dataclass
class GPTConfig:
    """model.arch: transformer — defaults are nanoGPT's CPU "baby" Shakespeare model."""

    d_model: int = 128
    heads: int = 4
    layers: int = 4
    d_ff: int | None = None  # default 4 * d_model
    dropout: float = 0.0
    bias: bool = False  # biases in the Linear and LayerNorm layers (nanoGPT: False for shakespeare-char)
    positional: Literal["learned", "sinusoidal"] = "learned"
    tie_embeddings: bool = True

    def validate(self) -> None:
        if min(self.d_model, self.heads, self.layers, 1 if self.d_ff is None else self.d_ff) <= 0:
            raise UserError("model.d_model, heads, layers and d_ff must be positive")
        if self.d_model % self.heads:
            raise UserError(f"model.d_model={self.d_model} is not divisible by model.heads={self.heads}")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"model.dropout must be in [0, 1), got {self.dropout}")


class RNNLanguageModel(nn.Module):
    """Embedding ─ LSTM/GRU ─ Linear.   state: (h, c) for the LSTM, h for the GRU, (layers, B, hidden)."""

    def __init__(self, cfg: RNNLMConfig, vocab: int):
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(vocab, cfg.embed_dim)
        rnn = nn.LSTM if cfg.cell == "lstm" else nn.GRU
        self.rnn = rnn(cfg.embed_dim, cfg.hidden, cfg.layers, batch_first=True,
                       dropout=cfg.dropout if cfg.layers > 1 else 0.0)  # fmt: skip
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.hidden, vocab)
        if cfg.tie_embeddings:
            self.out.weight = self.embedding.weight

    @property
    def context(self) -> int | None:
        return None  # the state carries any amount of history

    def forward(self, ids: Tensor, state=None) -> tuple[Tensor, object]:
        h, state = self.rnn(self.drop(self.embedding(ids)), state)
        return self.out(self.drop(h)), state


class _MLP(nn.Module):
    def __init__(self, d: int, d_ff: int, dropout: float, bias: bool):
        super().__init__()
        self.fc = nn.Linear(d, d_ff, bias=bias)
        self.proj = nn.Linear(d_ff, d, bias=bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x))))


class GPTBlock(nn.Module):
    """Pre-norm decoder block without cross-attention: x + Attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        d = cfg.d_model
        self.ln_1 = LayerNorm(d, bias=cfg.bias)
        self.attn = MultiHeadAttention(cfg.heads, d // cfg.heads, dropout=cfg.dropout,
                                       use_bias=cfg.bias, query_dim=d)  # fmt: skip
        self.drop = nn.Dropout(cfg.dropout)
        self.ln_2 = LayerNorm(d, bias=cfg.bias)
        self.mlp = _MLP(d, cfg.d_ff or 4 * d, cfg.dropout, cfg.bias)

    def forward(self, x: Tensor, cache: KVCache | None = None, *, weights: list | None = None):
        """-> (x, cache). `weights`, when a list, receives this block's (B, H, T, T) attention (explorer)."""
        h = self.ln_1(x)
        if weights is not None:
            a, w = self.attn(h, h, use_causal_mask=True, return_attention_scores=True)
            weights.append(w)
        elif cache is None:
            a = self.attn(h, h, use_causal_mask=True)
        else:
            a, cache = self.attn(h, h, use_causal_mask=True, cache=cache)
        x = x + self.drop(a)
        return x + self.mlp(self.ln_2(x)), cache


class GPTLanguageModel(nn.Module):
    """Decoder-only Transformer over a context of `block_size` tokens.

    forward(ids, state) with `state` a list of per-layer KVCache (None: no cache kept, the training
    path). Positions continue from the cache length, so cached decoding sees the same positions as a
    full pass. `block_size` bounds the learned position table; generation slides the window (tasks/lm.py).
    """

    def __init__(self, cfg: GPTConfig, vocab: int, block_size: int):
        super().__init__()
        self.cfg, self.block_size = cfg, block_size
        d = cfg.d_model
        self.tok = TokenEmbedding(vocab, d)
        if cfg.positional == "learned":
            self.tok.scale = 1.0  # GPT adds raw embeddings to a learned table of the same scale
            self.pos = LearnedPositionalEncoding(block_size, d, cfg.dropout)
        else:
            self.pos = SinusoidalPositionalEncoding(d, max_len=block_size, dropout=cfg.dropout)
        self.blocks = nn.ModuleList(GPTBlock(cfg) for _ in range(cfg.layers))
        self.ln_f = LayerNorm(d, bias=cfg.bias)
        self.head = nn.Linear(d, vocab, bias=False)
        self._init_weights()
        if cfg.tie_embeddings:
            self.head.weight = self.tok.embedding.weight

    def _init_weights(self) -> None:
        std = 0.02
        for name, p in self.named_parameters():
            if p.dim() < 2:
                continue
            if name.endswith("output_dense.weight") or name.endswith("mlp.proj.weight"):
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * self.cfg.layers))  # GPT-2 residual scaling
            elif "tok.embedding" in name and self.cfg.positional == "sinusoidal":
                nn.init.normal_(p, 0.0, self.cfg.d_model**-0.5)  # x √d -> unit scale, like the sinusoids
            else:
                nn.init.normal_(p, 0.0, std)
        for name, p in self.named_parameters():
            if p.dim() == 1 and name.endswith("bias"):
                nn.init.zeros_(p)

    @property
    def context(self) -> int:
        return self.block_size

    def init_state(self) -> list[KVCache]:
        return [KVCache() for _ in self.blocks]

    def forward(self, ids: Tensor, state: list[KVCache] | None = None) -> tuple[Tensor, list[KVCache] | None]:
        offset = 0 if state is None else state[0].length
        if offset + ids.size(1) > self.block_size:
            raise ValueError(f"{offset + ids.size(1)} positions exceed the context of {self.block_size}")
        x = self.pos(self.tok(ids), offset)
        new_state = None if state is None else []
        for i, block in enumerate(self.blocks):
            x, cache = block(x, None if state is None else state[i])
            if new_state is not None:
                new_state.append(cache)
        return self.head(self.ln_f(x)), new_state

    @torch.no_grad()
    def attention_maps(self, ids: Tensor) -> list[Tensor]:
        """Each layer's causal self-attention (B, H, T, T) over one full pass of `ids` (T <= block_size)."""
        x = self.pos(self.tok(ids), 0)
        weights: list[Tensor] = []
        for block in self.blocks:
            x, _ = block(x, weights=weights)
        return weights


def build_lm(arch: str, cfg, vocab: int, block_size: int) -> nn.Module:
    if arch == "transformer":
        return GPTLanguageModel(cfg, vocab, block_size)
    return RNNLanguageModel(cfg, vocab)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
