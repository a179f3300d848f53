"""Core verbs: data, train, eval, translate, plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from attnlab.cli import _texts, _utf8, _writable, app, data_app, out, plot_app
from attnlab.errors import UserError

# ------------------------------------------------------------------------------------------------ data


@data_app.command("list")
def data_list() -> None:
    """Every dataset attnlab knows, its task, size and where it was found."""
    from attnlab.data.registry import DATASETS, locate

    table = Table("name", "task", "rows", "found at")
    for name, info in DATASETS.items():
        where = locate(name)
        table.add_row(
            name, info.task, info.rows, str(where) if where else Text("not found — attnlab data fetch", "dim")
        )
    out.print(table)


@data_app.command("show")
def data_show(
    name: str,
    plots: Annotated[
        Path | None, typer.Option(help="write the dataset's EDA figures into this directory")
    ] = None,
) -> None:
    """Counts, length statistics and samples of a dataset."""
    from attnlab.data.corpora import describe

    info = describe(name)
    out.print_json(json.dumps(info, ensure_ascii=False, default=str))
    if plots is not None:
        from attnlab.data.corpora import load_classification
        from attnlab.viz.eda import imdb_figures

        if name != "imdb":
            raise UserError("--plots draws the IMDB review figures; use it with `attnlab data show imdb`")
        splits = load_classification(name)
        figures = imdb_figures([text for rows in splits.values() for text, _ in rows], plots)
        for variant, size in figures["vocab_sizes"].items():
            out.print(f"vocabulary size ({variant}): {size:,}")
        for label, path in figures["files"].items():
            out.print(f"wrote {path}  ({label})")


@data_app.command("fetch")
def data_fetch(name: str, force: bool = False) -> None:
    """Download a dataset from its canonical source into the cache, verifying its sha256."""
    from attnlab.data.fetch import fetch

    path = fetch(name, force=force)
    out.print(f"{name}: ready at {path}")


# ------------------------------------------------------------------------------------------------ train


@app.command()
def train(
    recipe: Annotated[
        Path, typer.Argument(help="a YAML recipe, e.g. recipes/translate-spa-eng-bahdanau.yaml")
    ],
    set_: Annotated[list[str] | None, typer.Option("--set", help="override: section.key=value")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="run directory (default runs/<recipe>)")
    ] = None,
    max_minutes: Annotated[float | None, typer.Option(help="stop cleanly after this many minutes")] = None,
    resume: Annotated[
        bool, typer.Option(help="continue the run in --out from its latest checkpoint")
    ] = False,
    resume_from: Annotated[Path | None, typer.Option(help="continue from this checkpoint directory")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or mps")] = None,
    nproc: Annotated[int | None, typer.Option(help="launch N processes with torchrun (DDP)")] = None,
) -> None:
    """Train a recipe. Ctrl-C or --max-minutes stop cleanly; --resume continues exactly."""
    from attnlab import runs
    from attnlab.recipe import load_recipe
    from attnlab.train.trainer import describe_stop

    if nproc and nproc > 1:
        from attnlab.train.launch import relaunch_with_torchrun

        raise typer.Exit(relaunch_with_torchrun(nproc))
    overrides = list(set_ or [])
    if max_minutes is not None:
        overrides.append(f"train.max_minutes={max_minutes}")
    if device is not None:
        overrides.append(f"train.device={device}")
    rec = load_recipe(recipe, overrides)
    result = runs.train(rec, out_dir, resume=resume, resume_from=resume_from)
    if result is not None and result.state is not None:
        out.print(f"{result.run_dir}: {describe_stop(result)}")


@app.command()
def average(
    run: Path,
    last: Annotated[int, typer.Option(help="how many of the newest checkpoints to average")] = 5,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="new run directory (default RUN-avgK)")
    ] = None,
) -> None:
    """Average the weights of a run's last K checkpoints into a new run (Vaswani et al. 2017)."""
    from attnlab.average import average_run

    dest, names = average_run(run, out_dir, last=last)
    out.print(f"{dest}: mean of {len(names)} checkpoints ({', '.join(names)})")


# ------------------------------------------------------------------------------------------------ use


