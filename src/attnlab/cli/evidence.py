"""`attnlab evidence`: list the seeds' claims or reproduce one (figure + numbers into docs/evidence/)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from attnlab.cli import app


@app.command()
def evidence(
    name: Annotated[str, typer.Argument(help="an experiment (see `attnlab evidence list`), 'list' or 'all'")],
    quick: Annotated[bool, typer.Option(help="the seconds-long version (what the tests run)")] = False,
    out: Annotated[Path, typer.Option(help="where NAME.png and NAME.json go")] = Path("docs/evidence"),
) -> None:
    """Reproduce one of the seeds' claims on the real data: a figure, its numbers and a reading."""
    from attnlab.evidence import NAMES, experiment, run_experiment

    if name == "list":
        for n in NAMES:
            print(f"{n:<22}{experiment(n).TITLE}")
        return
    for n in NAMES if name == "all" else [name]:
        experiment(n)  # unknown names fail before any work starts
    for n in NAMES if name == "all" else [name]:
        record = run_experiment(n, quick=quick, out=out)
        print(f"{n}: {record['seconds']:.0f} s -> {out / record['figure']}, {out / (n + '.json')}")
        print(f"  {record['reading']}")
