import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from attnlab.nn import KVCache, MultiHeadAttention, causal_mask, padding_mask, to_attention_mask

TOL = {"atol": 1e-5, "rtol": 1e-5}


def test_keras_seed_example_cross_attention_shapes():
    mha = MultiHeadAttention(num_heads=2, key_dim=2)
    query, value = torch.randn(3, 8, 16), torch.randn(3, 4, 16)
    out, scores = mha(query, value, return_attention_scores=True)
    assert out.shape == (3, 8, 16) and scores.shape == (3, 2, 8, 4)
    torch.testing.assert_close(mha(query, value), out, **TOL)  # fast path == explicit path


def test_keras_seed_example_attention_axes():
    mha = MultiHeadAttention(num_heads=2, key_dim=2, attention_axes=(2, 3))
    x = torch.randn(2, 5, 3, 4, 16)
    out, scores = mha(x, x, return_attention_scores=True)
    assert out.shape == (2, 5, 3, 4, 16)
    assert scores.shape == (2, 5, 2, 3, 4, 3, 4)  # Keras layout: (B, other axes, H, query axes, key axes)
    torch.testing.assert_close(mha(x, x), out, **TOL)
    # Each of the 5 slices is ordinary self-attention over its flattened 3x4 grid, same weights.
    for i in range(5):
        flat = x[:, i].reshape(2, 12, 16)
        ref, ref_scores = MultiHeadAttention.forward(
            _plain_copy(mha), flat, flat, return_attention_scores=True
        )
        torch.testing.assert_close(out[:, i], ref.reshape(2, 3, 4, 16), **TOL)
        torch.testing.assert_close(scores[:, i], ref_scores.reshape(2, 2, 3, 4, 3, 4), **TOL)
    # A Keras-shaped mask (B, other, query axes, key axes) gets the head axis inserted.
    mask = torch.rand(2, 5, 3, 4, 3, 4) > 0.3
    _, masked = mha(x, x, attention_mask=mask, return_attention_scores=True)
    assert (masked.masked_select(~mask.unsqueeze(2).expand_as(masked)) == 0).all()


def _plain_copy(mha: MultiHeadAttention) -> MultiHeadAttention:
    plain = MultiHeadAttention(mha.num_heads, mha.key_dim)
    plain.load_state_dict(mha.state_dict())
    return plain


def test_lazy_build_and_state_dict_round_trip():
    mha = MultiHeadAttention(num_heads=2, key_dim=4, value_dim=3, output_shape=(2, 5))
    assert len(list(mha.parameters())) == 0
    q, v, k = torch.randn(2, 6, 7), torch.randn(2, 5, 9), torch.randn(2, 5, 11)
    out = mha(q, v, k)
    assert out.shape == (2, 6, 2, 5)
    assert mha.key_dense.weight.shape == (8, 11) and mha.value_dense.weight.shape == (6, 9)
    fresh = MultiHeadAttention(num_heads=2, key_dim=4, value_dim=3, output_shape=(2, 5))
    fresh.load_state_dict(mha.state_dict())  # builds from the checkpoint's shapes
    torch.testing.assert_close(fresh(q, v, k), out)
    eager = MultiHeadAttention(2, 4, query_dim=7, value_in_dim=9, key_in_dim=11, use_bias=False)
    assert eager.query_dense.weight.shape == (8, 7) and eager.query_dense.bias is None


@pytest.mark.parametrize("cross", [False, True])
def test_matches_torch_multihead_attention_with_per_head_weights(cross):
    e, h = 16, 4
    kdim = 12 if cross else e
    ref = nn.MultiheadAttention(e, h, batch_first=True, kdim=kdim, vdim=kdim)
    ours = MultiHeadAttention(h, e // h).load_from_torch(ref)
    q = torch.randn(3, 5, e)
    kv = torch.randn(3, 7, kdim) if cross else q
    keep = padding_mask(torch.tensor([kv.size(1), 4, 2]), kv.size(1))
    attn = torch.rand(q.size(1), kv.size(1)) > 0.2
    attn[:, 0] = True  # keep every row attendable so torch gives no NaNs
    ref_out, ref_w = ref(q, kv, kv, key_padding_mask=~keep, attn_mask=~attn, average_attn_weights=False)
    mask = to_attention_mask(keep) & attn
    out, w = ours(q, kv, attention_mask=mask, return_attention_scores=True)
    torch.testing.assert_close(out, ref_out, **TOL)
    torch.testing.assert_close(w, ref_w, **TOL)
    torch.testing.assert_close(ours(q, kv, attention_mask=mask), ref_out, **TOL)
    # Keras-style (B, T_q, T_k) mask means the same thing.
    torch.testing.assert_close(ours(q, kv, attention_mask=mask[:, 0].expand(3, 5, -1)), ref_out, **TOL)


def test_causal_mask_matches_torch_is_causal():
    ref = nn.MultiheadAttention(8, 2, batch_first=True)
    ours = MultiHeadAttention(2, 4).load_from_torch(ref)
    x = torch.randn(2, 6, 8)
    ref_out, _ = ref(x, x, x, attn_mask=~causal_mask(6), need_weights=False)
    torch.testing.assert_close(ours(x, x, use_causal_mask=True), ref_out, **TOL)
    out, w = ours(x, x, use_causal_mask=True, return_attention_scores=True)
    torch.testing.assert_close(out, ref_out, **TOL)
    assert (w.triu(1) == 0).all()


@pytest.mark.parametrize("rotary", [False, True])
def test_kv_cache_incremental_equals_full(rotary):
    mha = MultiHeadAttention(2, 4, query_dim=8, rotary=rotary).eval()
    x = torch.randn(2, 7, 8)
    full, full_w = mha(x, x, use_causal_mask=True, return_attention_scores=True)
    cache = KVCache()
    out, cache = mha(x[:, :3], x[:, :3], use_causal_mask=True, cache=cache)  # a 3-token prompt
    steps = [out]
    for t in range(3, 7):
        out, w, cache = mha(x[:, t : t + 1], x[:, t : t + 1], use_causal_mask=True, cache=cache,
                            return_attention_scores=True)  # fmt: skip
        torch.testing.assert_close(w[..., 0, :], full_w[..., t, : t + 1], **TOL)
        steps.append(out)
    assert cache.length == 7 and cache.k.shape == (2, 2, 7, 4)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, **TOL)


def test_static_cross_attention_cache():
    mha = MultiHeadAttention(2, 4, query_dim=8, value_in_dim=6)
    q, memory = torch.randn(2, 3, 8), torch.randn(2, 5, 6)
    mask = to_attention_mask(padding_mask(torch.tensor([5, 2])))
    static = mha.precompute(memory)
    out, cache = mha(q, None, attention_mask=mask, cache=static)
    assert cache is static and static.length == 5
    torch.testing.assert_close(out, mha(q, memory, attention_mask=mask))


def test_dropout_only_in_training():
    mha = MultiHeadAttention(2, 4, query_dim=8, dropout=0.5)
    x = torch.randn(2, 5, 8)
    mha.eval()
    torch.testing.assert_close(mha(x, x), mha(x, x))
    mha.train()
    assert not torch.allclose(mha(x, x), mha(x, x))


@settings(max_examples=20, deadline=None)
@given(t=st.integers(2, 8), cut=st.data(), seed=st.integers(0, 10_000))
def test_causal_output_at_t_ignores_later_inputs(t, cut, seed):
    torch.manual_seed(seed)
    mha = MultiHeadAttention(2, 3, query_dim=6).eval()
    x = torch.randn(2, t, 6)
    s = cut.draw(st.integers(0, t - 1))
    y = x.clone()
    y[:, s + 1 :] = torch.randn_like(y[:, s + 1 :])
    for fast in (False, True):
        a = mha(x, x, use_causal_mask=True, return_attention_scores=not fast)
        b = mha(y, y, use_causal_mask=True, return_attention_scores=not fast)
        a, b = (a, b) if fast else (a[0], b[0])
        torch.testing.assert_close(a[:, : s + 1], b[:, : s + 1], **TOL)


@settings(max_examples=20, deadline=None)
@given(t=st.integers(1, 8), seed=st.integers(0, 10_000))
def test_self_attention_is_permutation_equivariant(t, seed):
    torch.manual_seed(seed)
    mha = MultiHeadAttention(2, 3, query_dim=6).eval()
    x = torch.randn(2, t, 6)
    perm = torch.randperm(t)
    out, w = mha(x, x, return_attention_scores=True)
    pout, pw = mha(x[:, perm], x[:, perm], return_attention_scores=True)
    torch.testing.assert_close(pout, out[:, perm], **TOL)
    torch.testing.assert_close(pw, w[:, :, perm][..., perm], **TOL)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 2, t), **TOL)


def test_load_from_torch_rejects_mismatch():
    with pytest.raises(ValueError):
        MultiHeadAttention(2, 8).load_from_torch(nn.MultiheadAttention(16, 4, batch_first=True))