@app.command("eval")
def evaluate(
    run: Path,
    split: Annotated[str, typer.Option(help="which split of the run's data: test or valid")] = "test",
    file: Annotated[Path | None, typer.Option(help="evaluate on this file instead (task format)")] = None,
    by_length: Annotated[bool, typer.Option(help="translation: BLEU per source-length bucket")] = False,
    beam: int = 1,
    columns: Annotated[
        str | None,
        typer.Option(
            help="translation/chat --file: its columns in order, by role or language (src,ref / en,es / "
            "ref,src,-); default: the dataset's own layout (spa.txt: English<TAB>Spanish)"
        ),
    ] = None,
    precision: Annotated[
        str, typer.Option(help="fp32 (default, whatever the run trained in) or bf16 autocast")
    ] = "fp32",
) -> None:
    """Evaluate a trained run; results go to RUN/eval-<split>.json."""
    from attnlab.evaluate import evaluate_run

    result = evaluate_run(
        run, split=split, file=file, by_length=by_length, beam=beam, columns=columns, precision=precision
    )
    out.print_json(json.dumps(result, ensure_ascii=False))


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="translation run directories")],
    output: Annotated[Path, typer.Option("-o", "--output", help="BLEU-by-length figure")] = Path(
        "compare.png"
    ),
    beam: Annotated[int, typer.Option(min=1, max=64)] = 1,
) -> None:
    """One table across translation runs (test BLEU, chrF, BLEU per source length) and a bar chart."""
    from attnlab.compare import compare_runs, plot_comparison

    rows = compare_runs(runs, beam=beam)
    buckets = sorted(
        {b for r in rows for b in r["by_length"]}, key=lambda b: int(b.split("-")[0].rstrip("+"))
    )
    print("\t".join(["run", "model", "steps", "min", "BLEU", "chrF", *buckets]))
    for r in rows:
        cells = [
            r["run"],
            r["model"],
            str(r["steps"]),
            str(r["minutes"]),
            f"{r['bleu']:.1f}",
            f"{r['chrf']:.1f}",
        ]
        print("\t".join(cells + [f"{r['by_length'].get(b, float('nan')):.1f}" for b in buckets]))
    out.print(f"wrote {plot_comparison(rows, output)}")


@app.command()
def translate(
    run: Path,
    texts: Annotated[list[str] | None, typer.Argument(help="sentences (or lines on stdin)")] = None,
    beam: Annotated[int, typer.Option(min=1, max=64)] = 1,
    n_best: Annotated[int, typer.Option(min=1, max=64)] = 1,
    alpha: Annotated[float, typer.Option(help="GNMT length penalty")] = 0.6,
) -> None:
    """Translate sentences with a trained run (greedy, or beam search with --beam)."""
    from attnlab.runs import load_run

    if n_best > beam:
        raise UserError(f"--n-best {n_best} is larger than --beam {beam}; raise --beam")
    loaded = load_run(run)
    results = loaded.task.translate(loaded.model, _texts(texts), beam=beam, n_best=n_best, alpha=alpha)
    for nbest in results:
        # Plain print: results are data for pipes (tabs kept, no markup interpretation of "[...]").
        if n_best == 1:
            print(nbest[0].text)
        else:
            for i, t in enumerate(nbest, 1):
                print(f"{i}\t{t.score:.3f}\t{t.text}")


# ------------------------------------------------------------------------------------------------ plots


@plot_app.command("attention")
def plot_attention(
    run: Path,
    text: str,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="PNG to write, or .html for the offline interactive view")
    ] = Path("attention.png"),
    kind: Annotated[
        str, typer.Option(help="Transformer: cross, encoder, decoder (self-attention) or all")
    ] = "cross",
    layer: Annotated[int | None, typer.Option(help="Transformer: only this layer (1-based)")] = None,
    head: Annotated[int | None, typer.Option(help="Transformer: only this head of --layer (1-based)")] = None,
    export_attention: Annotated[
        Path | None, typer.Option(help="also write the maps as JSON in bertviz head_view/model_view layout")
    ] = None,
) -> None:
    """Draw the attention a trained model pays while processing TEXT (Transformers: layers × heads)."""
    from attnlab.runs import load_run
    from attnlab.serve.explain import explain
    from attnlab.viz import html

    _utf8(text)
    _writable(output)
    if export_attention is not None:
        _writable(export_attention, "--export-attention")
    loaded = load_run(run)  # once, shared by every view below
    data = None  # explain()'s dict, which the HTML view and the export draw
    if output.suffix.lower() in (".html", ".htm"):
        data = explain(loaded, text)
        out.print(f"wrote {html.write_html(data, output)}")
    else:
        from attnlab.inspect import plot_run_attention

        for path in plot_run_attention(loaded, text, output, kind=kind, layer=layer, head=head):
            out.print(f"wrote {path}")
    if export_attention is not None:
        out.print(f"wrote {html.write_bertviz_json(data or explain(loaded, text), export_attention)}")


