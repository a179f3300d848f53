"""Position information: fixed sinusoids, learned embeddings and rotary embeddings (RoPE).

Attention itself is permutation-equivariant, so order has to be injected: added to the token embeddings
(sinusoidal, learned) or rotated into the queries and keys (rotary). Every module takes an ``offset``
(the number of tokens already decoded) so cached decoding gives token t the same position it would have
in a full forward pass.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["LearnedPositionalEncoding", "SinusoidalPositionalEncoding", "apply_rotary", "sinusoidal_encoding"]


def sinusoidal_encoding(
    length: int, d_model: int, offset: int = 0, device: torch.device | str | None = None
) -> Tensor:
    """Vaswani et al. (2017) positional encodings for positions offset .. offset+length-1.

        PE(pos, 2i)   = sin(pos / 10000^(2i / d_model))
        PE(pos, 2i+1) = cos(pos / 10000^(2i / d_model))

    Returns:
        (length, d_model) float32. An odd d_model drops the last cosine column.
    """
    pos = torch.arange(offset, offset + length, dtype=torch.float32, device=device).unsqueeze(1)
    # exp(-2i·ln(10000)/d) == 1/10000^(2i/d), computed in log space as in the Annotated Transformer.
    div = torch.exp(
        torch.arange(0, d_model, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / d_model)
    )
    pe = torch.zeros(length, d_model, device=device)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)[:, : d_model // 2]
    return pe


class SinusoidalPositionalEncoding(nn.Module):
    """x + PE[offset : offset + T], then dropout.   x: (B, T, d_model) -> (B, T, d_model).

    The table is a non-persistent buffer (it is a function of the shape, so it stays out of checkpoints);
    positions past ``max_len`` are computed on the fly rather than failing.
    """

    def __init__(self, d_model: int, max_len: int = 1024, dropout: float = 0.0) -> None:
        super().__init__()
        self.d_model = d_model
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model), persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        t = x.size(-2)
        if offset + t <= self.pe.size(0):
            pe = self.pe[offset : offset + t]
        else:
            pe = sinusoidal_encoding(t, self.d_model, offset, device=x.device)
        return self.dropout(x + pe.to(x.dtype))


class LearnedPositionalEncoding(nn.Module):
    """x + E[offset : offset + T], then dropout, with E a learned (max_len, d_model) table (BERT/GPT-2)."""

    def __init__(self, max_len: int, d_model: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.max_len = max_len
        self.embedding = nn.Embedding(max_len, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        t = x.size(-2)
        if offset + t > self.max_len:
            raise ValueError(f"position {offset + t - 1} is past the learned table (max_len={self.max_len})")
        pos = torch.arange(offset, offset + t, device=x.device)
        return self.dropout(x + self.embedding(pos))


def apply_rotary(x: Tensor, positions: Tensor, base: float = 10000.0) -> Tensor:
    """Rotary position embedding (Su et al., 2021), "rotate-half" layout (GPT-NeoX / Llama).

    Feature pairs (i, i + d/2) are rotated by angle pos · θ_i, θ_i = base^(-2i/d):

        x'_i       = x_i cos(pos θ_i) - x_{i+d/2} sin(pos θ_i)
        x'_{i+d/2} = x_{i+d/2} cos(pos θ_i) + x_i sin(pos θ_i)

    so q'·k' depends only on the *relative* position of q and k.

    Args:
        x: (..., T, d) queries or keys, d even (typically (B, H, T, d_head)).
        positions: (T,) or broadcastable to x.shape[:-1], integer positions.
    Returns:
        tensor shaped like x.
    """
    d = x.size(-1)
    if d % 2:
        raise ValueError(f"rotary embeddings need an even feature size, got {d}")
    inv_freq = base ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d)  # (d/2,)
    angles = positions.to(torch.float32).unsqueeze(-1) * inv_freq  # (..., T, d/2)
    cos = torch.cat([angles.cos(), angles.cos()], dim=-1).to(x.dtype)
    sin = torch.cat([angles.sin(), angles.sin()], dim=-1).to(x.dtype)
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin
