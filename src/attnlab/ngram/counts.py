"""Vocabulary and n-gram count tables, stored as sorted integer keys (no dict per n-gram).

Padding. A sentence ``w_1 … w_m`` of an order-``n`` model is padded to ``<s>^{n-1} w_1 … w_m </s>``
and every *predicted* position ``i`` (the words and the final ``</s>``, never a ``<s>``) gives one event:
the word ``w_i`` with its context ``h = w_{i-n+1} … w_{i-1}``. Lower orders count the *suffixes* of those
same events, so at every order the counts add up to the number of predicted tokens and
``c(h) = Σ_w c(h w)`` holds exactly (a context count is the sum of its continuations).

Tables. Level ``L`` (``0 ≤ L ≤ n-1``) holds the contexts of length ``L`` and the events ``(h, w)`` with
``|h| = L``:

* a context is named by an id; ids of level ``L`` are positions in the sorted array
  ``ctx_keys[L]`` where ``key = parent_id · V + token``. ``parent_id`` is the id of the context with the
  left-most token dropped (the back-off context ``h'``), ``token`` is the dropped token. Level 0 has the
  single empty context, id 0. Keys stay below ``#contexts · V``, so they never overflow ``int64``.
* an event is ``key = ctx_id · V + w`` in the sorted array ``ev_keys[L]`` with ``counts[L]``; because
  the keys are sorted by context first, the continuations of context ``c`` are the slice
  ``ev_ptr[L][c] : ev_ptr[L][c+1]`` (a CSR layout).

Look-ups are ``np.searchsorted`` on these arrays, so scoring a whole corpus is a handful of vectorised
passes. Everything is rebuilt from the highest-order n-grams and their counts, which is all that is
saved (``to_dict``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from attnlab.data.vocab import Vocab
from attnlab.errors import UserError

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
PAD_ID, UNK_ID, BOS_ID, EOS_ID = Vocab.PAD, Vocab.UNK, Vocab.BOS, Vocab.EOS  # the one set of special ids
SPECIALS = (PAD, UNK, BOS, EOS)
#: Tokens a model never predicts: probability 0 in every distribution.
NEVER_PREDICTED = (PAD_ID, BOS_ID)


class NGramVocab:
    """Token ↔ id map; built by `encode_corpus` from the words seen ``min_count`` times or more, most
    frequent first (ties alphabetical). Ids follow the project convention ``<pad>=0, <unk>=1, <s>=2, </s>=3``.

    The *predictable* set ``V'`` is every token except ``<pad>`` and ``<s>``; it includes ``</s>`` and
    ``<unk>``. Distributions are vectors over all ids with zeros at ``<pad>`` and ``<s>``.
    """

    def __init__(self, words: Iterable[str]):
        words = [w for w in words if w not in SPECIALS]
        self.tokens: tuple[str, ...] = SPECIALS + tuple(words)
        self.index: dict[str, int] = {t: i for i, t in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("vocabulary words must be unique")

    @property
    def size(self) -> int:
        return len(self.tokens)

    @property
    def n_predictable(self) -> int:
        """``|V'|``: the size of the event space (all tokens but ``<pad>`` and ``<s>``)."""
        return len(self.tokens) - len(NEVER_PREDICTED)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self.index

    def __getitem__(self, i: int) -> str:
        return self.tokens[i]

    def __iter__(self):
        return iter(self.tokens)

    def id(self, token: str) -> int:
        """Id of ``token``; out-of-vocabulary tokens are ``<unk>``."""
        return self.index.get(token, UNK_ID)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        get = self.index.get
        return [get(t, UNK_ID) for t in tokens]


def encode_corpus(
    sentences: Sequence[Sequence[str]], vocab: NGramVocab | None = None, min_count: int = 1
) -> tuple[NGramVocab, np.ndarray, np.ndarray]:
    """Map a corpus to ids in one pass over its tokens; build the vocabulary when ``vocab`` is None.

    Returns the vocabulary, the ids of all tokens concatenated, and the sentence lengths. Out-of-
    vocabulary tokens (and words seen fewer than ``min_count`` times) become ``<unk>``.
    """
    lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
    flat = list(chain.from_iterable(sentences))
    freq = Counter(flat)  # C-speed counting; every later step is per type, not per token
    for bad in (BOS, EOS, PAD):
        if bad in freq:
            raise UserError(
                f"a sentence contains the reserved token {bad!r}; pass plain words, the model adds boundaries"
            )
    if vocab is None:
        words = sorted(w for w, c in freq.items() if c >= min_count and w != UNK)
        f = np.fromiter(map(freq.__getitem__, words), np.int64, len(words))
        vocab = NGramVocab([words[i] for i in np.argsort(-f, kind="stable")])
    get = vocab.index.get
    type_id = {t: get(t, UNK_ID) for t in freq}
    return vocab, np.fromiter(map(type_id.__getitem__, flat), np.int64, len(flat)), lengths


