import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attnlab.nn import AdditiveAttention, LuongAttention, padding_mask, scaled_dot_product_attention


def _reference_sdpa(q, k, v, mask=None):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = s.softmax(-1)
    return w @ v, w


def test_sdpa_fast_path_equals_explicit_path():
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)
    mask = padding_mask(torch.tensor([7, 4]))[:, None, None, :]
    fast = scaled_dot_product_attention(q, k, v, mask)
    slow, w = scaled_dot_product_attention(q, k, v, mask, return_weights=True)
    ref, ref_w = _reference_sdpa(q, k, v, mask)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(slow, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w, ref_w, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, scale=0.3), _sdpa_scaled(q, k, v, 0.3))


def _sdpa_scaled(q, k, v, scale):
    return (q @ k.transpose(-2, -1) * scale).softmax(-1) @ v


@pytest.mark.parametrize("return_weights", [False, True])
def test_all_masked_row_gives_zeros_not_nan(return_weights):
    q = torch.randn(2, 2, 4, 8, requires_grad=True)
    k, v = torch.randn(2, 2, 5, 8), torch.randn(2, 2, 5, 8)
    mask = torch.ones(2, 1, 4, 5, dtype=torch.bool)
    mask[0, 0, 1] = False  # query 1 of batch 0 sees nothing
    res = scaled_dot_product_attention(q, k, v, mask, return_weights=return_weights)
    out = res[0] if return_weights else res
    assert not out.isnan().any()
    assert (out[0, :, 1] == 0).all()
    assert (out[1] != 0).any()
    if return_weights:
        assert (res[1][0, :, 1] == 0).all()
    out.sum().backward()
    assert torch.isfinite(q.grad).all()
    # Rows with keys are untouched by the fix.
    ref, _ = _reference_sdpa(q.detach(), k, v, mask)
    torch.testing.assert_close(out[1], ref[1], atol=1e-5, rtol=1e-5)


def test_sdpa_rejects_float_mask_and_dropout_only_in_training():
    q = torch.randn(1, 3, 4)
    with pytest.raises(TypeError):
        scaled_dot_product_attention(q, q, q, torch.zeros(3, 3))
    a = scaled_dot_product_attention(q, q, q, dropout_p=0.9, training=False)
    torch.testing.assert_close(a, scaled_dot_product_attention(q, q, q))


@settings(max_examples=25, deadline=None)
@given(
    b=st.integers(1, 3),
    t_q=st.integers(1, 5),
    t_k=st.integers(1, 6),
    seed=st.integers(0, 10_000),
    data=st.data(),
)
def test_weights_rows_sum_to_one_and_masked_keys_get_zero(b, t_q, t_k, seed, data):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(b, t, 4, generator=g) for t in (t_q, t_k, t_k))
    lengths = torch.tensor(data.draw(st.lists(st.integers(1, t_k), min_size=b, max_size=b)))
    mask = padding_mask(lengths, t_k)[:, None, :]
    out, w = scaled_dot_product_attention(q, k, v, mask, return_weights=True)
    torch.testing.assert_close(w.sum(-1), torch.ones(b, t_q))
    assert (w.masked_select(~mask.expand_as(w)) == 0).all()
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, mask), out, atol=1e-5, rtol=1e-5)


def _additive_reference(m: AdditiveAttention, q, keys, mask):
    # score_ij = vᵀ tanh(W_q q_i + W_k k_j + b), loops written out literally.
    b, t_q, _ = q.shape
    t_k = keys.size(1)
    scores = torch.empty(b, t_q, t_k, dtype=q.dtype)
    for i in range(t_q):
        for j in range(t_k):
            h = torch.tanh(q[:, i] @ m.w_q.weight.T + keys[:, j] @ m.w_k.weight.T + m.w_k.bias)
            scores[:, i, j] = h @ m.v.weight[0]
    scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
    w = scores.softmax(-1)
    return w @ keys, w


