"""`attnlab seeds run|table`: a recipe over several seeds, and the table of their means and spreads."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from attnlab.cli import app, out

seeds_app = typer.Typer(no_args_is_help=True, help="One recipe over several seeds: run them, tabulate them.")
app.add_typer(seeds_app, name="seeds")


@seeds_app.command("run")
def seeds_run(
    recipe: Annotated[Path, typer.Argument(help="a YAML recipe")],
    seeds: Annotated[str, typer.Option(help="training seeds: 1,2,3 or 1-3")] = "1,2,3",
    set_: Annotated[list[str] | None, typer.Option("--set", help="override: section.key=value")] = None,
    runs: Annotated[Path, typer.Option(help="run directories go to RUNS/<recipe>/seed<k>")] = Path(
        "runs/seeds"
    ),
    results: Annotated[Path, typer.Option(help="results files go to RESULTS/<recipe>/seed<k>.json")] = Path(
        "bench/results/seeds"
    ),
    target: Annotated[
        str | None, typer.Option(help="e.g. loss<=1.30: met only if the test mean meets it")
    ] = None,
    label: Annotated[
        str | None, typer.Option(help="folder name for runs and results (default: the recipe's name)")
    ] = None,
) -> None:
    """Train RECIPE once per seed (finished runs are reused), evaluate valid and test, write one results file
    per seed, then print the table of means and spreads."""
    from attnlab.seeds import parse_seeds, parse_target, run_seed, table

    seed_list = parse_seeds(seeds)
    if target:
        parse_target(target)  # a typo fails now, not after hours of training
    command = shlex.join(["attnlab", *sys.argv[1:]]) if sys.argv[1:2] == ["seeds"] else None
    paths = [
        run_seed(recipe, s, list(set_ or []), runs, results, command=command, label=label) for s in seed_list
    ]
    for path in paths:
        out.print(f"wrote {path}")
    print(table([paths[0].parent], target))


@seeds_app.command("table")
def seeds_table(
    directories: Annotated[list[Path], typer.Argument(help="results directories (RESULTS/<recipe>)")],
    target: Annotated[
        str | None, typer.Option(help="e.g. bleu>=40: met only if the test mean meets it")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="means and spreads as JSON")] = False,
) -> None:
    """Mean and spread (min–max) of valid beside test, per recipe and metric, from the results files."""
    from attnlab.seeds import results_json, table

    if as_json:
        print(json.dumps([results_json(d) for d in directories], indent=2))
    else:
        print(table(directories, target))
