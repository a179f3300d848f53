"""Language-model batches: fixed-length windows over one token stream, as (x, y) pairs shifted by one.

    data (N,) int64 token ids -> Batch{"x": (B, block), "y": (B, block)} with y[:, t] = x[:, t + 1]

Both samplers are Sequences, so the trainer can resume at any batch of any epoch: random windows are
drawn from (seed, global batch index), sequential windows are shuffled once per (seed, epoch).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from attnlab.data.batching import Batch


def windows(data: torch.Tensor, starts: np.ndarray, block: int) -> Batch:
    """The windows data[s : s + block + 1] for each start s, split into inputs and next-token targets."""
    idx = torch.from_numpy(np.asarray(starts, dtype=np.int64))[:, None] + torch.arange(block + 1)
    w = data[idx]
    x, y = w[:, :-1].contiguous(), w[:, 1:].contiguous()
    return Batch({"x": x, "y": y}, x.numel(), x.numel())


def scoring_windows(n: int, block: int, stride: int | None = None) -> list[tuple[int, int, int]]:
    """Windows that score each of n next-token targets exactly once: (start, length, keep) means inputs
    data[start : start + length] and its last `keep` targets counted.

    stride = block (or None): consecutive windows, every position scored, so the average mixes contexts of
    0 … block - 1 tokens (nanoGPT's estimate). stride < block: the sliding window of HF's "perplexity of
    fixed-length models": each window moves by `stride` and scores only its last `stride` targets, so every
    target after the first window has at least block - stride tokens of context (cost: block / stride)."""
    stride = min(stride or block, block)
    if n <= block:
        return [(0, n, n)] if n > 0 else []
    out, done = [(0, block, block)], block
    while done < n:
        end = min(done + stride, n)
        start = max(end - block, 0)
        out.append((start, end - start, end - done))
        done = end
    return out


class RandomWindows(Sequence):
    """An epoch of `n` batches of random windows; batch i of epoch e is fixed by (seed, e·n + i)."""

    def __init__(self, data: torch.Tensor, block: int, batch: int, n: int, seed: int, epoch: int):
        self.data, self.block, self.batch, self.n, self.seed, self.epoch = data, block, batch, n, seed, epoch

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Batch:
        if not 0 <= i < self.n:
            raise IndexError(i)
        rng = np.random.default_rng([self.seed, self.epoch * self.n + i])
        return windows(self.data, rng.integers(0, len(self.data) - self.block, size=self.batch), self.block)


class SequentialWindows(Sequence):
    """Windows every `stride` tokens, shuffled per epoch with (seed, epoch), cut into batches."""

    def __init__(self, data: torch.Tensor, block: int, batch: int, stride: int, seed: int, epoch: int):
        self.data, self.block, self.batch = data, block, batch
        starts = np.arange(0, len(data) - block, stride)
        self.starts = starts[np.random.default_rng([seed, epoch]).permutation(len(starts))]

    def __len__(self) -> int:
        return -(-len(self.starts) // self.batch)

    def __getitem__(self, i: int) -> Batch:
        if not 0 <= i < len(self):
            raise IndexError(i)
        return windows(self.data, self.starts[i * self.batch : (i + 1) * self.batch], self.block)
