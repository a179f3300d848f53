"""Lemmas and stems shrink the vocabulary of real reviews."""

from attnlab.classic.preprocess import preprocess


def _vocab(token_lists):
    return {t for tokens in token_lists for t in tokens}


def test_lemmas_and_stems_shrink_the_vocabulary(train_slice):
    texts = [t for t, _ in train_slice]
    raw = _vocab(preprocess(texts, steps=("clean", "tokenize")))
    no_stop = _vocab(preprocess(texts, steps=("clean", "tokenize", "stop")))
    lemma = _vocab(preprocess(texts, steps=("clean", "tokenize", "stop", "lemma")))
    stems = _vocab(preprocess(texts, steps=("clean", "tokenize", "stop", "stem")))
    assert len(raw) > 10_000
    assert len(no_stop) < len(raw)
    assert len(lemma) < len(no_stop) < len(raw)
    assert len(stems) < len(lemma)
    assert "br" not in raw
    assert "movie" in lemma and "movies" not in lemma
