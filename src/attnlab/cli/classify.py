"""Sentiment verbs: `classify` (neural or bag-of-words runs), `similar` (nearest training reviews) and
`similar-words` (word2vec neighbours)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from attnlab.cli import _texts, _utf8, app


@app.command()
def classify(
    run: Path,
    texts: Annotated[list[str] | None, typer.Argument(help="reviews (or one per line on stdin)")] = None,
    top: Annotated[
        int, typer.Option(min=0, max=50, help="attention models: show the N most-attended tokens")
    ] = 5,
) -> None:
    """Label each review (positive / negative) with its probability; attention models also list the tokens
    they attended to most."""
    from attnlab.runs import load_run

    loaded = load_run(run)
    loaded.task.require("classify")
    texts = _texts(texts)
    predictions = loaded.task.classify(loaded.model, texts)
    note = loaded.task.truncation_note(texts)
    if note:
        print(note, file=sys.stderr)
    for p in predictions:
        # Plain print: results are data for pipes (tab-separated, no markup).
        line = f"{p.label}\t{p.probability:.4f}"
        if top and p.attention is not None:
            line += "\t" + " ".join(f"{tok}:{w:.2f}" for tok, w in p.ranked(top))
        print(line)


@app.command()
def similar(
    run: Path,
    text: Annotated[str, typer.Argument(help="a review")],
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="how many neighbours")] = 5,
) -> None:
    """The K training reviews nearest to TEXT (cosine of the bag-of-words rows of a classic run)."""
    from attnlab.runs import load_run
    from attnlab.tasks.classic import check_classic

    _utf8(text)
    loaded = load_run(run)
    check_classic(loaded, "bow", "similar")
    for index, score, snippet in loaded.task.similar(loaded.model, text, k):
        print(f"{score:.3f}\t#{index}\t{snippet}")


@app.command("similar-words")
def similar_words(
    run: Path,
    word: str,
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="how many neighbours")] = 10,
) -> None:
    """The K nearest words to WORD in a word2vec run's vectors."""
    from attnlab.classic.word2vec import most_similar
    from attnlab.runs import load_run
    from attnlab.tasks.classic import check_classic

    _utf8(word, "the word")
    loaded = load_run(run)
    check_classic(loaded, "word2vec", "similar-words")
    for w, score in most_similar(loaded.model, word.strip().lower(), k):
        print(f"{score:.3f}\t{w}")
