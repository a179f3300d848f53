"""Language-model verbs: `score` (chain-rule factors) and `generate` (sampling), for n-gram and neural runs;
`export --arpa` (an n-gram run as an ARPA back-off file)."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated

import typer

from attnlab.cli import _texts, _utf8, _writable, app, out
from attnlab.errors import UserError


def _lm_run(run: Path):
    from attnlab.runs import load_run

    loaded = load_run(run)
    if loaded.recipe.task != "lm":
        raise UserError(
            f"{run} is a {loaded.recipe.task} run; score and generate need a language model (task: lm)"
        )
    return loaded


def _temperatures(text: str) -> list[float]:
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise UserError(
            f"--temperature takes a number or a comma-separated list (0.2,0.5,1.0), got {text!r}"
        ) from None
    if not values or any(v < 0 for v in values):
        raise UserError(f"--temperature values must be >= 0 (0 = greedy), got {text!r}")
    return values


@app.command()
def score(
    run: Path,
    texts: Annotated[list[str] | None, typer.Argument(help="sentences (or lines on stdin)")] = None,
) -> None:
    """Each conditional factor P(word | context) of a sentence and its total log-probability."""
    loaded = _lm_run(run)
    for text in _texts(texts):
        factors, logprob = loaded.task.score(loaded.model, text)
        for word, context, prob in factors:
            print(f"P({word} | {context}) = {prob:.6g}")
        ppl = math.exp(-logprob / len(factors)) if math.isfinite(logprob) else math.inf
        print(f"log P = {logprob:.4f} (natural log, {len(factors)} factors; perplexity {ppl:.4g})")


@app.command()
def generate(
    run: Path,
    prompt: Annotated[
        str, typer.Option(help="text to continue (empty: start from a newline, char models)")
    ] = "",
    length: Annotated[int, typer.Option(min=0, max=100_000, help="tokens to generate")] = 400,
    temperature: Annotated[str, typer.Option(help="T > 0, 0 = greedy, or a list: 0.2,0.5,1.0,1.2")] = "1.0",
    top_k: Annotated[int | None, typer.Option(min=1, help="sample among the k most likely tokens")] = None,
    top_p: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="nucleus sampling mass")] = None,
    seed: Annotated[int | None, typer.Option(help="same seed, same text")] = None,
) -> None:
    """Sample text from a language model (KV cache for the Transformer, carried state for the LSTM)."""
    _utf8(prompt, "--prompt")
    loaded = _lm_run(run)
    temps = _temperatures(temperature)
    note = loaded.task.prompt_limit_note(loaded.model, prompt)
    if note:
        print(note, file=sys.stderr)
    for t in temps:
        text = loaded.task.generate(loaded.model, prompt, length=length, temperature=t, top_k=top_k, top_p=top_p,
                                    seed=seed)  # fmt: skip
        if len(temps) > 1:
            out.print(f"----- temperature {t}", markup=False, highlight=False)
        sep = "" if loaded.recipe.data.tokenizer == "char" or not prompt else " "
        print(prompt + sep + text if prompt else text)


@app.command()
def export(
    run: Path,
    arpa: Annotated[
        Path, typer.Option(help="write the n-gram model here as an ARPA file (log10, for KenLM/SRILM)")
    ],
) -> None:
    """Write an n-gram run's model as an ARPA back-off file that KenLM or SRILM can load."""
    from attnlab.ngram.arpa import check_representable, write_arpa
    from attnlab.runs import check_run_dir, load_recipe_of, load_run

    recipe = load_recipe_of(check_run_dir(run))  # refuse a neural run before loading its checkpoint
    if recipe.task != "lm" or recipe.arch != "ngram":
        kind = f"an lm run with model.arch {recipe.arch}" if recipe.task == "lm" else f"a {recipe.task} run"
        raise UserError(
            f"{run} is {kind}; --arpa exports count-based n-gram models (task: lm, model.arch: ngram)"
        )
    loaded = load_run(run)
    check_representable(loaded.model)  # before touching the output path
    sizes = write_arpa(loaded.model, _writable(arpa, "--arpa"))
    counts = ", ".join(f"{c:,} {m}-grams" for m, c in enumerate(sizes, 1))
    print(f"wrote {arpa} ({loaded.model.smoothing}, order {loaded.model.order}: {counts})")
