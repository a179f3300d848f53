"""Transformer seq2seq: cached incremental decoding equals full recomputation, beam 1 == greedy, shapes."""

import pytest
import torch

from attnlab import decode
from attnlab.models.transformer import TransformerSeq2Seq, TransformerSeq2SeqConfig

VOCAB_SRC, VOCAB_TGT = 29, 31


def _model(**kw):
    torch.manual_seed(0)
    cfg = TransformerSeq2SeqConfig(d_model=32, layers=2, heads=4, d_ff=64, dropout=0.0, **kw)
    return TransformerSeq2Seq(cfg, VOCAB_SRC, VOCAB_TGT).eval()


def _src(b=4, s=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, VOCAB_SRC, (b, s), generator=g)
    src_len = torch.tensor([s, s - 2, 3, s - 1][:b])
    for i, n in enumerate(src_len):
        src[i, n:] = 0
    return src, src_len


VARIANTS = [{}, {"norm_first": True}, {"positional": "learned", "tie_embeddings": False}]


@pytest.mark.parametrize("kw", VARIANTS, ids=["post-norm", "pre-norm", "learned-untied"])
def test_cached_decoding_equals_full_recomputation(kw):
    """Greedy decoding with the KV cache picks the same tokens as re-running the whole decoder over the
    prefix at every step, and the step logits agree with the full pass to 1e-5."""
    model = _model(**kw)
    src, src_len = _src()
    steps = 12
    state = model.start(src, src_len)
    tokens = torch.full((src.size(0),), decode.BOS, dtype=torch.long)
    prefix = tokens[:, None]
    memory, mask = model.encode(src, src_len)
    for _ in range(steps):
        logits, state, attn = model.step(tokens, state)
        full = model.decode(memory, mask, prefix)[:, -1]
        torch.testing.assert_close(logits, full, rtol=1e-5, atol=1e-5)
        assert attn.shape == (src.size(0), 2, 4, src.size(1))
        assert torch.equal(logits.argmax(-1), full.argmax(-1))
        tokens = logits.argmax(-1)
        prefix = torch.cat([prefix, tokens[:, None]], 1)
    # The teacher-forced pass over the decoded prefix reproduces every step's cross-attention too.
    _, cross = model(src, src_len, prefix[:, :-1], return_attention=True)
    assert cross.shape == (src.size(0), steps, 2, 4, src.size(1))
    torch.testing.assert_close(cross[:, -1], attn, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("beam", [1, 3])
def test_search_without_attention_finds_the_same_outputs(beam):
    """attention=False (fused kernels, no weights formed) changes nothing but the missing maps."""
    model = _model(norm_first=True)
    src, src_len = _src(b=4, seed=5)
    with_maps = decode.beam_search(model, src, src_len, beam=beam, n_best=beam, max_len=12)
    without = decode.beam_search(model, src, src_len, beam=beam, n_best=beam, max_len=12, attention=False)
    for a, b in zip(with_maps, without, strict=True):
        assert [h.tokens for h in a] == [h.tokens for h in b]
        torch.testing.assert_close([h.score for h in a], [h.score for h in b], rtol=1e-5, atol=1e-5)
        assert all(h.attention is not None for h in a) and all(h.attention is None for h in b)


def test_attention_ignores_source_padding_and_sums_to_one():
    model = _model()
    src, src_len = _src()
    _, attn = model.forward(src, src_len, torch.full((4, 5), decode.BOS), return_attention=True)
    torch.testing.assert_close(attn.sum(-1), torch.ones(attn.shape[:-1]))
    for i, n in enumerate(src_len.tolist()):
        assert torch.all(attn[i, ..., n:] == 0)


def test_beam_one_equals_greedy():
    model = _model()
    src, src_len = _src(b=4, seed=3)
    greedy = decode.greedy(model, src, src_len, max_len=15)
    beam = decode.beam_search(model, src, src_len, beam=1, alpha=0.0, max_len=15)
    for g, (b,) in zip(greedy, beam, strict=True):
        assert g.tokens == b.tokens
        assert g.logprob == pytest.approx(b.logprob, abs=1e-4)
        torch.testing.assert_close(g.attention, b.attention)


def test_beam_search_reorders_the_cache():
    """Beam search (which reorders the cache rows every step) finds hypotheses whose scores equal a
    teacher-forced rescoring of the same tokens."""
    model = _model()
    src, src_len = _src(b=2, seed=5)
    hyps = decode.beam_search(model, src, src_len, beam=4, n_best=4, alpha=0.0, max_len=10)
    for i, nbest in enumerate(hyps):
        for h in nbest:
            ended = h.attention.size(0) > len(h.tokens)  # produced </s> (else stopped at max_len)
            target = [*h.tokens, decode.EOS] if ended else h.tokens
            tgt_in = torch.tensor([[decode.BOS, *h.tokens][: len(target)]])
            with torch.no_grad():
                logits, _ = model(src[i : i + 1], src_len[i : i + 1], tgt_in)
            logp = logits.log_softmax(-1)[0].gather(1, torch.tensor(target)[:, None]).sum()
            assert float(logp) == pytest.approx(h.logprob, abs=1e-3)


def test_attention_maps_shapes():
    model = _model()
    src, src_len = _src()
    tgt = torch.full((4, 6), decode.BOS)
    maps = model.attention_maps(src, src_len, tgt)
    assert [m.shape for m in maps["encoder"]] == [(4, 4, 7, 7)] * 2
    assert [m.shape for m in maps["decoder"]] == [(4, 4, 6, 6)] * 2
    assert [m.shape for m in maps["cross"]] == [(4, 4, 6, 7)] * 2
    # decoder self-attention is causal
    assert torch.all(maps["decoder"][0].triu(1) == 0)


def test_tied_embeddings_and_presets():
    model = _model()
    assert model.out.weight is model.tgt_embed.embedding.weight
    base = TransformerSeq2SeqConfig(preset="base")
    assert (base.d_model, base.enc_layers, base.dec_layers, base.heads, base.d_ff) == (512, 6, 6, 8, 2048)
    small = TransformerSeq2SeqConfig()
    assert (small.d_model, small.layers, small.heads, small.d_ff, small.dropout) == (256, 2, 8, 512, 0.1)
    assert TransformerSeq2SeqConfig(preset="base", layers=3).enc_layers == 3  # explicit keys win


def test_gradients_reach_every_parameter():
    model = _model().train()
    src, src_len = _src()
    logits, _ = model(src, src_len, torch.randint(4, VOCAB_TGT, (4, 5)))
    logits.logsumexp(-1).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []
