"""`explain(run, text, **opts)`: one input through a loaded run -> its task's explain() dict, checked against
the contract (attnlab/explain.py), for the web explorer (serve/app.py); and the offline HTML view and
bertviz-layout export of a run (viz/html.py draws them from that dict)."""

from __future__ import annotations

from pathlib import Path

from attnlab.errors import UserError
from attnlab.explain import check_explained
from attnlab.runs import Run, load_run
from attnlab.viz import html


def explain(run, text: str, **opts) -> dict:
    """Run `text` through a loaded run (attnlab.runs.Run) -> the contract dict.

    Every Task has `explain(model, text, **opts)`; one without a view raises UserError "task X has no
    explorer view yet" (the server answers 422 with it)."""
    if not isinstance(text, str) or not text.strip():
        raise UserError("empty input: type some text")
    try:
        view = run.task.explain
    except AttributeError:  # a task object that is no attnlab Task (tests/serve/test_api.py has one)
        raise UserError(f"task {run.recipe.task} has no explorer view yet") from None
    return check_explained(view(run.model, text, **opts))


def _explained(run: str | Path | Run, text: str, **opts) -> dict:
    return explain(run if isinstance(run, Run) else load_run(run), text, **opts)


def write_attention_html(run: str | Path | Run, text: str, path: str | Path, **opts) -> Path:
    """The offline view of explaining TEXT with RUN (a run directory or a loaded Run); opts go to explain()
    (e.g. beam=5, n_best=3)."""
    return html.write_html(_explained(run, text, **opts), path)


def export_attention_json(run: str | Path | Run, text: str, path: str | Path, **opts) -> Path:
    """The bertviz-layout JSON of explaining TEXT with RUN."""
    return html.write_bertviz_json(_explained(run, text, **opts), path)
