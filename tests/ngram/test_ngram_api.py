"""Errors, persistence, generation and sentence scoring of `NGramLM`."""

import json
import math

import numpy as np
import pytest

from attnlab.errors import UserError
from attnlab.ngram import SMOOTHINGS, NGramLM

SAM = [s.split() for s in ["I am Sam", "Sam I am", "I do not like green eggs and ham"]]


@pytest.fixture(scope="module")
def shakespeare(data_root):
    lines = (data_root / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8").splitlines()
    return [ln.lower().split() for ln in lines[:3000] if ln.strip()]


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"order": 0}, "order must be an integer >= 1"),
        ({"order": -2}, "order"),
        (
            {"smoothing": "good-turing"},
            "choose one of: kneser-ney, modified-kneser-ney, mle, add-k, katz, stupid-backoff",
        ),
        ({"k": 0}, "k must be > 0"),
        ({"k": -1.0}, "k must be > 0"),
        ({"min_count": 0}, "min_count"),
        ({"smoothing": "kneser-ney", "discount": 1.5}, r"\(0, 1\]"),
        ({"smoothing": "modified-kneser-ney", "discount": (0.5, 0.5)}, "D1, D2, D3"),
        ({"smoothing": "mle", "discount": 0.5}, "only to kneser-ney"),
    ],
)
def test_bad_settings_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NGramLM(**kwargs)


def test_unknown_smoothing_lists_every_choice():
    with pytest.raises(ValueError) as err:
        NGramLM(3, "witten-bell")
    assert all(name in str(err.value) for name in SMOOTHINGS)


@pytest.mark.parametrize("data", [[], [[]], [[], []]])
def test_empty_training_data_is_a_user_error(data):
    with pytest.raises(UserError, match="no training data"):
        NGramLM(2).fit(data)


def test_strings_and_reserved_tokens_are_user_errors():
    with pytest.raises(UserError, match="not strings"):
        NGramLM(2).fit(["I am Sam"])
    with pytest.raises(UserError, match="reserved"):
        NGramLM(2).fit([["<s>", "I"]])
    lm = NGramLM(2).fit(SAM)
    with pytest.raises(UserError, match="reserved"):
        lm.score_sentence(["I", "</s>"])


def test_unfitted_model_is_a_bug_not_a_user_error():
    with pytest.raises(RuntimeError, match="not fitted"):
        NGramLM(2).prob("I")


def test_stupid_backoff_has_no_perplexity():
    with pytest.raises(ValueError, match="not probabilities"):
        NGramLM(2, "stupid-backoff").fit(SAM).perplexity(SAM)


# -- vocabulary, scoring --------------------------------------------------------------------------
def test_min_count_maps_rare_words_to_unk():
    lm = NGramLM(2, "kneser-ney", min_count=2).fit(SAM)
    assert set(lm.vocab.tokens[4:]) == {"I", "am", "Sam"}
    assert lm.prob("ham", ("I",)) == lm.prob("<unk>", ("I",)) == lm.prob("zebra", ("I",))
    assert lm.prob("am", ("<unk>",)) == lm.prob("am", ("green",))  # contexts map too
    # "do" -> <unk>, so (I <unk>) is a seen bigram
    assert lm.prob("<unk>", ("I",)) > lm.prob("Sam", ("I",))


def test_score_sentence_factors():
    lm = NGramLM(3, "kneser-ney", discount=0.75).fit(SAM)
    factors, log_prob = lm.score_sentence(["I", "am", "a", "student"])
    assert [f.word for f in factors] == ["I", "am", "<unk>", "<unk>", "</s>"]
    assert factors[0].context == ("<s>", "<s>") and factors[1].context == ("<s>", "I")
    assert str(factors[1]).startswith("P(am | <s> I) = ")
    assert factors[1].prob == lm.prob("am", ("<s>", "I"))
    assert log_prob == pytest.approx(sum(math.log(f.prob) for f in factors))


def test_logprob_is_natural_log_and_minus_inf_for_zero():
    lm = NGramLM(2, "mle").fit(SAM)
    assert lm.logprob("am", ("I",)) == pytest.approx(math.log(2 / 3))
    assert lm.logprob("ham", ("I",)) == -math.inf


def test_context_longer_than_order_uses_its_tail():
    lm = NGramLM(2, "kneser-ney").fit(SAM)
    assert lm.prob("am", ("whatever", "Sam", "I")) == lm.prob("am", ("I",))
    with pytest.raises(TypeError):
        lm.prob("am", "I")


# -- generation ------------------------------------------------------------------------------------
def test_generation_is_reproducible_by_seed(shakespeare):
    lm = NGramLM(3, "kneser-ney").fit(shakespeare)
    a = lm.generate(30, seed=7)
    assert a == lm.generate(30, seed=7)
    assert any(lm.generate(30, seed=s) != a for s in range(1, 5))
    assert len(lm.generate(5, seed=1)) <= 5
    assert lm.generate(0, seed=1) == []


def test_zero_temperature_is_argmax(shakespeare):
    lm = NGramLM(3, "katz").fit(shakespeare)
    greedy = lm.generate(15, temperature=0, prompt=["first"])
    ctx, manual = ["<s>", "first"], []
    for _ in range(15):
        nxt = lm.vocab.tokens[int(np.argmax(lm.next_distribution(tuple(ctx[-2:]))))]
        if nxt == "</s>":
            break
        manual.append(nxt)
        ctx.append(nxt)
    assert greedy == manual
    assert lm.generate(15, temperature=1e-4, seed=3, prompt=["first"]) == greedy


def test_generation_until_end_of_sentence_and_characters(shakespeare):
    lm = NGramLM(6, "modified-kneser-ney").fit([list(" ".join(s)) for s in shakespeare])
    text = lm.generate(seed=0, prompt=list("the "))
    assert 0 < len(text) < 10_000 and "</s>" not in text and all(len(c) == 1 for c in text)


# -- persistence -----------------------------------------------------------------------------------
@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_save_load_round_trip(tmp_path, shakespeare, smoothing):
    kw = {"discount": (0.5, 1.0, 1.5)} if smoothing == "modified-kneser-ney" else {}
    lm = NGramLM(3, smoothing, min_count=2, **kw).fit(shakespeare[:500])
    json.dumps(lm.to_dict())  # JSON-serialisable as is
    path = lm.save(tmp_path / "run" / "ngram.json")
    assert sorted(p.name for p in path.parent.iterdir()) == ["ngram.json"]  # no temp file left
    back = NGramLM.load(path)
    assert back.vocab.tokens == lm.vocab.tokens and repr(back) == repr(lm)
    for ctx in [("<s>", "<s>"), ("to", "be"), ("zzz", "<unk>"), ()]:
        np.testing.assert_array_equal(back.next_distribution(ctx), lm.next_distribution(ctx))
    assert NGramLM.from_dict(json.loads(path.read_text())).discounts == lm.discounts


def test_load_errors_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        NGramLM.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        NGramLM.load(bad)
    bad.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(UserError, match="not an attnlab n-gram model"):
        NGramLM.load(bad)
    data = NGramLM(2).fit(SAM).to_dict()
    data["ngrams"][0][0] = 999
    bad.write_text(json.dumps(data))
    with pytest.raises(UserError, match="out of range"):
        NGramLM.load(bad)
    del data["counts"]
    with pytest.raises(UserError, match="corrupt"):
        NGramLM.from_dict(data)
