import math

import pytest
import torch
from torch import nn

from attnlab.nn import (
    PositionwiseFeedForward,
    SinusoidalPositionalEncoding,
    TokenEmbedding,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    causal_mask,
    padding_mask,
)

TOL = {"atol": 1e-5, "rtol": 1e-5}
D, H, FF = 16, 4, 32


def _torch_kwargs(norm_first):
    return dict(dropout=0.0, batch_first=True, norm_first=norm_first)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_matches_torch(norm_first):
    ref = nn.TransformerEncoderLayer(D, H, FF, **_torch_kwargs(norm_first))
    ours = TransformerEncoderLayer(D, H, FF, dropout=0.0, norm_first=norm_first).load_from_torch(ref)
    x = torch.randn(3, 6, D)
    keep = padding_mask(torch.tensor([6, 4, 1]), 6)
    expected = ref(x, src_key_padding_mask=~keep)
    torch.testing.assert_close(ours(x, keep), expected, **TOL)
    out, attn = ours(x, keep, return_attention=True)
    torch.testing.assert_close(out, expected, **TOL)
    assert attn.shape == (3, H, 6, 6) and (attn[2, :, :, 1:] == 0).all()


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(norm_first):
    ref = nn.TransformerDecoderLayer(D, H, FF, **_torch_kwargs(norm_first))
    ours = TransformerDecoderLayer(D, H, FF, dropout=0.0, norm_first=norm_first).load_from_torch(ref)
    y, memory = torch.randn(2, 5, D), torch.randn(2, 7, D)
    tgt_keep = padding_mask(torch.tensor([5, 3]), 5)
    mem_keep = padding_mask(torch.tensor([7, 2]), 7)
    expected = ref(y, memory, tgt_mask=~causal_mask(5), tgt_key_padding_mask=~tgt_keep,
                   memory_key_padding_mask=~mem_keep)  # fmt: skip
    torch.testing.assert_close(ours(y, memory, tgt_keep, mem_keep), expected, **TOL)
    out, self_w, cross_w = ours(y, memory, tgt_keep, mem_keep, return_attention=True)
    torch.testing.assert_close(out, expected, **TOL)
    assert self_w.shape == (2, H, 5, 5) and cross_w.shape == (2, H, 5, 7)
    assert (self_w.triu(1) == 0).all() and (cross_w[1, ..., 2:] == 0).all()


@pytest.mark.parametrize("norm_first", [False, True])
def test_stacks_match_torch(norm_first):
    enc_layer = nn.TransformerEncoderLayer(D, H, FF, **_torch_kwargs(norm_first))
    dec_layer = nn.TransformerDecoderLayer(D, H, FF, **_torch_kwargs(norm_first))
    final = nn.LayerNorm(D) if norm_first else None
    ref_enc = nn.TransformerEncoder(enc_layer, 2, norm=final, enable_nested_tensor=False)
    ref_dec = nn.TransformerDecoder(dec_layer, 2, norm=nn.LayerNorm(D) if norm_first else None)
    for p in ref_enc.parameters():  # distinct layers: torch deep-copies one initialisation
        nn.init.normal_(p, std=0.3)
    for p in ref_dec.parameters():
        nn.init.normal_(p, std=0.3)
    enc = TransformerEncoder(2, D, H, FF, dropout=0.0, norm_first=norm_first).load_from_torch(ref_enc)
    dec = TransformerDecoder(2, D, H, FF, dropout=0.0, norm_first=norm_first).load_from_torch(ref_dec)
    x, y = torch.randn(2, 6, D), torch.randn(2, 4, D)
    keep = padding_mask(torch.tensor([6, 3]), 6)
    ref_mem = ref_enc(x, src_key_padding_mask=~keep)
    mem, enc_ws = enc(x, keep, return_attention=True)
    torch.testing.assert_close(mem, ref_mem, **TOL)
    assert len(enc_ws) == 2 and enc_ws[0].shape == (2, H, 6, 6)
    expected = ref_dec(y, ref_mem, tgt_mask=~causal_mask(4), memory_key_padding_mask=~keep)
    out, self_ws, cross_ws = dec(y, mem, memory_mask=keep, return_attention=True)
    torch.testing.assert_close(out, expected, **TOL)
    assert [w.shape for w in self_ws] == [(2, H, 4, 4)] * 2
    assert [w.shape for w in cross_ws] == [(2, H, 4, 6)] * 2


