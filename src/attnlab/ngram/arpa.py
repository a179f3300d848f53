"""Write a fitted `NGramLM` as an ARPA back-off file, so that other toolkits (KenLM, SRILM) score text with
exactly attnlab's probabilities: an independent implementation cross-checks ours (tests/ngram/test_arpa.py).

**What an ARPA file means.** Section ``m`` lists m-grams ``h w`` with ``log10 P(w | h)`` and, for those that
are themselves contexts, a back-off weight ``log10 bow(h w)``. A reader computes

    P(w | h) = p(h w)                      if ``h w`` is listed
             = bow(h) · P(w | h')          otherwise (``bow(h) = 1`` when ``h`` is not listed),

recursively down to the unigrams, which list every word. Logs are base 10; ``-99`` stands for log 0.

**Why every estimator but stupid back-off fits that rule exactly.** In `smoothing.py` each level is
``interp`` (``P_L(w|h) = q(h,w) + λ(h) P_{L-1}(w|h')``, ``q = 0`` for unseen ``(h, w)``) or ``backoff``
(``q(h,w)`` if seen, else ``α(h) P_{L-1}(w|h')``), and a context never seen in training passes
``P_{L-1}(w|h')`` through unchanged. So for an unseen pair both give ``weight(h) · P_{L-1}(w|h')``: the
ARPA rule with ``bow(h) = λ(h)`` (interpolated Kneser-Ney, modified KN: γ(h)) or ``α(h)`` (Katz; MLE's 0).
For a seen pair we write the *whole* value ``P_L(w|h)``, computed by attnlab's own `Estimator.probs`, so
interpolated KN's lower-order share ``λ(h) P(w|h')`` is folded into the explicit probability. By induction
from the unigrams (all explicit, already holding KN's uniform ``1/|V'|`` share) the file reproduces
every level. The listed contexts are exactly attnlab's seen ones: a context ``h`` was seen iff the m-gram
``h`` was an event (its last word was predicted after its prefix), and events are suffix-closed (counts.py),
which is what KenLM's look-up, walking ``w``, ``c1 w``, ``c2 c1 w`` … and stopping at the first gap, needs.

**add-k** ignores lower orders: ``(c(h w) + k) / (c(h) + k|V'|)`` at the full context, ``1/|V'|`` for an
unseen context. With *uniform* unigrams and lower orders (``1/|V'|``, no back-off weight) and
``bow(h) = λ(h) = k|V'| / (c(h) + k|V'|)`` on the full contexts, an unseen pair gives
``λ(h)/|V'| = k / (c(h) + k|V'|)``: exact at every order, writing only the seen n-grams. (The add-k
*unigram* ``(c(w)+k)/(N+k|V'|)`` is never used by an add-k model of order ≥ 2, so it is not in the file.)

**Stupid back-off** is refused: its scores are not probabilities (they do not sum to 1), which a
language-model file claims to hold, and it multiplies by 0.4 even for a context never seen in training,
which an ARPA file cannot say (an unlisted context backs off with weight 1).

**Sentence boundaries.** attnlab pads a sentence with ``n-1`` ``<s>``; ARPA readers keep one ``<s>`` as
the start state (KenLM's ``bos=True``). Since ``<s>`` only ever appears as left padding, the context
``<s>^j u`` (``j ≥ 1``) occurs at exactly the positions where ``<s> u`` does, so the start n-gram
``<s> u w`` is written with attnlab's *full-order* value ``P(w | <s>^{n-1-|u|} u)`` and ``bow(<s> u)`` is
the product of the weights of ``<s>^{n-1-|u|} u``, …, ``<s> u`` (the same set of followers at each of those
levels, so an unseen ``w`` backs off through all of them to ``P(w | u)``; add-k: the full context's
weight alone, since its lower orders are uniform). attnlab's own lower-level
entries for these contexts are never used by a sentence and are not written. ``<s>`` is never predicted:
its unigram log-probability is ``-99`` (as SRILM and KenLM write it), with the back-off weight of the
sentence start. ``</s>`` is an ordinary predicted word (a unigram and the last word of n-grams; never a
context). ``<unk>`` is always a unigram with attnlab's probability for it, and a reader maps every
out-of-vocabulary word to it, as attnlab does. ``<pad>`` is never predicted and is not written.

**Order 1.** KenLM refuses unigram-only files ("assumes at least a bigram model"), so a unigram model is
written as an order-2 file with an empty bigram section: the same distribution.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from attnlab.errors import UserError
from attnlab.fileio import atomic_write_text  # the one atomic writer (checkpoints and ngram/io.py use it too)
from attnlab.ngram.counts import BOS_ID, NEVER_PREDICTED, SPECIALS, NGramCounts
from attnlab.ngram.model import NGramLM
from attnlab.ngram.smoothing import ADDK

#: The smoothings whose model an ARPA file holds exactly (see the module docstring).
REPRESENTABLE = ("kneser-ney", "modified-kneser-ney", "katz", "mle", "add-k")
#: log10 of probability 0, as SRILM and KenLM write it (for ``<s>``, and MLE's zero weights).
LOG0 = -99.0


def check_representable(lm: NGramLM) -> None:
    """Raise `UserError` (one line, saying why) when ``lm`` cannot be written as an ARPA file."""
    if lm.smoothing == "stupid-backoff":
        raise UserError(
            "stupid-backoff cannot be written as ARPA: its scores are not probabilities (they do not sum to 1); "
            "export a kneser-ney, modified-kneser-ney, katz, mle or add-k model"
        )
    if lm.smoothing not in REPRESENTABLE:
        raise UserError(
            f"{lm.smoothing} has no exact ARPA form; ARPA export supports {', '.join(REPRESENTABLE)}"
        )
    for tok in lm.vocab.tokens[len(SPECIALS) :]:
        if not tok or any(ch.isspace() or ch == "\0" for ch in tok):
            raise UserError(
                f"the vocabulary holds the token {tok!r}, but ARPA separates tokens by whitespace; "
                "export a word- or subword-tokenized model (a character model has the space as a token)"
            )


def _context_tokens(counts: NGramCounts) -> list[np.ndarray]:
    """The tokens of every context id, per level: ``(n_contexts_L, L)`` arrays, oldest token first.

    A level-``L`` key is ``parent · V + first_token`` with ``parent`` the context without its first token.
    """
    V = counts.vocab_size
    out = [np.zeros((1, 0), dtype=np.int64)]
    for L in range(1, counts.order):
        keys = counts.ctx_keys[L]
        out.append(np.hstack([(keys % V)[:, None], out[L - 1][keys // V]]))
    return out


def _log10(x: np.ndarray) -> np.ndarray:
    """log10 with 0 written as ``LOG0``."""
    with np.errstate(divide="ignore"):
        return np.maximum(np.log10(x), LOG0)


def _entries(lm: NGramLM) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per ARPA order ``m = 1 … max(n, 2)``: ``(grams (M, m) ids, log10 prob (M,), log10 bow (M,))``.

    A back-off weight of NaN means "not a context": the line has no weight.
    """
    _, counts, est = lm._ready()  # package-internal: the tables and estimator the model queries
    n, V = lm.order, counts.vocab_size
    addk = est.levels[0].mode == ADDK
    ctx_tok = _context_tokens(counts)
    plain: list[list[np.ndarray]] = [[] for _ in range(max(n, 2) + 1)]  # grams without <s>, per order
    start: list[list[np.ndarray]] = [[] for _ in range(max(n, 2) + 1)]  # "<s> u w", per order
    start_p: list[list[np.ndarray]] = [[] for _ in range(max(n, 2) + 1)]

    # Unigrams: every predictable token, explicit. add-k of order >= 2 never uses its own unigram level:
    # an unseen context is uniform, so that is what the unigrams hold.
    words = np.array([i for i in range(V) if i not in NEVER_PREDICTED], dtype=np.int64)
    p1 = est.base[words] if addk and n >= 2 else est.probs(counts, np.zeros((len(words), 0), np.int64), words)

    # Higher orders from the events of each level L (an (L+1)-gram: context tokens + word).
    for L in range(1, n):
        grams = np.hstack([ctx_tok[L][counts.event_ctx(L)], counts.event_word(L)[:, None]])
        at_start = grams[:, 0] == BOS_ID
        g = grams[~at_start]
        plain[L + 1].append(g)
        if n - 1 > L:
            continue  # lower-level entries of <s>-contexts are the same positions as the top level's: skip
        # Top level: a context <s>^j u is written as "<s> u" (order n + 1 - j), with the full-order value.
        s = grams[at_start]
        p_top = est.probs(counts, s[:, :-1], s[:, -1])
        j = (s[:, :-1] == BOS_ID).sum(axis=1)
        for jj in np.unique(j):
            sel = j == jj
            start[n + 1 - jj].append(s[sel][:, jj - 1 :])  # keep one <s>
            start_p[n + 1 - jj].append(p_top[sel])

    out = []
    for m in range(1, max(n, 2) + 1):
        if m == 1:
            g_plain, p_plain = words[:, None], p1
        else:
            g_plain = np.concatenate(plain[m]) if plain[m] else np.zeros((0, m), np.int64)
            if len(g_plain) == 0:  # the empty bigram section of an order-1 model
                p_plain = np.zeros(0)
            elif addk and m < n:
                p_plain = est.base[g_plain[:, -1]]  # add-k: below the full context everything is uniform
            else:
                p_plain = est.probs(counts, g_plain[:, :-1], g_plain[:, -1])
        g_start = np.concatenate(start[m]) if start[m] else np.zeros((0, m), np.int64)
        p_start = np.concatenate(start_p[m]) if start_p[m] else np.zeros(0)
        if m == 1:  # the unigram <s>: never predicted
            g_start, p_start = np.array([[BOS_ID]], dtype=np.int64), np.zeros(1)
        lp = np.concatenate([_log10(p_plain), _log10(p_start) if m > 1 else [LOG0]])
        lp = np.minimum(lp, 0.0)  # readers refuse log P > 0, which rounding could give for P = 1
        bow = np.concatenate([_bows(lm, g_plain, False, addk), _bows(lm, g_start, True, addk)])
        grams = np.concatenate([g_plain, g_start])
        order = np.lexsort(grams.T[::-1]) if len(grams) else np.zeros(0, np.int64)
        out.append((grams[order], lp[order] + 0.0, bow[order]))  # + 0.0: no "-0" for a probability of 1
    return out


def _bows(lm: NGramLM, grams: np.ndarray, at_start: bool, addk: bool) -> np.ndarray:
    """log10 back-off weight of each ARPA m-gram that is a context; NaN for those that are not.

    A plain m-gram ``v`` is attnlab's level-m context ``v``. A start m-gram ``<s> v`` stands for the
    contexts ``<s>^{L-m+1} v`` of levels ``L = m … n-1``, and an unseen word backs off through each of
    them (see the module docstring), so its weight is their product. add-k only has weights at the full
    context (level n-1).
    """
    _, counts, est = lm._ready()
    n, m = lm.order, grams.shape[1]
    out = np.full(len(grams), np.nan)
    if m > n - 1 or len(grams) == 0:
        return out  # the highest order is never a context
    body = grams[:, 1:] if at_start else grams  # v (m-1 tokens after <s>, or m tokens)
    pad = n - 1 - body.shape[1]
    ctx = np.hstack([np.full((len(grams), pad), BOS_ID, dtype=np.int64), body]) if at_start else body
    ids = counts.context_ids(ctx)  # row L: id of the length-L suffix
    levels = range(m, n) if at_start else range(m, m + 1)
    if addk:
        levels = range(n - 1, n) if (at_start or m == n - 1) else range(0)
    total = np.zeros(len(grams))
    seen = np.ones(len(grams), dtype=bool)
    for L in levels:
        row = ids[L]
        seen &= row >= 0
        w = np.where(row >= 0, est.levels[L].weight[np.maximum(row, 0)], 1.0)
        total += _log10(w)
    keep = seen & (len(levels) > 0)  # an m-gram ending in </s> is never a context: not seen
    out[keep] = np.maximum(total[keep], LOG0)
    return out


def arpa_text(lm: NGramLM) -> tuple[str, list[int]]:
    """The ARPA file of ``lm`` as text, and the number of n-grams of each order."""
    check_representable(lm)
    toks = np.array(lm.vocab.tokens, dtype=object)
    sections = _entries(lm)
    sizes = [len(g) for g, _, _ in sections]
    lines = ["\\data\\", *(f"ngram {m}={c}" for m, c in enumerate(sizes, 1)), ""]
    for m, (grams, lp, bow) in enumerate(sections, 1):
        lines.append(f"\\{m}-grams:")
        names = [" ".join(r) for r in toks[grams].tolist()]
        for name, p, b in zip(names, lp.tolist(), bow.tolist(), strict=True):
            lines.append(f"{p:.7f}\t{name}" if b != b else f"{p:.7f}\t{name}\t{b:.7f}")  # b != b: NaN
        lines.append("")
    lines.append("\\end\\")
    return "\n".join(lines) + "\n", sizes


def write_arpa(lm: NGramLM, path: str | os.PathLike) -> list[int]:
    """Write ``lm`` as an ARPA file, atomically (temp file, fsync, rename); returns n-grams per order.

    Raises `UserError` for a model ARPA cannot hold (stupid back-off; a vocabulary token with whitespace).
    """
    text, sizes = arpa_text(lm)
    atomic_write_text(Path(path), text)
    return sizes
