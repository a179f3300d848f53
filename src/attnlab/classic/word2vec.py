"""Skip-gram word2vec (gensim) on tokenised reviews, and embedding matrices built from it.

`train_word2vec` returns gensim `KeyedVectors`; `most_similar` wraps gensim's with a `UserError` for
unknown words; vectors are saved and loaded in the word2vec text/binary format only (gensim's native
format is pickle). `embedding_matrix` turns vectors into the (V, D) initial weights of any
classifier's embedding layer, row 0 (``<pad>``) zero.
"""

from __future__ import annotations

import difflib
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from gensim.models import KeyedVectors, Word2Vec

from attnlab.errors import UserError


def _stable_hash(text: str) -> int:
    """Process-independent replacement for `hash` (gensim seeds each word's vector with it)."""
    return zlib.crc32(text.encode("utf-8"))


def train_word2vec(
    token_lists: Sequence[Sequence[str]],
    *,
    vector_size: int = 100,
    window: int = 5,
    negative: int = 10,
    min_count: int = 5,
    epochs: int = 5,
    workers: int = 1,
    seed: int = 0,
) -> KeyedVectors:
    """Train skip-gram (sg=1, negative sampling) vectors on lists of tokens.

    With ``workers=1`` the result is the same on every run (seeded, stable word hashing); more workers
    are faster but thread scheduling makes the vectors differ slightly between runs.
    """
    sentences = [list(t) for t in token_lists if len(t) > 0]
    if not sentences:
        raise UserError("word2vec got no tokens; give it non-empty tokenised reviews")
    if workers < 1:
        raise UserError(f"workers must be at least 1, got {workers}")
    model = Word2Vec(
        sentences=sentences,
        sg=1,
        vector_size=vector_size,
        window=window,
        negative=negative,
        min_count=min_count,
        epochs=epochs,
        workers=workers,
        seed=seed,
        hashfxn=_stable_hash,
    )
    if len(model.wv) == 0:
        raise UserError(f"no word occurs {min_count} times; lower min_count or give more text")
    return model.wv


def _suggestions(kv: KeyedVectors, word: str, n: int = 3) -> list[str]:
    close = difflib.get_close_matches(word, kv.index_to_key[:50_000], n=n, cutoff=0.7)
    return close or list(kv.index_to_key[:n])


def most_similar(kv: KeyedVectors, word: str, k: int = 10) -> list[tuple[str, float]]:
    """The ``k`` nearest words by cosine similarity, as (word, similarity), nearest first."""
    if k < 1:
        raise UserError(f"k must be at least 1, got {k}")
    if word not in kv.key_to_index:
        hint = ", ".join(repr(w) for w in _suggestions(kv, word))
        raise UserError(f"word {word!r} is not in the vocabulary; try {hint}")
    return [(w, float(s)) for w, s in kv.most_similar(word, topn=k)]


def save_vectors(kv: KeyedVectors, path: str | Path, binary: bool = False) -> Path:
    """Write vectors in word2vec format (text unless ``binary``); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kv.save_word2vec_format(str(path), binary=binary)
    return path


def load_vectors(path: str | Path, binary: bool | None = None) -> KeyedVectors:
    """Read word2vec-format vectors; ``binary=None`` means binary for a ``.bin`` file, text otherwise."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"word vectors {path} not found; check the path or train them first")
    if binary is None:
        binary = path.suffix == ".bin"
    try:
        return KeyedVectors.load_word2vec_format(str(path), binary=binary)
    except (ValueError, UnicodeDecodeError, EOFError) as err:
        kind = "binary" if binary else "text"
        raise UserError(f"{path} is not a {kind} word2vec file ({err}); check the file or `binary`") from err


def embedding_matrix(
    kv: KeyedVectors,
    vocab_tokens: Sequence[str],
    dim: int | None = None,
    *,
    seed: int = 0,
    scale: float = 0.1,
) -> np.ndarray:
    """A (V, dim) float32 matrix for a vocabulary whose i-th token is ``vocab_tokens[i]``.

    Rows of words ``kv`` knows are their vectors; the others (specials, rare words) are small seeded
    normal noise with std ``scale``; row 0 is the padding token and is all zeros.
    """
    dim = kv.vector_size if dim is None else int(dim)
    if dim != kv.vector_size:
        raise UserError(
            f"embedding dim {dim} differs from the vectors' size {kv.vector_size}; use {kv.vector_size}"
        )
    if len(vocab_tokens) == 0:
        raise UserError("the vocabulary is empty; build it before the embedding matrix")
    rng = np.random.default_rng(seed)
    weights = rng.normal(0.0, scale, size=(len(vocab_tokens), dim)).astype(np.float32)
    for i, token in enumerate(vocab_tokens):
        j = kv.key_to_index.get(token)
        if j is not None:
            weights[i] = kv.vectors[j]
    weights[0] = 0.0
    return weights


def coverage(kv: KeyedVectors, vocab_tokens: Sequence[str]) -> float:
    """Share of ``vocab_tokens`` (row 0 excluded) that have a pretrained vector."""
    tokens = list(vocab_tokens)[1:]
    return sum(t in kv.key_to_index for t in tokens) / max(len(tokens), 1)
