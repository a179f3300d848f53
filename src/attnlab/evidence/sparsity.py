"""Sparsity of count-based language models, measured on seed 001's corpus (Nietzsche, word tokens).

Split and units as the project's n-gram LMs (tasks/lm.py): the last 10% of the characters is held out,
both parts are cut into sentences and lower-cased word tokens (WordTokenizer), and each sentence is padded
`<s>^{n-1} w_1 … w_m </s>` (attnlab.ngram). Two measurements:

* the share of held-out n-gram *occurrences* (and of distinct held-out n-grams) that never occur in the
  training part, for n = 1 … 5: once with the words as written, once with the vocabulary the models use
  (words seen once in training → `<unk>`), since mapping rare words to `<unk>` is itself a fix for the
  unigram part of the problem but not for the longer n-grams;
* held-out perplexity of `NGramLM` with MLE, add-k (k = 1, Laplace, and k = 0.01, both fixed in advance:
  nothing is tuned on the held-out text) and interpolated Kneser-Ney, for n = 1 … 4. MLE gives probability
  0 to every unseen event, so its perplexity is infinite as soon as one such token occurs: recorded as
  null, with the number of zero-probability tokens.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from attnlab.data.corpora import load_text
from attnlab.data.text import WordTokenizer
from attnlab.ngram import NGramLM
from attnlab.ngram.counts import encode_corpus, padded_grams
from attnlab.tasks.lm import segments
from attnlab.viz import plots

TITLE = "Count-based language models suffer from sparsity; smoothing fixes the zeros"
CLAIM = (
    "A statistical (count-based) language model gives probability zero to anything it never saw in its "
    "corpus, and the longer the n-gram the more of real text is unseen; smoothing and back-off were "
    "invented to fix this."
)
DATASET = "nietzsche"
HELD_OUT = 0.1  # the last 10% of the characters, as `data.valid_fraction` in the LM recipes
MIN_COUNT = 2  # the models' vocabulary: words seen once in training become <unk>
SMOOTHERS = {"MLE": ("mle", 1.0), "add-1": ("add-k", 1.0), "add-0.01": ("add-k", 0.01),
             "Kneser-Ney": ("kneser-ney", 1.0)}  # fmt: skip


def _sentences(text: str) -> list[list[str]]:
    tok = WordTokenizer()
    return [t for t in (tok.tokenize(s) for s in segments(text, "sentence")) if t]


def _unseen(train: list, test: list, orders: range, vocab=None) -> dict:
    """Share of test n-gram occurrences / types absent from train, per order.

    ``vocab`` None: every distinct word keeps its own id (a vocabulary over both parts, used only to
    compare strings); otherwise the model's vocabulary, with out-of-vocabulary words as `<unk>`.
    """
    if vocab is None:
        vocab, _, _ = encode_corpus(train + test)
    _, tr_ids, tr_len = encode_corpus(train, vocab)
    _, te_ids, te_len = encode_corpus(test, vocab)
    tokens, types = [], []
    for n in orders:
        tr, te = padded_grams(tr_ids, tr_len, n), padded_grams(te_ids, te_len, n)  # (N, n) rows
        # One integer per distinct n-gram over both parts, so membership is a plain isin on ints.
        _, inv = np.unique(np.vstack([tr, te]), axis=0, return_inverse=True)
        inv = inv.ravel()
        seen = np.isin(inv[len(tr) :], inv[: len(tr)])
        tokens.append(float(1.0 - seen.mean()))
        te_types, first = np.unique(inv[len(tr) :], return_index=True)
        types.append(float(1.0 - seen[first].mean()) if len(te_types) else 0.0)
    return {"tokens": tokens, "types": types}


def _missing(points: list, orders: range) -> str:
    """The orders with no finite point, e.g. "2, 3, 4" (for the legend of the perplexity figure)."""
    return ", ".join(str(n) for n in orders if n not in {m for m, _ in points})


def run(quick: bool, out: Path) -> dict:
    text = load_text(DATASET)
    if quick:
        text = text[:100_000]
    cut = len(text) - int(len(text) * HELD_OUT)
    train, test = _sentences(text[:cut]), _sentences(text[cut:])
    orders, ppl_orders = range(1, 6), range(1, 4 if quick else 5)

    perplexity: dict[str, list] = {name: [] for name in SMOOTHERS}
    zeros: dict[str, list] = {name: [] for name in SMOOTHERS}
    vocab = None
    for n in ppl_orders:
        for name, (smoothing, k) in SMOOTHERS.items():
            lm = NGramLM(n, smoothing, k=k, min_count=MIN_COUNT).fit(train)
            rep = lm.evaluate(test)
            perplexity[name].append(None if rep.n_zero else round(rep.perplexity, 2))  # None = infinite
            zeros[name].append(rep.n_zero)
            vocab, n_tokens, n_oov = lm.vocab, rep.n_tokens, rep.n_oov

    numbers = {
        "dataset": DATASET,
        "characters": len(text),
        "train_sentences": len(train),
        "train_tokens": sum(map(len, train)),
        "test_sentences": len(test),
        "test_tokens_scored": n_tokens,  # words + one </s> per sentence
        "test_oov_tokens": n_oov,
        "vocab_size": len(vocab),
        "min_count": MIN_COUNT,
        "orders": list(orders),
        "unseen_words_as_written": _unseen(train, test, orders),
        "unseen_model_vocab": _unseen(train, test, orders, vocab),
        "ppl_orders": list(ppl_orders),
        "perplexity": perplexity,  # null = infinite (some token had probability 0)
        "zero_prob_tokens": zeros,
    }
    raw, unk = numbers["unseen_words_as_written"], numbers["unseen_model_vocab"]
    plots.curves(
        {
            "words as written": (orders, [100 * v for v in raw["tokens"]]),
            f"rare words → <unk> (seen < {MIN_COUNT}×)": (orders, [100 * v for v in unk["tokens"]]),
        },
        out / "sparsity.png",
        xlabel="n (n-gram order)",
        ylabel="held-out n-grams never seen in training (%)",
        title=f"Sparsity on {DATASET} ({numbers['train_tokens']:,} training words)",
    )
    finite = {name: [(n, p) for n, p in zip(ppl_orders, v, strict=True) if p is not None]
              for name, v in perplexity.items()}  # fmt: skip
    plots.curves(
        {
            (
                name
                if len(pts) == len(ppl_orders)
                else f"{name} (infinite at n = {_missing(pts, ppl_orders)})"
            ): (
                [n for n, _ in pts],
                [p for _, p in pts],
            )
            for name, pts in finite.items()
            if pts
        },
        out / "sparsity-perplexity.png",
        xlabel="n (n-gram order)",
        ylabel="held-out perplexity (log scale)",
        title="Perplexity by smoothing (MLE drawn only where finite)",
        logy=True,
    )
    return numbers


def reading(numbers: dict) -> str:
    orders, ppl_orders = numbers["orders"], numbers["ppl_orders"]
    raw, unk = numbers["unseen_words_as_written"]["tokens"], numbers["unseen_model_vocab"]["tokens"]
    ppl, zeros = numbers["perplexity"], numbers["zero_prob_tokens"]
    rising = all(b > a for a, b in zip(raw, raw[1:], strict=False))
    pct = lambda values: ", ".join(f"{100 * v:.1f}%" for v in values)
    parts = [
        f"On {numbers['dataset']} ({numbers['train_tokens']:,} training words, {numbers['test_tokens_scored']:,} "
        f"held-out tokens) the share of held-out n-grams never seen in training is {pct(raw)} for "
        f"n = {orders[0]}…{orders[-1]} ({'rising with every n' if rising else 'not rising with every n'}); "
        f"with words seen once in training mapped to <unk> it is {pct(unk)}."
    ]
    mle_inf = [(n, z) for n, p, z in zip(ppl_orders, ppl["MLE"], zeros["MLE"], strict=True) if p is None]
    if mle_inf:
        parts.append(
            f"MLE perplexity is infinite for n = {', '.join(str(n) for n, _ in mle_inf)}: "
            + ", ".join(f"{z:,}" for _, z in mle_inf)
            + f" of the {numbers['test_tokens_scored']:,} held-out tokens get probability 0."
        )
    else:
        parts.append("MLE never assigned probability 0 here (no unseen events at these orders).")
    smoothed = {name: v for name, v in ppl.items() if name != "MLE"}
    finite = all(p is not None for v in smoothed.values() for p in v)
    best = {name: min(zip(v, ppl_orders, strict=True)) for name, v in smoothed.items() if None not in v}
    parts.append(
        f"The smoothed models are {'finite at every n' if finite else 'NOT all finite'}: "
        + "; ".join(
            f"{name} " + ", ".join(f"{p:.0f}" for p in v) for name, v in smoothed.items() if None not in v
        )
        + f" (n = {ppl_orders[0]}…{ppl_orders[-1]}); the best order is "
        + ", ".join(f"n = {n} for {name} ({p:.0f})" for name, (p, n) in best.items())
        + "."
    )
    if "Kneser-Ney" in best and all(
        best["Kneser-Ney"][0] < p for name, (p, _) in best.items() if name != "Kneser-Ney"
    ):
        parts.append(
            "Kneser-Ney beats the best add-k at any order: removing the zeros is not enough, the mass given "
            "to unseen events has to go where lower orders say it belongs."
        )
    kn = ppl["Kneser-Ney"]
    if None not in kn and len(kn) > 2:
        gains = [a - b for a, b in zip(kn, kn[1:], strict=False)]
        shrinking = all(b < a for a, b in zip(gains, gains[1:], strict=False))
        parts.append(
            "Kneser-Ney's perplexity drop per extra order is "
            + ", ".join(f"{g:.1f}" for g in gains)
            + (
                ": each longer context helps less, because more of it is unseen (smoothing removes the "
                "zeros, not the sparsity)."
                if shrinking
                else " (not shrinking steadily)."
            )
        )
    parts.append(
        f"This is one corpus of {numbers['train_tokens']:,} words and one split, with out-of-vocabulary "
        "words scored as <unk> (which flatters every perplexity); it does not compare with neural models."
    )
    return " ".join(parts)
