"""Every normalised estimator gives a proper distribution for any context; perplexity stays finite."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attnlab.ngram import NGramLM

NORMALISED = ["kneser-ney", "modified-kneser-ney", "mle", "add-k", "katz"]
SMOOTHED = ["kneser-ney", "modified-kneser-ney", "add-k", "katz"]


@pytest.fixture(scope="module")
def nietzsche(data_root):
    lines = (data_root / "nietzsche" / "nietzsche.txt").read_text(encoding="utf-8").splitlines()
    sents = [ln.lower().split() for ln in lines if ln.strip()]
    return sents[:1500], sents[1500:1800]


def random_contexts(lm, train, rng, n):
    """Seen contexts (from training), random vocabulary ones, unseen words, <unk>, short ones."""
    vocab = lm.vocab.tokens[1:]  # no <pad>
    h = lm.order - 1
    out = []
    for i in range(n):
        kind = i % 5
        if kind == 0:
            s = ["<s>"] * h + list(train[rng.integers(len(train))])
            j = rng.integers(h, len(s) + 1)
            ctx = tuple(s[j - h : j])
        elif kind == 1:
            ctx = tuple(vocab[k] for k in rng.integers(len(vocab), size=h))
        elif kind == 2:
            ctx = tuple(rng.choice(["zzz-unseen", "<unk>", vocab[rng.integers(len(vocab))]], size=h))
        elif kind == 3:
            ctx = ("<unk>",) * h
        else:
            ctx = tuple(vocab[k] for k in rng.integers(len(vocab), size=rng.integers(0, h + 1)))
        out.append(tuple(str(t) for t in ctx))
    return out


@pytest.mark.parametrize("smoothing", NORMALISED)
@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("min_count", [1, 2])
def test_next_distribution_sums_to_one(nietzsche, smoothing, order, min_count):
    train, _ = nietzsche
    lm = NGramLM(order, smoothing, min_count=min_count).fit(train)
    rng = np.random.default_rng(order * 10 + min_count)
    pad, bos = lm.vocab.index["<pad>"], lm.vocab.index["<s>"]
    for ctx in random_contexts(lm, train, rng, 40):
        p = lm.next_distribution(ctx)
        assert p.shape == (len(lm.vocab),)
        assert abs(p.sum() - 1.0) < 1e-9, (ctx, p.sum())
        assert p.min() >= 0 and p[pad] == 0 and p[bos] == 0
        if smoothing != "mle":
            assert p[lm.vocab.index["<unk>"]] > 0 and p[lm.vocab.index["</s>"]] > 0
        # The scalar path agrees with the dense one.
        for w in ("<unk>", "</s>", lm.vocab.tokens[4], lm.vocab.tokens[-1]):
            assert lm.prob(w, ctx) == pytest.approx(p[lm.vocab.index[w]], rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("smoothing", NORMALISED)
def test_character_model_sums_to_one(nietzsche, smoothing):
    train = [list(" ".join(s)) for s in nietzsche[0][:300]]
    lm = NGramLM(5, smoothing).fit(train)
    for ctx in random_contexts(lm, train, np.random.default_rng(1), 30):
        assert abs(lm.next_distribution(ctx).sum() - 1.0) < 1e-9


token = st.sampled_from(list("abcde") + ["x y", "é"])


@settings(max_examples=40, deadline=None)
@given(
    sents=st.lists(st.lists(token, max_size=6), min_size=1, max_size=6).filter(lambda s: any(s)),
    order=st.integers(1, 4),
    smoothing=st.sampled_from(NORMALISED),
    ctx=st.lists(st.sampled_from(list("abcdefz") + ["<s>", "<unk>"]), max_size=4),
)
def test_tiny_random_corpora_stay_normalised(sents, order, smoothing, ctx):
    """Tiny corpora push every discount estimate into its fallback; the distribution stays proper."""
    lm = NGramLM(order, smoothing).fit(sents)
    p = lm.next_distribution(tuple(ctx))
    assert abs(p.sum() - 1.0) < 1e-9
    assert p.min() >= 0


@pytest.mark.parametrize("smoothing", SMOOTHED)
@pytest.mark.parametrize("order", [1, 3])
def test_perplexity_finite_on_unseen_text(nietzsche, smoothing, order):
    train, test = nietzsche
    lm = NGramLM(order, smoothing).fit(train)
    test = [*test, ["never-seen", "words", "zzz"], ["<unk>", "the"]]
    report = lm.evaluate(test)
    assert report.n_oov > 0 and report.n_zero == 0
    assert math.isfinite(report.perplexity) and report.perplexity > 1
    # The vectorised corpus path equals the product of per-factor scalar queries.
    s = lm.score_sentence(test[-2])
    assert s.log_prob == pytest.approx(
        sum(math.log(lm.prob(f.word, f.context)) for f in s.factors), rel=1e-12
    )


def test_mle_perplexity_is_inf_and_says_why(nietzsche):
    train, test = nietzsche
    lm = NGramLM(2, "mle").fit(train)
    report = lm.evaluate(test)
    assert report.perplexity == math.inf and report.n_zero > 0
    assert "infinite" in str(report) and "mle" in str(report)
    assert lm.perplexity(train[:50]) < math.inf  # training text has no unseen n-grams


def test_perplexity_matches_sentence_scores(nietzsche):
    train, test = nietzsche
    lm = NGramLM(3, "modified-kneser-ney").fit(train)
    scores = [lm.score_sentence(s) for s in test[:20]]
    n = sum(len(s.factors) for s in scores)
    assert n == sum(len(s) + 1 for s in test[:20])  # every word and one </s> per sentence
    expected = math.exp(-sum(s.log_prob for s in scores) / n)
    assert lm.perplexity(test[:20]) == pytest.approx(expected, rel=1e-10)


def test_kneser_ney_beats_add_one(nietzsche):
    train, test = nietzsche
    ppl = {
        sm: NGramLM(3, sm).fit(train).perplexity(test)
        for sm in ["kneser-ney", "modified-kneser-ney", "add-k"]
    }
    assert ppl["modified-kneser-ney"] < ppl["add-k"] and ppl["kneser-ney"] < ppl["add-k"]