def padded_grams(ids: np.ndarray, lengths: np.ndarray, order: int) -> np.ndarray:
    """All events of a corpus as an ``(N, order)`` array of rows ``[w_{i-n+1} … w_{i-1}, w_i]``.

    ``ids`` are the sentences' token ids concatenated, ``lengths`` their lengths; each sentence becomes
    ``<s>^{n-1} w_1 … w_m </s>`` and yields ``m + 1`` rows.
    """
    pad, n_sent = order - 1, len(lengths)
    n_pred = lengths + 1
    # Sentences laid end to end, each as pad <s> + words + </s>.
    flat = np.full(int(n_pred.sum()) + pad * n_sent, BOS_ID, dtype=np.int64)
    sent_start = np.concatenate(([0], np.cumsum(n_pred + pad)[:-1]))
    pred_start = np.concatenate(([0], np.cumsum(n_pred)[:-1]))
    pos = np.arange(int(n_pred.sum())) + np.repeat(sent_start + pad - pred_start, n_pred)
    flat[pos] = EOS_ID
    word_pos = np.arange(len(ids)) + np.repeat(np.arange(n_sent), lengths)  # skip the </s> before each
    flat[pos[word_pos]] = ids
    return np.stack([flat[pos - (order - 1 - j)] for j in range(order)], axis=1)


@dataclass
class NGramCounts:
    """Count tables of one corpus for an order-``n`` model; see the module docstring for the layout."""

    order: int
    vocab_size: int
    grams: np.ndarray  # (M, n) distinct highest-order n-grams, in event order
    gram_counts: np.ndarray  # (M,) their counts
    ctx_keys: list[np.ndarray]  # level L: sorted parent·V + token (level 0: [0])
    ev_keys: list[np.ndarray]  # level L: sorted ctx·V + w
    ev_ptr: list[np.ndarray]  # level L: CSR offsets, length n_ctx + 1
    counts: list[np.ndarray]  # level L: c(h w) for each event

    @classmethod
    def from_grams(cls, grams: np.ndarray, weights: np.ndarray | None, vocab_size: int) -> NGramCounts:
        """Build every level from highest-order n-grams (one row per occurrence, or with ``weights``)."""
        grams = np.asarray(grams, dtype=np.int64)
        n_rows, order = grams.shape
        V = np.int64(vocab_size)
        w = np.ones(n_rows, dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)
        ctx_keys: list[np.ndarray] = []
        ev_keys: list[np.ndarray] = []
        ev_ptr: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        cur = np.zeros(n_rows, dtype=np.int64)  # context id of each row at the current level
        word = grams[:, -1]
        top_inv = None
        for L in range(order):
            if L == 0:
                ctx_keys.append(np.zeros(1, dtype=np.int64))
            else:
                keys, cur = np.unique(cur * V + grams[:, order - 1 - L], return_inverse=True)
                ctx_keys.append(keys)
            ekeys, inv = np.unique(cur * V + word, return_inverse=True)
            ev_keys.append(ekeys)
            counts.append(np.bincount(inv, weights=w, minlength=len(ekeys)).astype(np.int64))
            n_ctx = len(ctx_keys[L])
            ev_ptr.append(
                np.concatenate(([0], np.cumsum(np.bincount(ekeys // V, minlength=n_ctx)))).astype(np.int64)
            )
            top_inv = inv
        # Distinct highest-order n-grams (what gets saved): one representative row per top-level event.
        first = np.zeros(len(ev_keys[-1]), dtype=np.int64)
        first[top_inv] = np.arange(n_rows)
        return cls(order, int(V), grams[first], counts[-1].copy(), ctx_keys, ev_keys, ev_ptr, counts)

    # -- structure helpers -------------------------------------------------------------------------
    def event_ctx(self, L: int) -> np.ndarray:
        """Context id of every event of level ``L``."""
        return self.ev_keys[L] // self.vocab_size

    def event_word(self, L: int) -> np.ndarray:
        return self.ev_keys[L] % self.vocab_size

    def lower_event(self, L: int) -> np.ndarray:
        """For each event ``(h, w)`` of level ``L ≥ 1``, the index of ``(h', w)`` in level ``L-1``.

        It always exists: the lower order counts the suffixes of the same events.
        """
        V = self.vocab_size
        parent = self.ctx_keys[L][self.event_ctx(L)] // V
        return np.searchsorted(self.ev_keys[L - 1], parent * V + self.event_word(L))

    def n_tokens(self) -> int:
        return int(self.counts[0].sum())

    # -- look-ups ----------------------------------------------------------------------------------
    def context_ids(self, ctx: np.ndarray) -> np.ndarray:
        """Ids of the suffixes of contexts ``ctx`` (shape ``(M, Lq)``, right-aligned token ids).

        Returns ``(Lq + 1, M)``: row ``L`` is the id of the length-``L`` suffix, or -1 if unseen.
        """
        ctx = np.asarray(ctx, dtype=np.int64)
        m, lq = ctx.shape
        ids = np.full((lq + 1, m), -1, dtype=np.int64)
        ids[0] = 0
        V = self.vocab_size
        for L in range(1, lq + 1):
            keys = ids[L - 1] * V + ctx[:, lq - L]
            ids[L] = _find(self.ctx_keys[L], keys, ids[L - 1] >= 0)
        return ids

    def event_ids(self, L: int, ctx_ids: np.ndarray, words: np.ndarray) -> np.ndarray:
        """Index of events ``(ctx, w)`` in level ``L``, or -1 where unseen (or the context is unseen)."""
        return _find(self.ev_keys[L], ctx_ids * self.vocab_size + words, ctx_ids >= 0)


def _find(sorted_keys: np.ndarray, keys: np.ndarray, valid: np.ndarray) -> np.ndarray:
    pos = np.searchsorted(sorted_keys, keys)
    ok = valid & (pos < len(sorted_keys))
    ok[ok] = sorted_keys[pos[ok]] == keys[ok]
    return np.where(ok, pos, -1)
