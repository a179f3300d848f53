"""Search: greedy, beam and sampling against brute force and teacher-forced rescoring."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from attnlab import decode
from attnlab.decode import BOS, EOS, beam_search, filter_logits, greedy, length_penalty, sample, sample_next
from attnlab.models.seq2seq import RNNSeq2Seq, RNNSeq2SeqConfig


class Markov:
    """A deterministic fake model: logits depend on (sentence's first source id, step, previous token)."""

    def __init__(self, vocab=6, steps=12, sources=4, seed=0, sharp=2.0):
        g = torch.Generator().manual_seed(seed)
        self.table = torch.randn(sources, steps, vocab, vocab, generator=g) * sharp
        self.vocab = vocab

    def start(self, src, src_len):
        return {"id": src[:, 0].clone(), "t": torch.zeros(src.size(0), dtype=torch.long)}

    def step(self, tokens, state, attention=True):
        t = state["t"].clamp(max=self.table.size(1) - 1)
        logits = self.table[state["id"], t, tokens]
        attn = F.one_hot(t % 3, 3).float()  # something per step, to check attention bookkeeping
        return logits, {"id": state["id"], "t": state["t"] + 1}, attn if attention else None

    @staticmethod
    def reorder_state(state, index):
        return {k: v.index_select(0, index) for k, v in state.items()}


def _src(ids, lengths=None):
    src = torch.tensor([[i, 5, 5] for i in ids])
    return src, torch.tensor(lengths or [3] * len(ids))


@torch.no_grad()
def _rescore(model, src, src_len, tokens, with_eos):
    """Teacher-force `tokens` (+ </s>) through the model one step at a time; sum of log-probabilities."""
    state = model.start(src, src_len)
    prev, total = torch.tensor([BOS]), 0.0
    for tok in [*tokens, EOS] if with_eos else tokens:
        logits, state, _ = model.step(prev, state)
        total += float(F.log_softmax(logits.float(), -1)[0, tok])
        prev = torch.tensor([tok])
    return total


def _tiny_rnn(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = RNNSeq2SeqConfig(embed_dim=8, hidden=12, dropout=0.0, **kw)
    return RNNSeq2Seq(cfg, 13, 9).eval()


def _rnn_src():
    torch.manual_seed(1)
    src = torch.randint(4, 13, (3, 5))
    src_len = torch.tensor([5, 3, 4])
    src[1, 3:] = 0
    src[2, 4:] = 0
    return src, src_len


LIMIT = dict(max_len_ratio=0.0, max_len_offset=6)


# ----------------------------------------------------------------------------------- greedy vs beam


@pytest.mark.parametrize("seed", range(6))
def test_beam_one_equals_greedy_on_markov(seed):
    model = Markov(seed=seed)
    src, src_len = _src([0, 1, 2, 3])
    g = greedy(model, src, src_len, **LIMIT)
    b = beam_search(model, src, src_len, beam=1, alpha=0.0, **LIMIT)
    for gh, (bh,) in zip(g, b, strict=True):
        assert gh.tokens == bh.tokens
        assert gh.score == pytest.approx(bh.score, abs=1e-5) and gh.logprob == pytest.approx(
            bh.logprob, abs=1e-5
        )
        assert gh.attention.shape == bh.attention.shape and torch.equal(gh.attention, bh.attention)
    # With a length penalty only the score's normalisation differs, not the search.
    b6 = beam_search(model, src, src_len, beam=1, alpha=0.6, **LIMIT)
    assert [h[0].tokens for h in b6] == [h.tokens for h in g]


def test_beam_one_equals_greedy_on_rnn():
    model = _tiny_rnn()
    src, src_len = _rnn_src()
    g = greedy(model, src, src_len, max_len=8)
    b = beam_search(model, src, src_len, beam=1, alpha=0.0, max_len=8)
    for gh, (bh,) in zip(g, b, strict=True):
        assert gh.tokens == bh.tokens
        assert gh.score == pytest.approx(bh.score, abs=1e-4)
        assert gh.attention.shape == bh.attention.shape


# ---------------------------------------------------------------------------- scores are what they say


def _check_scores(model, src, src_len, hyps_per_sentence, limits, alpha, tol):
    for b, hyps in enumerate(hyps_per_sentence):
        for h in hyps:
            with_eos = len(h.tokens) < limits[b]  # a hypothesis without </s> used up its length limit
            assert len(h.tokens) <= limits[b]
            expected = _rescore(model, src[b : b + 1], src_len[b : b + 1], h.tokens, with_eos)
            assert h.logprob == pytest.approx(expected, abs=tol)
            length = len(h.tokens) + with_eos
            assert h.score == pytest.approx(h.logprob / ((5 + length) / 6) ** alpha, abs=tol)
            if h.attention is not None:
                assert h.attention.size(0) == length


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
def test_beam_logprob_and_score_are_recomputable_markov(alpha):
    model = Markov(seed=3, sharp=1.0)
    src, src_len = _src([0, 1, 2, 3], [1, 2, 3, 3])
    kw = dict(max_len_ratio=2.0, max_len_offset=0)
    limits = decode.max_lengths(src_len, 2.0, 0, 256)
    out = beam_search(model, src, src_len, beam=4, n_best=4, alpha=alpha, **kw)
    assert any(len(h.tokens) == limits[b] for b, hs in enumerate(out) for h in hs)  # some hit the limit
    _check_scores(model, src, src_len, out, limits, alpha, 1e-5)
    _check_scores(model, src, src_len, [[h] for h in greedy(model, src, src_len, **kw)], limits, 0.0, 1e-5)


@pytest.mark.parametrize("attention", ["bahdanau", "luong-general", "none"])
def test_beam_logprob_and_score_are_recomputable_rnn(attention):
    model = _tiny_rnn(attention=attention)
    src, src_len = _rnn_src()
    limits = decode.max_lengths(src_len, 2.0, 10, 7)
    out = beam_search(model, src, src_len, beam=3, n_best=3, alpha=0.6, max_len=7)
    _check_scores(model, src, src_len, out, limits, 0.6, 1e-4)
    _check_scores(
        model, src, src_len, [[h] for h in greedy(model, src, src_len, max_len=7)], limits, 0.0, 1e-4
    )


def test_length_penalty_formula():
    assert length_penalty(1, 0.0) == 1.0
    assert length_penalty(7, 1.0) == pytest.approx(2.0)
    assert length_penalty(3, 0.5) == pytest.approx(math.sqrt(8 / 6))


# ------------------------------------------------------------------------------------ search quality


def _all_hypotheses(model, src, src_len, vocab, limit, alpha):
    """Brute force: every sequence ending in </s> within `limit` steps, and every one of length `limit`."""
    out = []
    for n in range(limit + 1):
        for toks in itertools.product([v for v in range(vocab) if v != EOS], repeat=n):
            with_eos = n < limit  # a sequence of `limit` tokens ran out of room before </s>
            lp = _rescore(model, src, src_len, list(toks), with_eos)
            out.append((lp / length_penalty(n + with_eos, alpha), list(toks)))
    return out


@pytest.mark.parametrize("alpha", [0.0, 0.8])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_huge_beam_finds_the_exhaustive_best(seed, alpha):
    vocab, limit = 5, 3
    model = Markov(vocab=vocab, seed=seed, sharp=1.5)
    src, src_len = _src([seed % 4])
    kw = dict(max_len_ratio=0.0, max_len_offset=limit)
    best_score, best_tokens = max(_all_hypotheses(model, src, src_len, vocab, limit, alpha))
    ((hyp,),) = beam_search(model, src, src_len, beam=vocab**limit, alpha=alpha, **kw)
    assert hyp.score == pytest.approx(best_score, abs=1e-5)
    assert hyp.tokens == best_tokens


@pytest.mark.parametrize("seed", range(20))
def test_wider_beam_is_not_worse_than_greedy_on_markov(seed):
    model = Markov(vocab=6, seed=seed, sharp=1.5)
    src, src_len = _src([0, 1, 2, 3])
    greedy_scores = [h.score for h in greedy(model, src, src_len, **LIMIT)]
    for k in (2, 4, 8):
        for g, (h,) in zip(
            greedy_scores, beam_search(model, src, src_len, beam=k, alpha=0.0, **LIMIT), strict=True
        ):
            assert h.score >= g - 1e-6, (k, h, g)


def test_n_best_distinct_and_sorted():
    model = Markov(seed=4, sharp=1.0)
    src, src_len = _src([0, 1, 2, 3])
    for hyps in beam_search(model, src, src_len, beam=5, n_best=5, alpha=0.6, **LIMIT):
        assert len(hyps) == 5
        assert len({tuple(h.tokens) for h in hyps}) == 5
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
    with pytest.raises(ValueError):
        beam_search(model, src, src_len, beam=2, n_best=3)


def test_batched_beam_equals_one_sentence_at_a_time_markov():
    model = Markov(seed=5, sharp=1.0)
    src, src_len = _src([0, 1, 2, 3], [1, 3, 2, 3])  # different length limits per sentence
    kw = dict(beam=3, n_best=3, alpha=0.6, max_len_ratio=2.0, max_len_offset=1)
    batched = beam_search(model, src, src_len, **kw)
    for b in range(4):
        (alone,) = beam_search(model, src[b : b + 1], src_len[b : b + 1], **kw)
        assert [h.tokens for h in alone] == [h.tokens for h in batched[b]]
        assert [h.score for h in alone] == pytest.approx([h.score for h in batched[b]], abs=1e-6)
        assert all(torch.equal(a.attention, c.attention) for a, c in zip(alone, batched[b], strict=True))


def test_batched_beam_equals_one_sentence_at_a_time_rnn():
    model = _tiny_rnn(attention="bahdanau")
    src, src_len = _rnn_src()
    kw = dict(beam=3, n_best=2, alpha=0.6, max_len=9)
    batched = beam_search(model, src, src_len, **kw)
    for b in range(3):
        n = int(src_len[b])
        (alone,) = beam_search(model, src[b : b + 1, :n], src_len[b : b + 1], **kw)
        assert [h.tokens for h in alone] == [h.tokens for h in batched[b]]
        assert [h.score for h in alone] == pytest.approx([h.score for h in batched[b]], abs=1e-4)
        assert [h.attention.shape for h in alone] == [(h.attention.size(0), n) for h in batched[b]]


# ------------------------------------------------------------------------------------------- sampling


def test_sampling_at_tiny_temperature_is_argmax():
    torch.manual_seed(0)
    logits = torch.randn(64, 20) * 3
    assert torch.equal(sample_next(logits, temperature=1e-6), logits.argmax(-1))
    assert torch.equal(sample_next(logits, temperature=1e-3), logits.argmax(-1))
    with pytest.raises(ValueError):
        sample_next(logits, temperature=0.0)
    model = Markov(seed=1)
    src, src_len = _src([0, 1, 2, 3])
    cold = sample(model, src, src_len, temperature=1e-5, **LIMIT)
    assert [h.tokens for h in cold] == [h.tokens for h in greedy(model, src, src_len, **LIMIT)]


def test_sampling_is_reproducible_with_a_seed():
    model = Markov(seed=1, sharp=0.5)
    src, src_len = _src([0, 1, 2, 3])
    a = sample(model, src, src_len, seed=7, top_p=0.9, **LIMIT)
    b = sample(model, src, src_len, seed=7, top_p=0.9, **LIMIT)
    assert [h.tokens for h in a] == [h.tokens for h in b]
    _check_scores(model, src, src_len, [[h] for h in a], [6] * 4, 0.0, 1e-5)


def _allowed(row: torch.Tensor, top_k, top_p) -> set[int]:
    """The tokens top-k then top-p may keep, computed independently (logits are distinct)."""
    order = sorted(range(len(row)), key=lambda i: -float(row[i]))
    if top_k is not None and 0 < top_k < len(row):
        order = order[:top_k]
    if top_p is None or not 0 < top_p < 1:
        return set(order)
    probs = torch.softmax(row[order].double(), 0).tolist()
    kept, mass = [], 0.0
    for i, p in zip(order, probs, strict=True):
        kept.append(i)
        mass += p
        if mass >= top_p - 1e-9:
            break
    return set(kept)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(-8, 8, allow_nan=False, width=32), min_size=2, max_size=12, unique=True),
    top_k=st.one_of(st.none(), st.integers(0, 14)),
    top_p=st.one_of(st.none(), st.floats(0.05, 1.0)),
    temperature=st.floats(0.2, 3.0),
    seed=st.integers(0, 2**16),
)
def test_top_k_top_p_never_emit_outside_the_allowed_set(values, top_k, top_p, temperature, seed):
    logits = torch.tensor(values, dtype=torch.float32)
    if len(set((logits / temperature).tolist())) < len(values):
        return
    filtered = filter_logits(logits[None] / temperature, top_k=top_k, top_p=top_p)[0]
    kept = set(torch.isfinite(filtered).nonzero().flatten().tolist())
    assert kept, "filter_logits must keep at least one token"
    assert int(logits.argmax()) in kept
    allowed = _allowed(logits / temperature, top_k, top_p)
    # Boundary round-off aside, the kept set is the independently computed one.
    assert allowed <= kept | allowed and kept <= allowed | _allowed(
        logits / temperature, top_k, min(1.0, (top_p or 1) + 1e-5)
    )
    g = torch.Generator().manual_seed(seed)
    draws = sample_next(
        logits[None].expand(200, -1), temperature=temperature, top_k=top_k, top_p=top_p, generator=g
    )
    assert set(draws.tolist()) <= kept


