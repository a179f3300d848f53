"""Boolean attention masks. Convention everywhere: **True = may attend / is a real token**.

Masks are kept boolean (not additive -inf floats) so they compose with ``&`` and broadcast cheaply;
the attention functions turn them into ``-inf`` only at the last moment.
"""

from __future__ import annotations

import torch
from torch import Tensor


def padding_mask(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """Real-token mask from sequence lengths.

    mask[b, t] = t < lengths[b]

    Args:
        lengths: (B,) integer lengths.
        max_len: T; defaults to ``lengths.max()``. Pass it when the padded batch is longer.
    Returns:
        (B, T) bool.
    """
    if max_len is None:
        max_len = int(lengths.max().item()) if lengths.numel() else 0
    positions = torch.arange(max_len, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


def padding_mask_from_ids(ids: Tensor, pad_id: int = 0) -> Tensor:
    """Real-token mask from token ids: (B, T) ids -> (B, T) bool, True where ``ids != pad_id``."""
    return ids != pad_id


def causal_mask(t_q: int, t_k: int | None = None, device: torch.device | str | None = None) -> Tensor:
    """Lower-triangular "may attend" mask.

    mask[i, j] = j <= i + (T_k - T_q)

    With ``T_k > T_q`` the queries are the *last* T_q positions of the key sequence, which is what
    cached decoding needs: the new token(s) see every cached key plus themselves.

    Returns:
        (T_q, T_k) bool.
    """
    t_k = t_q if t_k is None else t_k
    if t_k < t_q:
        raise ValueError(f"causal_mask needs T_k >= T_q, got T_q={t_q}, T_k={t_k}")
    return torch.ones(t_q, t_k, dtype=torch.bool, device=device).tril(diagonal=t_k - t_q)


def combine(*masks: Tensor | None) -> Tensor | None:
    """Logical AND of masks with broadcasting; ``None`` entries (no mask) are skipped.

    Returns ``None`` when every entry is ``None``, so callers can pass it straight on.
    """
    out: Tensor | None = None
    for m in masks:
        if m is None:
            continue
        out = m if out is None else out & m
    return out


def to_attention_mask(key_mask: Tensor) -> Tensor:
    """Key padding mask (B, T_k) -> (B, 1, 1, T_k), broadcastable over heads and queries."""
    return key_mask[:, None, None, :]