@pytest.mark.parametrize(("norm_first", "rotary"), [(False, False), (True, False), (False, True)])
def test_incremental_decoding_equals_full_recomputation(norm_first, rotary):
    dec = TransformerDecoder(3, D, H, FF, dropout=0.1, norm_first=norm_first, rotary=rotary).eval()
    pos = SinusoidalPositionalEncoding(D)
    emb = torch.randn(2, 6, D)  # token embeddings of a 6-token target
    memory = torch.randn(2, 5, D)
    mem_keep = padding_mask(torch.tensor([5, 3]), 5)
    full, full_self, full_cross = dec(pos(emb), memory, memory_mask=mem_keep, return_attention=True)

    cache = dec.init_cache(memory)
    for t in range(6):
        step = pos(emb[:, t : t + 1], offset=cache.offset)
        out, self_ws, cross_ws, cache = dec(
            step, None, memory_mask=mem_keep, cache=cache, return_attention=True
        )
        torch.testing.assert_close(out[:, 0], full[:, t], **TOL)
        for layer in range(3):
            torch.testing.assert_close(self_ws[layer][..., 0, :], full_self[layer][..., t, : t + 1], **TOL)
            torch.testing.assert_close(cross_ws[layer][..., 0, :], full_cross[layer][..., t, :], **TOL)
    assert cache.offset == 6 and cache.self_attn[0].k.shape == (2, H, 6, D // H)

    # A prompt in one call, then single steps without weights: the (y, cache) convention.
    out, cache = dec(pos(emb[:, :4]), None, memory_mask=mem_keep, cache=dec.init_cache(memory))
    torch.testing.assert_close(out, full[:, :4], **TOL)
    out, cache = dec(pos(emb[:, 4:5], offset=cache.offset), None, memory_mask=mem_keep, cache=cache)
    torch.testing.assert_close(out[:, 0], full[:, 4], **TOL)


def test_token_embedding_and_ffn():
    emb = TokenEmbedding(10, 8, pad_id=0)
    ids = torch.tensor([[4, 0]])
    torch.testing.assert_close(emb(ids)[0, 0], emb.weight[4] * math.sqrt(8))
    assert (emb(ids)[0, 1] == 0).all()
    ffn = PositionwiseFeedForward(8, 12, dropout=0.0, activation="gelu")
    x = torch.randn(2, 3, 8)
    expected = nn.functional.gelu(x @ ffn.w_1.weight.T + ffn.w_1.bias) @ ffn.w_2.weight.T + ffn.w_2.bias
    torch.testing.assert_close(ffn(x), expected, **TOL)
    with pytest.raises(ValueError, match="relu, gelu"):
        PositionwiseFeedForward(8, 12, activation="swish")
    with pytest.raises(ValueError, match="divisible"):
        TransformerEncoderLayer(10, 3, 12)


def test_training_backward_reaches_every_parameter():
    enc = TransformerEncoder(1, D, H, FF, dropout=0.1)
    dec = TransformerDecoder(1, D, H, FF, dropout=0.1)
    x, y = torch.randn(2, 5, D), torch.randn(2, 3, D)
    dec(y, enc(x)).sum().backward()
    for p in [*enc.parameters(), *dec.parameters()]:
        assert p.grad is not None and torch.isfinite(p.grad).all()


def test_decoder_cache_select_reorders_batch_rows():
    dec = TransformerDecoder(1, D, H, FF, dropout=0.0).eval()
    memory, y = torch.randn(3, 4, D), torch.randn(3, 2, D)
    _, cache = dec(y, None, cache=dec.init_cache(memory))
    index = torch.tensor([2, 0, 2])
    picked = cache.select(index)
    step = torch.randn(3, 1, D)
    out, _ = dec(step, None, cache=picked)
    full = dec(torch.cat([y[index], step], dim=1), memory[index])
    torch.testing.assert_close(out[:, 0], full[:, -1], **TOL)
