"""`NGramLM`: fit, query, score, generate, save. See `counts.py` for the tables, `smoothing.py` for the maths.

Conventions: log-probabilities are natural logs; perplexity is ``exp(-Σ log P / N)`` over every predicted
token of the sentences, ``</s>`` included and ``<s>`` never; out-of-vocabulary words become ``<unk>``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from attnlab.errors import UserError
from attnlab.ngram.counts import (
    BOS,
    BOS_ID,
    EOS_ID,
    UNK_ID,
    NGramCounts,
    NGramVocab,
    encode_corpus,
    padded_grams,
)
from attnlab.ngram.io import read_json, write_json_atomic
from attnlab.ngram.smoothing import SMOOTHINGS, Estimator, build_estimator

FORMAT = "attnlab-ngram"
FORMAT_VERSION = 1
#: `generate(n_tokens=None)` stops at `</s>`, or after this many tokens if none comes.
MAX_GENERATE = 10_000
_CHUNK = 1 << 20


class Factor(NamedTuple):
    """One factor ``P(word | context)`` of a sentence's chain-rule product."""

    word: str
    context: tuple[str, ...]
    prob: float

    def __str__(self) -> str:
        return f"P({self.word} | {' '.join(self.context)}) = {self.prob:.6g}"


class SentenceScore(NamedTuple):
    """``factors`` and their total natural-log probability; unpacks as ``factors, log_prob``."""

    factors: list[Factor]
    log_prob: float

    @property
    def perplexity(self) -> float:
        return math.exp(-self.log_prob / len(self.factors))


@dataclass(frozen=True)
class PerplexityReport:
    perplexity: float
    log_prob: float
    n_tokens: int
    n_oov: int  # tokens mapped to <unk>
    n_zero: int  # tokens with probability 0 (only MLE / stupid back-off can produce these)
    smoothing: str

    def __str__(self) -> str:
        text = (
            f"perplexity {self.perplexity:.4g} over {self.n_tokens} tokens ({self.n_oov} out of vocabulary)"
        )
        if self.n_zero:
            text += (
                f"; infinite because {self.n_zero} tokens have probability 0 under {self.smoothing}"
                " — use kneser-ney, add-k or katz for text with unseen n-grams"
            )
        return text


def _token_lists(sentences: Sequence[Sequence[str]], verb: str) -> list[Sequence[str]]:
    sentences = list(sentences)
    if any(isinstance(s, str) for s in sentences):
        raise UserError(
            f"{verb} takes lists of tokens, not strings: use line.split() for words or list(line) for characters"
        )
    return sentences


def _validate(order: int, smoothing: str, k: float, discount: Any, min_count: int) -> None:
    if smoothing not in SMOOTHINGS:
        raise ValueError(f"unknown smoothing {smoothing!r}; choose one of: {', '.join(SMOOTHINGS)}")
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"order must be an integer >= 1 (1=unigram, 2=bigram, …), got {order!r}")
    if not k > 0:
        raise ValueError(f"k must be > 0 (add-k adds k to every count; k=1 is Laplace), got {k!r}")
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be an integer >= 1, got {min_count!r}")
    if discount is None:
        return
    if smoothing == "kneser-ney":
        if isinstance(discount, Sequence) or not 0 < discount <= 1:
            raise ValueError(f"kneser-ney discount must be a number in (0, 1], got {discount!r}")
    elif smoothing == "modified-kneser-ney":
        d3 = tuple(discount) if isinstance(discount, Sequence) else (discount,) * 3
        if len(d3) != 3 or not all(0 < d <= r + 1 for r, d in enumerate(d3)):
            raise ValueError(
                f"modified-kneser-ney discount must be D or (D1, D2, D3+) with 0 < Dr <= r, got {discount!r}"
            )
    else:
        raise ValueError(f"discount applies only to kneser-ney and modified-kneser-ney, not {smoothing!r}")


class NGramLM:
    """A count-based n-gram language model over word or character tokens.

    >>> lm = NGramLM(3, "kneser-ney").fit([["I", "am", "Sam"], ["Sam", "I", "am"]])
    >>> lm.prob("am", ("<s>", "I"))  # doctest: +SKIP

    ``smoothing`` is one of ``kneser-ney`` (interpolated, one discount per order), ``modified-kneser-ney``
    (D1, D2, D3+), ``mle``, ``add-k`` (``k``; ``k=1`` is Laplace), ``katz`` (Good-Turing back-off) or
    ``stupid-backoff`` (a score, not normalised). ``discount`` fixes the Kneser-Ney discount(s) instead
    of estimating them from count-of-counts; words seen fewer than ``min_count`` times become ``<unk>``.
    A context is a tuple of tokens; only its last ``order - 1`` are used, and it is *not* padded: write
    ``("<s>", "<s>")`` for a sentence start (``score_sentence`` and ``generate`` pad for you).
    """

    def __init__(
        self,
        order: int = 3,
        smoothing: str = "kneser-ney",
        k: float = 1.0,
        discount: float | Sequence[float] | None = None,
        min_count: int = 1,
    ):
        _validate(order, smoothing, k, discount, min_count)
        self.order, self.smoothing, self.k = order, smoothing, float(k)
        self.discount = (
            discount if discount is None or not isinstance(discount, Sequence) else tuple(discount)
        )
        self.min_count = min_count
        self._vocab: NGramVocab | None = None
        self._counts: NGramCounts | None = None
        self._est: Estimator | None = None

    def __repr__(self) -> str:
        fitted = f", vocab={len(self._vocab)}" if self._vocab else ", unfitted"
        return f"NGramLM(order={self.order}, smoothing={self.smoothing!r}{fitted})"

    # -- training ----------------------------------------------------------------------------------
    def fit(self, sentences: Sequence[Sequence[str]]) -> NGramLM:
        """Count ``sentences`` (lists of tokens: words, or ``list(line)`` for characters)."""
        sentences = _token_lists(sentences, "fit")
        vocab, ids, lengths = encode_corpus(sentences, None, self.min_count)
        if len(ids) == 0:
            raise UserError("no training data: the corpus has no tokens; check the dataset path and split")
        grams = padded_grams(ids, lengths, self.order)
        self._set(vocab, NGramCounts.from_grams(grams, None, vocab.size))
        return self

    def _set(self, vocab: NGramVocab, counts: NGramCounts) -> None:
        self._vocab, self._counts = vocab, counts
        self._est = build_estimator(counts, self.smoothing, self.k, self.discount, vocab.n_predictable)

    def _ready(self) -> tuple[NGramVocab, NGramCounts, Estimator]:
        if self._est is None:
            raise RuntimeError("NGramLM is not fitted: call fit() or load() first")
        return self._vocab, self._counts, self._est  # type: ignore[return-value]

    @property
    def vocab(self) -> NGramVocab:
        """The vocabulary; ``next_distribution`` is indexed by its ids."""
        return self._ready()[0]

    @property
    def discounts(self) -> list:
        """What the estimator used per order (Kneser-Ney ``D``s, Katz's Good-Turing choice)."""
        return self._ready()[2].info.get("discounts", [])

    # -- queries -----------------------------------------------------------------------------------
    def _ctx_ids(self, context: Sequence[str]) -> np.ndarray:
        if isinstance(context, str):
            raise TypeError("context is a tuple of tokens, e.g. ('<s>', 'I'), not a string")
        ctx = list(context)[-(self.order - 1) :] if self.order > 1 else []
        vocab = self._ready()[0]
        return np.array([[BOS_ID if t == BOS else vocab.id(t) for t in ctx]], dtype=np.int64).reshape(
            1, len(ctx)
        )

    def prob(self, word: str, context: Sequence[str] = ()) -> float:
        """``P(word | context)``; unknown words and context tokens count as ``<unk>``."""
        vocab, counts, est = self._ready()
        wid = BOS_ID if word == BOS else vocab.id(word)
        return float(est.probs(counts, self._ctx_ids(context), np.array([wid]))[0])

    def logprob(self, word: str, context: Sequence[str] = ()) -> float:
        """Natural log of `prob`; ``-inf`` where the probability is 0."""
        p = self.prob(word, context)
        return math.log(p) if p > 0 else -math.inf

    def next_distribution(self, context: Sequence[str] = ()) -> np.ndarray:
        """``P(· | context)`` as a float64 vector over ``vocab`` ids (0 at ``<pad>`` and ``<s>``).

        Sums to 1 for every estimator except stupid back-off.
        """
        _, counts, est = self._ready()
        return est.distribution(counts, counts.context_ids(self._ctx_ids(context))[:, 0])

    def _score_ids(self, sentences: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray, int]:
        vocab, counts, est = self._ready()
        _, ids, lengths = encode_corpus(_token_lists(sentences, "score"), vocab)
        n_oov = int((ids == UNK_ID).sum())
        grams = padded_grams(ids, lengths, self.order)
        p = np.concatenate(
            [
                est.probs(counts, g[:, :-1], g[:, -1])
                for g in np.array_split(grams, max(1, -(-len(grams) // _CHUNK)))
            ]
        )
        return grams, p, n_oov

    def score_sentence(self, tokens: Sequence[str]) -> SentenceScore:
        """Chain rule: each factor ``P(w_i | w_{i-n+1} … w_{i-1})`` of ``<s>… tokens </s>`` and the total."""
        grams, p, _ = self._score_ids([list(tokens)])
        toks = self._ready()[0].tokens
        factors = [
            Factor(toks[g[-1]], tuple(toks[t] for t in g[:-1]), float(pi))
            for g, pi in zip(grams, p, strict=True)
        ]
        with np.errstate(divide="ignore"):
            return SentenceScore(factors, float(np.log(p).sum()))

    def evaluate(self, sentences: Sequence[Sequence[str]]) -> PerplexityReport:
        """Perplexity with the counts behind it (tokens, out-of-vocabulary, zero-probability)."""
        if self.smoothing == "stupid-backoff":
            raise ValueError(
                "stupid-backoff scores are not probabilities, so it has no perplexity; use kneser-ney or katz"
            )
        grams, p, n_oov = self._score_ids(list(sentences))
        if len(p) == 0:
            raise UserError("no evaluation data: nothing to compute perplexity on")
        n_zero = int((p <= 0).sum())
        with np.errstate(divide="ignore"):
            lp = float(np.log(p).sum())
        ppl = math.inf if n_zero else math.exp(-lp / len(p))
        return PerplexityReport(ppl, lp, len(p), n_oov, n_zero, self.smoothing)

    def perplexity(self, sentences: Sequence[Sequence[str]]) -> float:
        """``exp(-Σ log P / N)``; ``inf`` for MLE when any test token has probability 0 (see `evaluate`)."""
        return self.evaluate(sentences).perplexity

    # -- generation --------------------------------------------------------------------------------
    def generate(
        self,
        n_tokens: int | None = None,
        *,
        seed: int | None = None,
        temperature: float = 1.0,
        prompt: Sequence[str] | None = None,
    ) -> list[str]:
        """Sample tokens after ``<s>… prompt``; stops at ``</s>`` (not returned) or after ``n_tokens``.

        ``p_i ∝ P_i^{1/temperature}``; ``temperature=0`` is greedy (argmax, lowest id on ties). The same
        ``seed`` gives the same text. Stupid back-off scores are renormalised before sampling.
        """
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature!r}")
        if n_tokens is not None and n_tokens < 0:
            raise ValueError(f"n_tokens must be >= 0, got {n_tokens!r}")
        vocab, counts, est = self._ready()
        if isinstance(prompt, str):
            raise TypeError("prompt is a list of tokens, not a string")
        ctx = [BOS_ID] * (self.order - 1) + vocab.encode(prompt or [])
        rng = np.random.default_rng(seed)
        out: list[str] = []
        limit = MAX_GENERATE if n_tokens is None else n_tokens
        n_ctx = self.order - 1
        while len(out) < limit:
            h = np.array([ctx[len(ctx) - n_ctx :] if n_ctx else []], dtype=np.int64).reshape(1, n_ctx)
            p = est.distribution(counts, counts.context_ids(h)[:, 0])
            if temperature == 0:
                nxt = int(np.argmax(p))
            else:
                with np.errstate(divide="ignore"):
                    logits = np.log(p) / temperature
                w = np.exp(logits - logits.max())
                cdf = np.cumsum(w)
                nxt = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
            if nxt == EOS_ID:
                break
            out.append(vocab.tokens[nxt])
            ctx.append(nxt)
        return out

    # -- persistence -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: settings, vocabulary and the highest-order n-gram counts (all else is derived)."""
        vocab, counts, _ = self._ready()
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "order": self.order,
            "smoothing": self.smoothing,
            "k": self.k,
            "discount": list(self.discount) if isinstance(self.discount, tuple) else self.discount,
            "min_count": self.min_count,
            "vocab": list(vocab.tokens[4:]),
            "ngrams": counts.grams.tolist(),
            "counts": counts.gram_counts.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NGramLM:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise UserError("not an attnlab n-gram model (format tag missing); was it saved by NGramLM.save?")
        if data.get("version") != FORMAT_VERSION:
            raise UserError(
                f"n-gram model format version {data.get('version')!r} is not supported (expected {FORMAT_VERSION})"
            )
        try:
            lm = cls(data["order"], data["smoothing"], data["k"], data["discount"], data["min_count"])
            vocab = NGramVocab(data["vocab"])
            grams = np.asarray(data["ngrams"], dtype=np.int64).reshape(-1, lm.order)
            weights = np.asarray(data["counts"], dtype=np.int64)
            ok = (
                len(grams) == len(weights) > 0
                and grams.min() >= 0
                and grams.max() < vocab.size
                and weights.min() > 0
            )
        except (KeyError, TypeError, ValueError) as err:
            raise UserError(f"corrupt n-gram model: {err}; re-train or restore the file") from None
        if not ok:
            raise UserError(
                "corrupt n-gram model: n-gram ids or counts out of range; re-train or restore the file"
            )
        lm._set(vocab, NGramCounts.from_grams(grams, weights, vocab.size))
        return lm

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``to_dict()`` as JSON, atomically (temp file, fsync, rename)."""
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> NGramLM:
        return cls.from_dict(read_json(path))
