"""Additive and dot-product attention: gradient checks, masking, weights summing to 1, torch parity."""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attnlab.errors import UserError
from attnlab.scratch import AdditiveAttention, DotProductAttention, check_layer, masked_softmax

B, TQ, TK, DQ, DK, DV, A = 2, 3, 5, 4, 6, 3, 7
TOL = 1e-6
KEY_MASK = np.array([[True, True, False, True, False], [False, False, True, False, False]])


def _qkv(rng, dk=DK, single=False):
    q = rng.standard_normal((B, DQ) if single else (B, TQ, DQ))
    return q, rng.standard_normal((B, TK, dk)), rng.standard_normal((B, TK, DV))


def _additive(rng):
    layer = AdditiveAttention.create(DQ, DK, A, rng)
    for p in layer.params:
        p *= 3.0  # nonlinear regime of tanh, peaked softmax
    return layer


# ----- gradient checks -------------------------------------------------------------------------------


@pytest.mark.parametrize("single", [False, True], ids=["many-queries", "one-query"])
@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "key-mask"])
def test_additive_attention_gradients(single, masked):
    rng = np.random.default_rng(20)
    layer = _additive(rng)
    kwargs = {"mask": KEY_MASK} if masked else {}
    errors = check_layer(layer, _qkv(rng, single=single), kwargs=kwargs, tol=TOL)
    assert set(errors) == {"input 0", "input 1", "input 2", "param 0", "param 1", "param 2"}


def test_additive_attention_gradients_with_a_per_query_mask():
    rng = np.random.default_rng(21)
    mask = rng.random((B, TQ, TK)) < 0.6
    mask[..., 0] = True
    check_layer(_additive(rng), _qkv(rng), kwargs={"mask": mask}, tol=TOL)


@pytest.mark.parametrize("scaled", [True, False])
@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "key-mask"])
def test_dot_product_attention_gradients(scaled, masked):
    rng = np.random.default_rng(22)
    kwargs = {"mask": KEY_MASK} if masked else {}
    check_layer(DotProductAttention(scaled), _qkv(rng, dk=DQ), kwargs=kwargs, tol=TOL)


# ----- masking ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make", [lambda rng: _additive(rng), lambda rng: DotProductAttention()], ids=["add", "dot"]
)
def test_masked_keys_get_zero_weight_and_cannot_change_the_context(make):
    rng = np.random.default_rng(23)
    layer = make(rng)
    q, k, v = _qkv(rng, dk=DK if isinstance(layer, AdditiveAttention) else DQ)
    context, weights = layer.forward(q, k, v, mask=KEY_MASK)
    hidden = np.broadcast_to(~KEY_MASK[:, None, :], weights.shape)
    assert np.all(weights[hidden] == 0.0)
    assert np.all(weights[~hidden] > 0.0)
    # Scramble everything behind the mask: the output must not move.
    k2, v2 = k.copy(), v.copy()
    k2[~KEY_MASK] = 100.0 * rng.standard_normal(k2[~KEY_MASK].shape)
    v2[~KEY_MASK] = 100.0 * rng.standard_normal(v2[~KEY_MASK].shape)
    context2, weights2 = layer.forward(q, k2, v2, mask=KEY_MASK)
    np.testing.assert_array_equal(weights2, weights)
    np.testing.assert_allclose(context2, context, rtol=0, atol=1e-12)
    # The one allowed key of the second example takes all the weight.
    np.testing.assert_allclose(weights[1, :, 2], 1.0, rtol=0, atol=1e-15)
    # ... whereas without the mask the scrambled keys and values do matter.
    assert not np.allclose(layer.forward(q, k2, v2)[0], layer.forward(q, k, v)[0])


def test_masked_positions_get_zero_gradient():
    rng = np.random.default_rng(24)
    layer = _additive(rng)
    q, k, v = _qkv(rng)
    context, weights = layer.forward(q, k, v, mask=KEY_MASK)
    _, dk, dv = layer.backward(rng.standard_normal(context.shape), rng.standard_normal(weights.shape))
    assert np.all(dk[~KEY_MASK] == 0.0) and np.all(dv[~KEY_MASK] == 0.0)
    assert np.all(np.abs(dk[0, KEY_MASK[0]]).sum(axis=-1) > 0)
    # With a single allowed key its weight is 1 whatever its score, so even that key gets no gradient.
    np.testing.assert_array_equal(dk[1], 0.0)
    assert np.abs(dv[1, 2]).sum() > 0


def test_bad_masks_are_user_errors():
    rng = np.random.default_rng(25)
    q, k, v = _qkv(rng, dk=DQ)
    none_allowed = KEY_MASK.copy()
    none_allowed[0] = False
    with pytest.raises(UserError, match="every key"):
        DotProductAttention().forward(q, k, v, mask=none_allowed)
    with pytest.raises(UserError, match="boolean"):
        DotProductAttention().forward(q, k, v, mask=KEY_MASK.astype(int))
    with pytest.raises(UserError, match="does not fit"):
        DotProductAttention().forward(q, k, v, mask=KEY_MASK[:, :3])


