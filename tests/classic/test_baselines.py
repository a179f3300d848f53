"""Bag-of-words baselines on a real IMDB slice: accuracy, persistence without pickle, similar reviews."""

import json

import numpy as np
import pytest

from attnlab.classic.baselines import ClassicModel
from attnlab.errors import UserError


def _split(pairs):
    texts, labels = zip(*pairs, strict=True)
    return list(texts), list(labels)


@pytest.fixture(scope="module")
def bigram_lr(train_slice):
    texts, labels = _split(train_slice)
    return ClassicModel("tfidf_bigram", "lr").fit(texts, labels)


def test_tfidf_lr_beats_75_percent_on_held_reviews(bigram_lr, held_slice):
    texts, labels = _split(held_slice)
    result = bigram_lr.evaluate(texts, labels)
    assert result["n"] == 500
    assert result["accuracy"] > 0.75
    assert 0.7 < result["f1"] <= 1.0
    assert "negative" in result["report"] and "positive" in result["report"]
    proba = bigram_lr.predict_proba(texts[:5])
    assert proba.shape == (5, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize(
    ("features", "classifier"), [("tfidf_bigram", "lr"), ("count1k", "lgbm"), ("tfidf1k", "lgbm")]
)
def test_save_load_round_trip_gives_identical_probabilities(
    features, classifier, train_slice, held_slice, tmp_path
):
    texts, labels = _split(train_slice[:800])
    model = ClassicModel(features, classifier, n_rounds=40).fit(texts, labels)
    model.save(tmp_path)
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*.pickle"))
    meta = json.loads((tmp_path / "model.json").read_text())
    assert (meta["features"], meta["classifier"]) == (features, classifier)
    if classifier == "lgbm":
        assert (tmp_path / "lightgbm.txt").read_text().startswith("tree")
    loaded = ClassicModel.load(tmp_path)
    held, _ = _split(held_slice[:100])
    assert np.array_equal(model.predict_proba(held), loaded.predict_proba(held))
    assert loaded.similar(texts[7], k=3) == model.similar(texts[7], k=3)


def test_lightgbm_is_deterministic(train_slice, held_slice):
    texts, labels = _split(train_slice[:600])
    held, _ = _split(held_slice[:50])
    a = ClassicModel("tfidf1k", "lgbm", n_rounds=30, seed=3).fit(texts, labels).predict_proba(held)
    b = ClassicModel("tfidf1k", "lgbm", n_rounds=30, seed=3).fit(texts, labels).predict_proba(held)
    assert np.array_equal(a, b)


def test_similar_returns_the_review_itself_first(bigram_lr, train_slice):
    texts, _ = _split(train_slice)
    i = next(j for j in range(20, 2000) if texts.count(texts[j]) == 1)
    hits = bigram_lr.similar(texts[i], k=5)
    assert len(hits) == 5
    assert hits[0][0] == i and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    sims = [s for _, s, _ in hits]
    assert sims == sorted(sims, reverse=True)
    assert all(isinstance(snippet, str) and snippet for _, _, snippet in hits)


def test_user_errors(bigram_lr, tmp_path):
    with pytest.raises(UserError):
        ClassicModel("tfidf3k")
    with pytest.raises(UserError):
        ClassicModel(classifier="svm")
    with pytest.raises(UserError):
        bigram_lr.predict_proba([])
    with pytest.raises(UserError):
        bigram_lr.predict_proba(["fine", "   "])
    with pytest.raises(UserError):
        bigram_lr.similar("")
    with pytest.raises(UserError):
        ClassicModel().fit(["good", "bad"], [1, 2])
    with pytest.raises(UserError):
        ClassicModel().predict(["good"])
    with pytest.raises(UserError):
        ClassicModel.load(tmp_path / "nowhere")
