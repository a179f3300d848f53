"""Batches: the `Batch` every task builds and the trainer consumes, length-bucketed batch order, padding,
and sharding across ranks.

Data order is the only randomness here and it comes from `np.random.default_rng((seed, epoch))`, so
epoch *e* of a resumed run sees exactly the batches it would have seen without the interruption.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from attnlab.errors import UserError


@dataclass
class Batch:
    """Named tensors whose first dimension is the example, plus the counts the trainer needs.

    `units` is what the loss is averaged over for the *global* batch (target tokens for sequence models,
    examples for classifiers), so a batch split across ranks still averages exactly like one process.
    """

    tensors: dict[str, torch.Tensor]
    units: int  # normaliser of the loss: target tokens, or examples
    tokens: int  # tokens processed (source + target), for throughput
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> torch.Tensor:
        return self.tensors[key]

    def to(self, device: torch.device) -> Batch:
        if all(t.device == device for t in self.tensors.values()):
            return self
        moved = {k: v.to(device, non_blocking=True) for k, v in self.tensors.items()}
        return Batch(moved, self.units, self.tokens, self.extra)

    def shard(self, rank: int, world_size: int) -> Batch:
        """Rows rank, rank+W, ... of every tensor: a rank's share of the global batch."""
        if world_size == 1:
            return self
        return Batch(
            {k: v[rank::world_size] for k, v in self.tensors.items()}, self.units, self.tokens, self.extra
        )


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id sequences into a (B, T) LongTensor, T = longest sequence; also returns lengths (B,)."""
    if len(seqs) == 0:
        raise ValueError("pad_batch needs at least one sequence")
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    out = torch.full((len(seqs), int(lengths.max())), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        if len(s):
            out[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
    return out, lengths


def bucket_batches(
    lengths: Sequence[int],
    batch_size: int,
    *,
    seed: int,
    epoch: int = 0,
    shuffle: bool = True,
    max_tokens: int | None = None,
    pool: int = 50,
) -> list[np.ndarray]:
    """Batches of example indices with little padding, every index exactly once.

    With `shuffle`: shuffle all indices, sort by length inside pools of `pool * batch_size` examples
    (similar lengths together, yet randomness across pools), cut each pool into batches, then shuffle
    the batch order. Without: one global stable length sort, batches in that order (evaluation).
    Batches hold `batch_size` examples, or — when `max_tokens` is given — as many as fit in
    `max_tokens` padded tokens (batch count × longest length; an over-long example gets its own batch),
    with `batch_size` then only sizing the pools.
    """
    if batch_size < 1:
        raise UserError(f"batch_size must be at least 1, got {batch_size}")
    if max_tokens is not None and max_tokens < 1:
        raise UserError(f"max_tokens must be at least 1, got {max_tokens}")
    lens = np.asarray(lengths, dtype=np.int64).reshape(-1)
    n = len(lens)
    if n == 0:
        return []
    if not shuffle:
        return _cut(np.argsort(lens, kind="stable"), lens, batch_size, max_tokens)
    rng = np.random.default_rng((seed, epoch))
    perm = rng.permutation(n)
    pool_size = max(1, pool) * batch_size
    batches: list[np.ndarray] = []
    for start in range(0, n, pool_size):
        chunk = perm[start : start + pool_size]
        chunk = chunk[np.argsort(lens[chunk], kind="stable")]
        batches.extend(_cut(chunk, lens, batch_size, max_tokens))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def _cut(order: np.ndarray, lens: np.ndarray, batch_size: int, max_tokens: int | None) -> list[np.ndarray]:
    """Cut length-sorted (ascending) indices into batches by count or by padded-token budget."""
    if max_tokens is None:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    batches: list[np.ndarray] = []
    start = 0
    for i in range(1, len(order) + 1):
        # Ascending order: the longest of order[start:i+1] is its last element.
        if i == len(order) or (i + 1 - start) * max(int(lens[order[i]]), 1) > max_tokens:
            batches.append(order[start:i])
            start = i
    return batches


def shard(batches: Sequence, rank: int, world_size: int) -> list:
    """Every `world_size`-th batch starting at `rank`, after dropping the tail that would leave ranks
    with unequal counts (distributed steps must stay in lock-step)."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise UserError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
    usable = len(batches) // world_size * world_size
    return list(batches[rank:usable:world_size])