@plot_app.command("pe")
def plot_pe(
    d_model: Annotated[int, typer.Option(min=2, max=4096)] = 128,
    length: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    output: Annotated[Path, typer.Option("-o", "--output")] = Path("pe.png"),
) -> None:
    """The sinusoidal positional-encoding matrix as a heatmap."""
    from attnlab.nn.positional import sinusoidal_encoding
    from attnlab.viz.plots import positional_encoding

    _writable(output)
    out.print(f"wrote {positional_encoding(sinusoidal_encoding(length, d_model).numpy(), output)}")


@plot_app.command("schedule")
def plot_schedule(
    d_model: Annotated[int, typer.Option(min=1)] = 256,
    warmup: Annotated[int, typer.Option(min=1)] = 4000,
    steps: Annotated[int, typer.Option(min=2)] = 40000,
    output: Annotated[Path, typer.Option("-o", "--output")] = Path("lr.png"),
) -> None:
    """The Noam learning-rate curve: d_model^-0.5 · min(step^-0.5, step · warmup^-1.5)."""
    import numpy as np

    from attnlab.train.schedules import noam
    from attnlab.viz.plots import lr_schedule

    _writable(output)
    xs = np.arange(1, steps + 1)
    ys = np.array([noam(int(s), d_model, warmup) for s in xs])
    title = f"Noam schedule, d_model={d_model}, warmup={warmup}"
    out.print(f"wrote {lr_schedule(xs, ys, output, title=title)}")


_FITTED_KINDS = {"ngram": "n-gram", "bow": "bag-of-words", "word2vec": "word2vec"}


def _curve_data(run: Path, x: str) -> dict:
    """A run's metrics.jsonl records, train.metric and best step, for `plot curves` (fitted runs refused)."""
    from attnlab.fileio import read_json
    from attnlab.runs import check_run_dir, load_recipe_of
    from attnlab.tasks import get_task

    path = check_run_dir(run)
    recipe = load_recipe_of(path)
    task = get_task(recipe.task)(recipe, path)
    if task.fitted():
        kind = _FITTED_KINDS.get(recipe.arch, recipe.arch)
        raise UserError(f"{path} is a fitted model ({kind}, fitted in one pass): it has no training curve")
    metrics = path / "metrics.jsonl"
    try:
        lines = metrics.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError(f"{path} has no metrics.jsonl yet: its training has not logged a step") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"cannot read {metrics}: {err}") from None
    records = []
    for line in lines:  # a line cut short (a run killed mid-write, or still being written) is skipped
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            records.append(record)
    if not any(r.get("split") == "train" for r in records):
        raise UserError(f"{metrics} holds no training step yet; plot it once the run has logged one")
    if x == "minutes" and not all(isinstance(r.get("seconds"), int | float) for r in records):
        raise UserError(f"{metrics} records no training time (a run from an older attnlab); use --x steps")
    summary_path = path / "summary.json"
    summary = read_json(summary_path, "training summary") if summary_path.is_file() else {}
    best = summary.get("best_step") if isinstance(summary, dict) else None
    if best is None and (path / "checkpoints" / "best").is_file():  # still training: no summary yet
        name = (path / "checkpoints" / "best").read_text(encoding="utf-8").strip()
        best = int(name.split("-")[1]) if name.startswith("step-") and name[5:].isdigit() else None
    return {"records": records, "metric": recipe.train.metric, "best_step": best}


@plot_app.command("curves")
def plot_curves(
    runs: Annotated[list[Path], typer.Argument(help="run directories, trained or still training")],
    output: Annotated[Path, typer.Option("-o", "--output", help="PNG to write")] = Path("curves.png"),
    x: Annotated[str, typer.Option("--x", help="steps, or minutes of training time")] = "steps",
) -> None:
    """Train and validation loss (and train.metric, e.g. BLEU) of runs on shared axes, best checkpoints marked."""
    from attnlab.viz.plots import training_curves

    if x not in ("steps", "minutes"):
        raise UserError(f"--x must be steps or minutes, got {x!r}")
    _writable(output)
    data = {run: _curve_data(run, x) for run in dict.fromkeys(runs)}
    names = [run.name or str(run) for run in data]
    if len(set(names)) < len(names):  # the same name in two places: the legend shows the paths
        names = [str(run) for run in data]
    curves = dict(zip(names, data.values(), strict=True))
    out.print(f"wrote {training_curves(curves, output, x=x)}")