# ----- weights are a distribution -------------------------------------------------------------------


@st.composite
def _scores_and_mask(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6))
    scores = draw(hnp.arrays(np.float64, shape, elements=st.floats(-1e4, 1e4, allow_nan=False)))
    mask = draw(hnp.arrays(np.bool_, shape))
    mask[..., -1] |= ~mask.any(axis=-1)  # at least one allowed key per row
    return scores, mask


@settings(max_examples=100, deadline=None)
@given(_scores_and_mask())
def test_masked_softmax_is_a_distribution_over_allowed_keys(data):
    scores, mask = data
    weights = masked_softmax(scores, mask)
    assert np.all(np.isfinite(weights))
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    assert np.all(weights[~mask] == 0.0)
    assert np.all(weights >= 0.0)
    # The largest allowed score gets the largest weight.
    best = np.where(mask, scores, -np.inf).argmax(axis=-1)
    np.testing.assert_array_equal(np.take_along_axis(weights, best[..., None], -1)[..., 0], weights.max(-1))


@settings(max_examples=50, deadline=None)
@given(
    tk=st.integers(1, 7),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(0.01, 30.0),
    scaled=st.booleans(),
)
def test_attention_weights_sum_to_one(tk, seed, scale, scaled):
    rng = np.random.default_rng(seed)
    q = scale * rng.standard_normal((2, 3, 4))
    k, v = scale * rng.standard_normal((2, tk, 4)), rng.standard_normal((2, tk, 2))
    mask = rng.random((2, tk)) < 0.5
    mask[:, rng.integers(tk)] = True
    for layer in (DotProductAttention(scaled), AdditiveAttention.create(4, 4, 5, rng)):
        context, weights = layer.forward(q, k, v, mask=mask)
        np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=0, atol=1e-12)
        # The context is a convex combination of the values: inside their per-feature range.
        assert np.all(context <= v.max(axis=1, keepdims=True) + 1e-12)
        assert np.all(context >= v.min(axis=1, keepdims=True) - 1e-12)


# ----- torch parity ----------------------------------------------------------------------------------


def _torch_grads(fn, arrays, dcontext, dweights):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    context, weights = fn(*ts)
    ((context * torch.tensor(dcontext)).sum() + (weights * torch.tensor(dweights)).sum()).backward()
    return context.detach().numpy(), weights.detach().numpy(), [t.grad.numpy() for t in ts]


@pytest.mark.parametrize("scaled", [True, False])
def test_dot_product_attention_matches_torch(scaled):
    rng = np.random.default_rng(26)
    q, k, v = _qkv(rng, dk=DQ)
    layer = DotProductAttention(scaled)
    context, weights = layer.forward(q, k, v, mask=KEY_MASK)
    dc, dw = rng.standard_normal(context.shape), rng.standard_normal(weights.shape)
    grads = layer.backward(dc, dw)

    def torch_attention(q, k, v):
        s = q @ k.transpose(1, 2) / (np.sqrt(DQ) if scaled else 1.0)
        w = torch.softmax(s.masked_fill(~torch.tensor(KEY_MASK)[:, None], float("-inf")), dim=-1)
        return w @ v, w

    t_context, t_weights, t_grads = _torch_grads(torch_attention, [q, k, v], dc, dw)
    np.testing.assert_allclose(context, t_context, rtol=0, atol=1e-12)
    np.testing.assert_allclose(weights, t_weights, rtol=0, atol=1e-12)
    for ours, theirs in zip(grads, t_grads, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    # And the fused torch kernel agrees on the context (bool mask: True = may attend, as here).
    sdpa = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(a) for a in (q, k, v)),
        attn_mask=torch.tensor(KEY_MASK)[:, None],
        scale=None if scaled else 1.0,
    )
    np.testing.assert_allclose(context, sdpa.numpy(), rtol=0, atol=1e-12)


def test_additive_attention_matches_torch_autograd():
    rng = np.random.default_rng(27)
    layer = _additive(rng)
    q, k, v = _qkv(rng)
    context, weights = layer.forward(q, k, v, mask=KEY_MASK)
    dc, dw = rng.standard_normal(context.shape), rng.standard_normal(weights.shape)
    dq, dk, dv = layer.backward(dc, dw)

    def torch_bahdanau(q, k, v, Wq, Wk, wa):
        s = torch.tanh((q @ Wq)[:, :, None] + (k @ Wk)[:, None]) @ wa
        w = torch.softmax(s.masked_fill(~torch.tensor(KEY_MASK)[:, None], float("-inf")), dim=-1)
        return w @ v, w

    t_context, t_weights, t_grads = _torch_grads(torch_bahdanau, [q, k, v, *layer.params], dc, dw)
    np.testing.assert_allclose(context, t_context, rtol=0, atol=1e-12)
    np.testing.assert_allclose(weights, t_weights, rtol=0, atol=1e-12)
    for ours, theirs in zip([dq, dk, dv, *layer.grads], t_grads, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-11)
