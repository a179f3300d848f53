"""Padding, length buckets and sharding: coverage, determinism, padding efficiency."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attnlab.data.batching import bucket_batches, pad_batch, shard
from attnlab.errors import UserError


def test_pad_batch():
    x, lengths = pad_batch([[5, 6, 7], [8], []], pad_id=0)
    assert x.dtype == torch.long and x.shape == (3, 3)
    assert x.tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]]
    assert lengths.tolist() == [3, 1, 0]
    y, _ = pad_batch([torch.tensor([1, 2])], pad_id=9)
    assert y.tolist() == [[1, 2]]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(4, 50), max_size=12), min_size=1, max_size=10), st.integers(0, 7))
def test_pad_batch_shapes_property(seqs, pad_id):
    x, lengths = pad_batch(seqs, pad_id=pad_id)
    assert x.shape == (len(seqs), max(len(s) for s in seqs))
    for row, s, n in zip(x.tolist(), seqs, lengths.tolist(), strict=True):
        assert n == len(s) and row[:n] == s and all(v == pad_id for v in row[n:])


def _flat(batches):
    return sorted(np.concatenate(batches).tolist()) if batches else []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 60), max_size=300),
    st.integers(1, 17),
    st.integers(0, 3),
    st.integers(0, 3),
    st.one_of(st.none(), st.integers(1, 200)),
    st.booleans(),
)
def test_bucket_batches_property(lengths, batch_size, seed, epoch, max_tokens, shuffle):
    kw = dict(seed=seed, epoch=epoch, max_tokens=max_tokens, shuffle=shuffle, pool=3)
    batches = bucket_batches(lengths, batch_size, **kw)
    assert _flat(batches) == list(range(len(lengths)))
    again = bucket_batches(lengths, batch_size, **kw)
    assert len(batches) == len(again) and all(
        np.array_equal(a, b) for a, b in zip(batches, again, strict=True)
    )
    for b in batches:
        assert len(b) >= 1
        if max_tokens is None:
            assert len(b) <= batch_size
        elif len(b) > 1:
            assert len(b) * max(int(max(lengths[i] for i in b)), 1) <= max_tokens


def test_bucket_batches_epochs_differ_and_padding_small():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 100, size=2000)
    e0 = bucket_batches(lengths, 32, seed=1, epoch=0)
    e1 = bucket_batches(lengths, 32, seed=1, epoch=1)
    assert any(not np.array_equal(a, b) for a, b in zip(e0, e1, strict=False))
    padded = sum(len(b) * lengths[b].max() for b in e0)
    naive = sum(len(b) * lengths[b].max() for b in np.array_split(rng.permutation(2000), len(e0)))
    assert padded < 0.75 * naive  # bucketing must actually cut padding
    # evaluation order: sorted by length, deterministic, independent of seed
    ev = bucket_batches(lengths, 32, seed=5, shuffle=False)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(ev, bucket_batches(lengths, 32, seed=9, shuffle=False), strict=True)
    )
    flat = np.concatenate(ev)
    assert np.all(np.diff(lengths[flat]) >= 0)


def test_bucket_batches_max_tokens_long_example_alone():
    batches = bucket_batches([3, 3, 50, 3], 4, seed=0, max_tokens=10, shuffle=False)
    assert [len(b) for b in batches] == [3, 1]
    assert batches[1].tolist() == [2]
    with pytest.raises(UserError):
        bucket_batches([1], 0, seed=0)


def test_shard():
    batches = list(range(10))
    parts = [shard(batches, r, 3) for r in range(3)]
    assert parts == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    assert shard(batches, 0, 1) == batches
    with pytest.raises(UserError):
        shard(batches, 3, 3)
