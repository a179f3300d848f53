"""RNN encoder-decoders: shapes, the parallel teacher-forcing path, precomputed keys, and learning."""

import pytest
import torch

from attnlab.models.seq2seq import RNNSeq2Seq, RNNSeq2SeqConfig

VOCAB_SRC, VOCAB_TGT = 23, 19


def _batch(b=4, s=7, t=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, VOCAB_SRC, (b, s), generator=g)
    src_len = torch.tensor([s, s - 2, 3, s][:b])
    for i, n in enumerate(src_len):
        src[i, n:] = 0
    tgt = torch.randint(4, VOCAB_TGT, (b, t), generator=g)
    tgt[:, 0] = 2
    return src, src_len, tgt


def _model(**kw):
    torch.manual_seed(0)
    cfg = RNNSeq2SeqConfig(embed_dim=8, hidden=12, dropout=0.0, **kw)
    return RNNSeq2Seq(cfg, VOCAB_SRC, VOCAB_TGT).eval()


FAMILIES = [
    dict(attention="none", cell="lstm"),
    dict(attention="bahdanau"),
    dict(attention="bahdanau", bidirectional=True, deep_output=True),
    dict(attention="luong-dot"),
    dict(attention="luong-general", input_feeding=False),
    dict(attention="luong-concat", cell="lstm", layers=2),
]


@pytest.mark.parametrize("kw", FAMILIES, ids=lambda kw: "-".join(f"{v}" for v in kw.values()))
def test_teacher_forcing_equals_stepwise_decoding(kw):
    """forward() (one-shot or parallel) must give exactly the logits of stepping the decoder by hand."""
    model = _model(**kw)
    src, src_len, tgt = _batch()
    logits, attn = model(src, src_len, tgt)
    assert logits.shape == (4, tgt.size(1), VOCAB_TGT)
    state = model.start(src, src_len)
    for t in range(tgt.size(1)):
        step_logits, state, w = model.step(tgt[:, t], state)
        torch.testing.assert_close(step_logits, logits[:, t], rtol=1e-5, atol=1e-5)
        if attn is not None:
            torch.testing.assert_close(w, attn[:, t], rtol=1e-5, atol=1e-6)
    if kw["attention"] == "none":
        assert attn is None


def test_attention_ignores_padding_and_sums_to_one():
    model = _model(attention="bahdanau")
    src, src_len, tgt = _batch()
    _, attn = model(src, src_len, tgt)
    torch.testing.assert_close(attn.sum(-1), torch.ones(attn.shape[:2]))
    for i, n in enumerate(src_len.tolist()):
        assert torch.all(attn[i, :, n:] == 0)


def test_key_projection_is_computed_once_per_source_batch():
    model = _model(attention="bahdanau")
    calls = []
    model.attention.w_k.register_forward_hook(lambda *a: calls.append(1))
    src, src_len, tgt = _batch(t=9)
    model(src, src_len, tgt)
    assert len(calls) == 1  # not once per decoder step


def test_padding_does_not_change_the_encoding():
    """A sentence encodes the same alone as in a padded batch (packing works)."""
    model = _model(attention="bahdanau", bidirectional=True)
    src, src_len, tgt = _batch()
    logits, _ = model(src, src_len, tgt)
    n = int(src_len[2])
    alone, _ = model(src[2:3, :n], src_len[2:3], tgt[2:3])
    torch.testing.assert_close(alone[0], logits[2], rtol=1e-5, atol=1e-5)


def test_scheduled_sampling_uses_predictions():
    """teacher_forcing=0 in training feeds predictions, so logits differ from teacher forcing."""
    model = _model(attention="bahdanau", teacher_forcing=0.0)
    src, src_len, tgt = _batch()
    model.train()
    free, _ = model(src, src_len, tgt)
    model.cfg.teacher_forcing = 1.0
    forced, _ = model(src, src_len, tgt)
    torch.testing.assert_close(free[:, 0], forced[:, 0])  # first step has no prediction to feed yet
    assert not torch.allclose(free[:, 1:], forced[:, 1:])


def test_luong_dot_with_birnn_is_a_clear_error():
    with pytest.raises(ValueError, match="luong-dot"):
        _model(attention="luong-dot", bidirectional=True)


def test_gradients_reach_every_parameter():
    model = _model(attention="luong-concat", input_feeding=True, deep_output=True).train()
    src, src_len, tgt = _batch()
    logits, _ = model(src, src_len, tgt)
    logits.logsumexp(-1).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []
