"""Estimators: how counts become ``P(w | h)``. Formulas follow Chen & Goodman (1998), *An Empirical
Study of Smoothing Techniques for Language Modeling*, TR-10-98.

Notation: ``h`` is a context, ``h'`` the context with its left-most word dropped, ``c(h w)`` a count,
``c(h) = Σ_w c(h w)``, ``N_r(h •)`` the number of words that follow ``h`` exactly ``r`` times,
``N_{1+}(h •)`` the number of distinct followers, ``n_r`` the number of n-grams of one order seen ``r``
times (count-of-counts), ``V'`` the predictable vocabulary (every token but ``<pad>``/``<s>``).

Every estimator is compiled into the same shape, one :class:`Level` per context length ``L = 0 … n-1``
plus a ``base`` vector (the "0-gram"), and evaluated bottom-up by :meth:`Estimator.probs` (many
queries at once) or :meth:`Estimator.distribution` (one context, the whole vocabulary):

* ``interp``:  ``P_L(w|h) = q(h, w) + λ(h) · P_{L-1}(w|h')``   (``q = 0`` for unseen ``(h, w)``)
* ``backoff``: ``P_L(w|h) = q(h, w)`` if ``c(h w) > 0`` else ``α(h) · P_{L-1}(w|h')``
* ``addk``:    ``P_L(w|h) = q(h, w) + λ(h) · base(w)``          (ignores lower orders)
* a context never seen in training has no parameters: ``P_L(w|h) = f · P_{L-1}(w|h')`` with
  ``f = 1`` (``f = 0.4`` for stupid back-off; ``addk`` uses ``base``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from attnlab.ngram.counts import NEVER_PREDICTED, NGramCounts

INTERP, BACKOFF, ADDK = "interp", "backoff", "addk"
SMOOTHINGS = ("kneser-ney", "modified-kneser-ney", "mle", "add-k", "katz", "stupid-backoff")
#: Katz (1987) trusts counts above this and discounts the rest with Good-Turing.
KATZ_K = 5
STUPID_ALPHA = 0.4


@dataclass
class Level:
    """Parameters of one context length: ``q`` per event, ``weight`` (λ or α) per context."""

    mode: str
    q: np.ndarray
    weight: np.ndarray
    unseen_factor: float = 1.0


@dataclass
class Estimator:
    name: str
    levels: list[Level]
    base: np.ndarray
    normalised: bool = True
    info: dict = field(default_factory=dict)

    def probs(self, counts: NGramCounts, ctx: np.ndarray, words: np.ndarray) -> np.ndarray:
        """``P(words[i] | ctx[i])`` for all ``i`` at once; ``ctx`` is ``(M, Lq)``, right-aligned ids."""
        words = np.asarray(words, dtype=np.int64)
        ids = counts.context_ids(ctx)
        lq = ids.shape[0] - 1
        base = self.base[words]
        p = base.copy()
        for L in range(lq if self.name == "add-k" else 0, lq + 1):
            lev, cid = self.levels[L], ids[L]
            has = cid >= 0
            eid = counts.event_ids(L, cid, words)
            q = np.where(eid >= 0, lev.q[eid], 0.0)
            wt = np.where(has, lev.weight[cid], 0.0)
            if lev.mode == INTERP:
                p = np.where(has, q + wt * p, p * lev.unseen_factor)
            elif lev.mode == BACKOFF:
                p = np.where(has, np.where(eid >= 0, q, wt * p), p * lev.unseen_factor)
            else:
                p = np.where(has, q + wt * base, base)
        return p

    def distribution(self, counts: NGramCounts, ids: Sequence[int]) -> np.ndarray:
        """The whole next-token vector for one context, given its suffix ids (``context_ids`` column)."""
        V = counts.vocab_size
        p = self.base.copy()
        lq = len(ids) - 1
        for L in range(lq if self.name == "add-k" else 0, lq + 1):
            lev, cid = self.levels[L], int(ids[L])
            if cid < 0:
                p = self.base.copy() if lev.mode == ADDK else p * lev.unseen_factor
                continue
            s, e = counts.ev_ptr[L][cid], counts.ev_ptr[L][cid + 1]
            ws, q, wt = counts.ev_keys[L][s:e] % V, lev.q[s:e], lev.weight[cid]
            if lev.mode == INTERP:
                p *= wt
                p[ws] += q
            elif lev.mode == BACKOFF:
                p *= wt
                p[ws] = q
            else:
                p = wt * self.base
                p[ws] += q
        return p


# -- helpers -----------------------------------------------------------------------------------------
def uniform_base(vocab_size: int) -> np.ndarray:
    """The 0-gram: ``1/|V'|`` on every predictable token."""
    base = np.ones(vocab_size)
    base[list(NEVER_PREDICTED)] = 0.0
    return base / base.sum()


def _ctx_sum(counts: NGramCounts, L: int, values: np.ndarray) -> np.ndarray:
    return np.bincount(counts.event_ctx(L), weights=values, minlength=len(counts.ctx_keys[L]))


def count_of_counts(c: np.ndarray, upto: int) -> np.ndarray:
    """``n_r`` for ``r = 0 … upto`` (index ``r``)."""
    return np.bincount(np.minimum(c, upto + 1), minlength=upto + 2)[: upto + 1]


def kn_discount(c: np.ndarray) -> float:
    """Ney et al. (1994): ``D = n_1 / (n_1 + 2 n_2)``; 0.5 when there are no singletons."""
    n = count_of_counts(c, 2)
    return float(n[1] / (n[1] + 2 * n[2])) if n[1] > 0 else 0.5


def modified_kn_discounts(c: np.ndarray) -> tuple[float, float, float]:
    """Chen & Goodman: with ``Y = n_1 / (n_1 + 2 n_2)``,

    ``D_1 = 1 - 2Y n_2/n_1``,  ``D_2 = 2 - 3Y n_3/n_2``,  ``D_3+ = 3 - 4Y n_4/n_3``.

    When a count-of-counts is zero or a ``D_r`` leaves ``(0, r]`` (tiny corpora), every ``D_r`` is
    the plain Kneser-Ney ``D``.
    """
    n = count_of_counts(c, 4).astype(float)
    if np.all(n[1:5] > 0):
        y = n[1] / (n[1] + 2 * n[2])
        d = (float(1 - 2 * y * n[2] / n[1]), float(2 - 3 * y * n[3] / n[2]), float(3 - 4 * y * n[4] / n[3]))
        if all(0 < d[r] <= r + 1 for r in range(3)):
            return d
    D = kn_discount(c)
    return (D, D, D)


def good_turing_discounts(c: np.ndarray, k_max: int = KATZ_K) -> tuple[np.ndarray, str]:
    """Katz's per-count multipliers ``d_r`` (``P = d_r · r / c(h)`` for a seen event of count ``r``).

    With ``r* = (r+1) n_{r+1} / n_r`` (Good-Turing) and ``A = (k+1) n_{k+1} / n_1``:
    ``d_r = (r*/r - A) / (1 - A)`` for ``1 ≤ r ≤ k`` and ``d_r = 1`` for ``r > k``.
    ``k`` starts at 5 and is lowered until every ``n_1 … n_{k+1} > 0`` and every ``d_r ∈ (0, 1)``;
    if no ``k ≥ 1`` works (tiny corpora) the fallback is an absolute discount ``d_r = (r - D)/r``
    with Ney's ``D`` clipped to ``[0.1, 0.9]``. Returns the multipliers for every event and a description of what was used.
    """
    n = count_of_counts(c, k_max + 1).astype(float)
    for k in range(k_max, 0, -1):
        if np.any(n[1 : k + 2] == 0):
            continue
        a = (k + 1) * n[k + 1] / n[1]
        if a >= 1:
            continue
        r = np.arange(1, k + 1)
        d_r = ((r + 1) * n[r + 1] / n[r] / r - a) / (1 - a)
        if np.all((d_r > 0) & (d_r < 1)):
            table = np.concatenate(([1.0], d_r))
            return np.where(c <= k, table[np.minimum(c, k)], 1.0), f"good-turing k={k}"
    D = float(np.clip(kn_discount(c), 0.1, 0.9))  # keep d_1 > 0: a seen event must keep some mass
    return (c - D) / c, f"absolute D={D:.4g} (Good-Turing unusable)"


# -- estimators ------------------------------------------------------------------------------------
def mle(counts: NGramCounts) -> Estimator:
    """``P(w|h) = c(h w) / c(h)``. An unseen context uses its longest seen suffix; unseen words get 0."""
    levels = []
    for L in range(counts.order):
        c = counts.counts[L].astype(float)
        tot = _ctx_sum(counts, L, c)
        levels.append(Level(BACKOFF, c / tot[counts.event_ctx(L)], np.zeros(len(tot))))
    return Estimator("mle", levels, np.zeros(counts.vocab_size))


def add_k(counts: NGramCounts, k: float, n_predictable: int) -> Estimator:
    """Lidstone / Laplace (``k = 1``): ``P(w|h) = (c(h w) + k) / (c(h) + k|V'|)`` at the full context.

    Written as ``c(h w)/(c(h) + k|V'|) + λ(h)/|V'|`` with ``λ(h) = k|V'| / (c(h) + k|V'|)``; an unseen
    context gives the uniform ``1/|V'|``.
    """
    levels = []
    kv = k * n_predictable
    for L in range(counts.order):
        c = counts.counts[L].astype(float)
        tot = _ctx_sum(counts, L, c)
        levels.append(Level(ADDK, c / (tot + kv)[counts.event_ctx(L)], kv / (tot + kv)))
    return Estimator("add-k", levels, uniform_base(counts.vocab_size), info={"k": k})


def continuation_counts(counts: NGramCounts, L: int) -> np.ndarray:
    """``N_{1+}(• h w)``: how many distinct words precede each event ``(h, w)`` of level ``L``."""
    return np.bincount(counts.lower_event(L + 1), minlength=len(counts.ev_keys[L]))


def kneser_ney(
    counts: NGramCounts, discount: float | Sequence[float] | None = None, modified: bool = False
) -> Estimator:
    """Interpolated Kneser-Ney (Chen & Goodman eq. 17), modified KN with ``modified=True``.

    ``P(w|h) = max(c'(h w) - D(c'), 0) / Σ_w c'(h w) + γ(h) · P(w|h')``, with
    ``γ(h) = (D_1 N_1(h •) + D_2 N_2(h •) + D_3+ N_3+(h •)) / Σ_w c'(h w)``
    (plain KN: one ``D`` and ``γ(h) = D N_{1+}(h •) / c(h)``). ``c'`` is the raw count at the highest
    order and the continuation count ``N_{1+}(• h w)`` below it. The unigram level interpolates with
    the uniform ``1/|V'|``, so every word (``<unk>`` too) has non-zero probability. Discounts are
    estimated per order from the count-of-counts of ``c'`` unless ``discount`` is given.
    """
    name = "modified-kneser-ney" if modified else "kneser-ney"
    levels: list[Level] = [None] * counts.order  # type: ignore[list-item]
    used_d = []
    for L in range(counts.order - 1, -1, -1):
        c = counts.counts[L] if counts.order - 1 == L else continuation_counts(counts, L)
        if discount is not None:
            d3 = tuple(discount) if isinstance(discount, Sequence) else (float(discount),) * 3
        elif modified:
            d3 = modified_kn_discounts(c)
        else:
            d3 = (kn_discount(c),) * 3
        d = np.array((0.0, *d3))[np.minimum(c, 3)]
        ce = counts.event_ctx(L)
        tot = _ctx_sum(counts, L, c.astype(float))
        q = np.maximum(c - d, 0.0) / tot[ce]
        levels[L] = Level(INTERP, q, _ctx_sum(counts, L, d) / tot)
        used_d.append({"order": L + 1, "D": list(d3) if modified else d3[0]})
    return Estimator(name, levels, uniform_base(counts.vocab_size), info={"discounts": used_d[::-1]})


def katz(counts: NGramCounts, n_predictable: int) -> Estimator:
    """Katz back-off with Good-Turing discounts (Chen & Goodman eq. 13).

    ``P(w|h) = d_{c(h w)} c(h w) / c(h)`` if ``c(h w) > 0`` else ``α(h) P(w|h')`` with
    ``α(h) = (1 - Σ_{w: c(h w)>0} d c(h w)/c(h)) / (1 - Σ_{w: c(h w)>0} P(w|h'))`` — normalised by
    construction. The unigram level spreads its left-over mass uniformly over ``V'``. Two guards keep
    every distribution proper and every probability positive: a context whose followers all have
    counts ``> k`` (no discount, so no mass left) gets the escape ``c(h w)/(c(h)+1)``; a context followed
    by every word of ``V'`` has nothing to back off to and keeps ``c(h w)/c(h)``.
    """
    levels, pfull, info = [], [], []
    base = uniform_base(counts.vocab_size)
    for L in range(counts.order):
        c = counts.counts[L]
        ce = counts.event_ctx(L)
        tot = _ctx_sum(counts, L, c.astype(float))
        d, how = good_turing_discounts(c)
        info.append({"order": L + 1, "discount": how})
        escape = _ctx_sum(counts, L, (d < 1).astype(float)) == 0
        q = np.where(escape[ce], c / (tot + 1)[ce], d * c / tot[ce])
        left = np.where(escape, 1 / (tot + 1), _ctx_sum(counts, L, (1 - d) * c) / tot)
        if L == 0:
            levels.append(Level(INTERP, q, left))
            pfull.append(q + left[0] * base[counts.event_word(0)])
            continue
        denom = 1.0 - _ctx_sum(counts, L, pfull[L - 1][counts.lower_event(L)])
        full = (np.diff(counts.ev_ptr[L]) >= n_predictable) | (denom <= 1e-15)
        q = np.where(full[ce], c / tot[ce], q)
        alpha = np.where(full, 0.0, left / np.where(full, 1.0, denom))
        levels.append(Level(BACKOFF, q, alpha))
        pfull.append(q)
    return Estimator("katz", levels, base, info={"discounts": info})


def stupid_backoff(counts: NGramCounts, alpha: float = STUPID_ALPHA) -> Estimator:
    """Brants et al. (2007): ``S(w|h) = c(h w)/c(h)`` if ``c(h w) > 0`` else ``0.4 · S(w|h')``,
    ``S(w) = c(w)/N``. A *score*, not a probability: it does not sum to 1 and words never seen in
    training score 0. Use it for ranking, not for perplexity.
    """
    levels = []
    for L in range(counts.order):
        c = counts.counts[L].astype(float)
        tot = _ctx_sum(counts, L, c)
        wt = np.full(len(tot), 0.0 if L == 0 else alpha)
        levels.append(Level(BACKOFF, c / tot[counts.event_ctx(L)], wt, unseen_factor=alpha))
    return Estimator("stupid-backoff", levels, np.zeros(counts.vocab_size), normalised=False)


def build_estimator(
    counts: NGramCounts,
    smoothing: str,
    k: float,
    discount: float | Sequence[float] | None,
    n_predictable: int,
) -> Estimator:
    if smoothing == "mle":
        return mle(counts)
    if smoothing == "add-k":
        return add_k(counts, k, n_predictable)
    if smoothing in ("kneser-ney", "modified-kneser-ney"):
        return kneser_ney(counts, discount, modified=smoothing == "modified-kneser-ney")
    if smoothing == "katz":
        return katz(counts, n_predictable)
    if smoothing == "stupid-backoff":
        return stupid_backoff(counts)
    raise ValueError(f"unknown smoothing {smoothing!r}; choose one of: {', '.join(SMOOTHINGS)}")
