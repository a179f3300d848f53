"""Skip-gram word2vec on a small real slice; vector files; embedding matrices."""

import numpy as np
import pytest

from attnlab.classic.preprocess import preprocess
from attnlab.classic.word2vec import (
    coverage,
    embedding_matrix,
    load_vectors,
    most_similar,
    save_vectors,
    train_word2vec,
)
from attnlab.errors import UserError


@pytest.fixture(scope="module")
def kv(train_slice):
    tokens = preprocess([t for t, _ in train_slice[:700]], steps=("clean", "tokenize", "stop"))
    return train_word2vec(tokens, min_count=5, epochs=2, workers=1, seed=0)


def test_most_similar_for_a_frequent_word(kv):
    assert kv.vector_size == 100
    hits = most_similar(kv, "movie", k=10)
    assert len(hits) == 10
    assert "movie" not in [w for w, _ in hits]
    sims = [s for _, s in hits]
    assert sims == sorted(sims, reverse=True) and -1.0 <= sims[-1] <= sims[0] <= 1.0


def test_unknown_word_is_a_user_error(kv):
    with pytest.raises(UserError, match="not in the vocabulary; try"):
        most_similar(kv, "movei")


def test_training_is_reproducible(train_slice):
    tokens = preprocess([t for t, _ in train_slice[:150]], steps=("clean", "tokenize"))
    a = train_word2vec(tokens, vector_size=16, min_count=3, epochs=1, seed=1)
    b = train_word2vec(tokens, vector_size=16, min_count=3, epochs=1, seed=1)
    assert a.index_to_key == b.index_to_key
    assert np.array_equal(a.vectors, b.vectors)


@pytest.mark.parametrize("name", ["vectors.txt", "vectors.bin"])
def test_vector_files_round_trip(kv, tmp_path, name):
    path = save_vectors(kv, tmp_path / name, binary=name.endswith(".bin"))
    loaded = load_vectors(path)
    assert loaded.index_to_key == kv.index_to_key
    np.testing.assert_allclose(loaded["movie"], kv["movie"], rtol=1e-5, atol=1e-6)
    with pytest.raises(UserError):
        load_vectors(tmp_path / "missing.txt")


def test_embedding_matrix_shape_and_pad_row(kv):
    vocab = ["<pad>", "<unk>", "<bos>", "<eos>", "movie", "film", "zzzunseenzzz"]
    w = embedding_matrix(kv, vocab, 100, seed=0)
    assert w.shape == (7, 100) and w.dtype == np.float32
    assert not w[0].any()
    np.testing.assert_array_equal(w[4], kv["movie"])
    assert 0 < np.abs(w[6]).max() < 1.0
    np.testing.assert_array_equal(w, embedding_matrix(kv, vocab, 100, seed=0))
    assert coverage(kv, vocab) == pytest.approx(2 / 6)
    with pytest.raises(UserError):
        embedding_matrix(kv, vocab, 64)
