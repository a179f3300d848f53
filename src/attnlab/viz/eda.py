"""Exploratory figures for a review corpus (IMDB): lengths and the most frequent words.

`imdb_figures(texts, out_dir)` writes seven PNGs — word-count histograms (all reviews, and below the
0.99 quantile), the review-length distribution with its mean, and top-10 word treemaps for all words,
words without stop words, lemmas and stems — and returns the vocabulary size of each variant.
Figures are drawn on standalone Agg canvases (no pyplot state), so nothing stays open.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import squarify
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from attnlab.classic.preprocess import clean, lemmatize, remove_stopwords, stem, tokenize
from attnlab.errors import UserError

FIGURES = (
    "word_count_hist",
    "word_count_hist_q99",
    "review_length",
    "top10_words",
    "top10_no_stop",
    "top10_lemmas",
    "top10_stems",
)


def _figure(width: float, height: float) -> tuple[Figure, Any]:
    """A standalone Agg figure: no pyplot, so no global backend switch and nothing left open."""
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig: Figure, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    fig.clear()
    return str(path)


def _histogram(values: np.ndarray, title: str, xlabel: str, path: Path, mean: bool = False) -> str:
    fig, ax = _figure(8, 4.5)
    ax.hist(values, bins=60, color="#4C72B0", edgecolor="white", linewidth=0.4)
    if mean:
        m = float(values.mean())
        ax.axvline(m, color="#C44E52", linestyle="--", linewidth=1.8, label=f"mean = {m:,.0f}")
        ax.legend()
    ax.set(title=title, xlabel=xlabel, ylabel="reviews")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def _treemap(counts: Counter, title: str, path: Path) -> str:
    top = counts.most_common(10)
    fig, ax = _figure(8, 5)
    if top:
        sizes = [c for _, c in top]
        colors = matplotlib.colormaps["viridis"](np.linspace(0.15, 0.85, len(top)))
        squarify.plot(
            sizes=sizes,
            label=[f"{w}\n{c:,}" for w, c in top],
            color=colors,
            alpha=0.85,
            ax=ax,
            text_kwargs={"color": "white", "fontsize": 10},
            pad=True,
        )
    ax.set_title(title)
    ax.axis("off")
    return _save(fig, path)


def _count(token_lists: Iterable[list[str]]) -> Counter:
    counts: Counter = Counter()
    for tokens in token_lists:
        counts.update(tokens)
    return counts


def imdb_figures(texts: Sequence[str], out_dir: str | Path, stem_algorithm: str = "porter") -> dict[str, Any]:
    """Write the EDA PNGs for ``texts`` into ``out_dir``.

    Word counts are whitespace tokens of the raw review (as in the dataset README); the vocabularies
    use our pipeline: raw = clean + tokenize, then stop words removed, then lemmas or stems of those.
    Returns ``{"n_reviews", "word_count": {mean, median, q99, max}, "mean_chars", "vocab_sizes":
    {raw, no_stop, lemma, stem}, "files": {figure name: path}}``.
    """
    texts = [t for t in texts if isinstance(t, str)]
    if not texts:
        raise UserError("no reviews to plot; pass a non-empty list of texts")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    words = np.array([len(t.split()) for t in texts], dtype=np.int64)
    chars = np.array([len(t) for t in texts], dtype=np.int64)
    q99 = float(np.quantile(words, 0.99))

    raw = [tokenize(clean(t)) for t in texts]
    no_stop = [remove_stopwords(t) for t in raw]
    lemmas = [lemmatize(t) for t in no_stop]
    stems = [stem(t, stem_algorithm) for t in no_stop]
    counts = {"raw": _count(raw), "no_stop": _count(no_stop), "lemma": _count(lemmas), "stem": _count(stems)}

    n = len(texts)
    files = {
        "word_count_hist": _histogram(
            words, f"Words per review (all {n:,} reviews)", "words (whitespace tokens)",
            out / "word_count_hist.png",
        ),
        "word_count_hist_q99": _histogram(
            words[words <= q99], f"Words per review, below the 0.99 quantile ({q99:,.0f} words)",
            "words (whitespace tokens)", out / "word_count_hist_q99.png",
        ),
        "review_length": _histogram(
            chars, "Review length distribution", "characters", out / "review_length.png", mean=True
        ),
        "top10_words": _treemap(counts["raw"], "Top 10 words (all words)", out / "top10_words.png"),
        "top10_no_stop": _treemap(counts["no_stop"], "Top 10 words without stop words", out / "top10_no_stop.png"),
        "top10_lemmas": _treemap(counts["lemma"], "Top 10 lemmas (stop words removed)", out / "top10_lemmas.png"),
        "top10_stems": _treemap(
            counts["stem"], f"Top 10 stems ({stem_algorithm}, stop words removed)", out / "top10_stems.png"
        ),
    }  # fmt: skip
    return {
        "n_reviews": n,
        "word_count": {
            "mean": float(words.mean()),
            "median": float(np.median(words)),
            "q99": q99,
            "max": int(words.max()),
        },
        "mean_chars": float(chars.mean()),
        "vocab_sizes": {name: len(c) for name, c in counts.items()},
        "files": files,
    }