@given(st.integers(1, 50), st.floats(1e-6, 1.0))
@settings(max_examples=30, deadline=None)
def test_filter_logits_keeps_at_least_one(k, p):
    torch.manual_seed(k)
    logits = torch.randn(3, 50) * 20
    logits[1] = 0.0  # all tied
    logits[2, 0] = 1e4  # one token with all the mass
    out = filter_logits(logits, top_k=k, top_p=p)
    assert bool(torch.isfinite(out).any(-1).all())
    assert torch.equal(out[[0, 2]].argmax(-1), logits[[0, 2]].argmax(-1))  # row 1 is all ties


def test_translation_recipes_set_the_output_length_ratio(tmp_path):
    """data.max_output_ratio reaches the search (decode.max_lengths); a bad value is a one-line error."""
    from attnlab.errors import UserError
    from attnlab.recipe import build_recipe
    from attnlab.tasks.translation import TranslationTask

    raw = {"task": "translation", "data": {"max_output_ratio": 0.5}, "model": {"arch": "rnn"}}
    task = TranslationTask(build_recipe(raw), tmp_path)
    limits = task.search_limits()
    assert limits == {"max_len_ratio": 0.5}
    assert decode.max_lengths(torch.tensor([4, 20]), limits["max_len_ratio"], 10, 1000) == [12, 20]
    with pytest.raises(UserError, match="max_output_ratio"):
        build_recipe({**raw, "data": {"max_output_ratio": float("nan")}})