def _luong_reference(m: LuongAttention, q, keys, mask):
    if m.score == "dot":
        scores = torch.einsum("bid,bjd->bij", q, keys)
    elif m.score == "general":
        scores = torch.einsum("bid,de,bje->bij", q, m.w.weight, keys)
    else:
        w = torch.cat([m.w_q.weight, m.w_k.weight], dim=1)  # W acting on [q; k]
        t_q, t_k = q.size(1), keys.size(1)
        cat = torch.cat(
            [q[:, :, None].expand(-1, -1, t_k, -1), keys[:, None].expand(-1, t_q, -1, -1)], dim=-1
        )
        scores = torch.tanh(cat @ w.T) @ m.v.weight[0]
    w = scores.masked_fill(~mask[:, None, :], float("-inf")).softmax(-1)
    return w @ keys, w


def _make(kind, dq, dk):
    if kind == "additive":
        return AdditiveAttention(dq, dk, units=5), _additive_reference
    return LuongAttention(dq, dk, score=kind, units=5), _luong_reference


@pytest.mark.parametrize("kind", ["additive", "dot", "general", "concat"])
def test_rnn_attention_matches_formula(kind):
    dq, dk = (6, 6) if kind == "dot" else (6, 4)
    m, ref = _make(kind, dq, dk)
    keys = torch.randn(3, 7, dk)
    mask = padding_mask(torch.tensor([7, 3, 1]), 7)
    q = torch.randn(3, 2, dq)
    ctx, w = m(q, keys, mask)
    rctx, rw = ref(m, q, keys, mask)
    assert ctx.shape == (3, 2, dk) and w.shape == (3, 2, 7)
    torch.testing.assert_close(ctx, rctx, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w, rw, atol=1e-6, rtol=1e-5)
    # Single-step query (B, query_dim) with precomputed keys: same numbers, squeezed shapes.
    ctx1, w1 = m(q[:, 0], keys, mask, projected_keys=m.project_keys(keys))
    assert ctx1.shape == (3, dk) and w1.shape == (3, 7)
    torch.testing.assert_close(ctx1, rctx[:, 0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w1, rw[:, 0], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", ["additive", "dot", "general", "concat"])
def test_rnn_attention_gradcheck_float64(kind):
    dq, dk = (3, 3) if kind == "dot" else (3, 2)
    m, _ = _make(kind, dq, dk)
    m = m.double()
    q = torch.randn(2, dq, dtype=torch.float64, requires_grad=True)
    keys = torch.randn(2, 4, dk, dtype=torch.float64, requires_grad=True)
    mask = padding_mask(torch.tensor([4, 2]), 4)
    assert torch.autograd.gradcheck(lambda a, b: m(a, b, mask), (q, keys))


def test_sdpa_explicit_path_gradcheck_float64():
    q = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, 5, 4, dtype=torch.float64, requires_grad=True)
    v = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    mask = padding_mask(torch.tensor([5, 2]), 5)[:, None, :].expand(2, 3, 5).clone()
    mask[1, 0] = False  # include an all-masked row

    def f(a, b, c):
        return scaled_dot_product_attention(a, b, c, mask, return_weights=True)

    assert torch.autograd.gradcheck(f, (q, k, v))


def test_luong_rejects_unknown_score_and_bad_dims():
    with pytest.raises(ValueError, match="dot, general, concat"):
        LuongAttention(4, 4, score="bilinear")
    with pytest.raises(ValueError, match="query_dim == key_dim"):
        LuongAttention(4, 3, score="dot")


def test_all_masked_source_row_is_zero_in_rnn_attention():
    m = AdditiveAttention(3, 3, 4)
    ctx, w = m(torch.randn(2, 3), torch.randn(2, 4, 3), torch.tensor([[True] * 4, [False] * 4]))
    assert (ctx[1] == 0).all() and (w[1] == 0).all() and not ctx.isnan().any()
