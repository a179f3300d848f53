"""`attnlab compare RUN1 RUN2 ...`: one table across translation runs and one BLEU-by-length figure.

Each run is scored on its own test split with `attnlab eval --by-length` (reusing RUN/eval-test.json when
it already holds the by-length table, so comparing again is instant). Runs trained on the same recipe data
share the split, so their rows and buckets are directly comparable.
"""

from __future__ import annotations

import json
from pathlib import Path

from attnlab.errors import UserError
from attnlab.evaluate import evaluate_run
from attnlab.runs import check_run_dir, load_recipe_of


def _describe(path: Path) -> str:
    recipe = load_recipe_of(path)
    m = recipe.model
    if recipe.arch == "transformer":
        return f"transformer d{m.d_model} L{m.layers}"
    return f"{m.cell} {getattr(m, 'attention', 'none')} h{m.hidden}"


def _scores(path: Path, beam: int) -> dict:
    cached = path / "eval-test.json"
    if beam == 1 and cached.is_file():
        result = json.loads(cached.read_text())
        # "references": scored against every reference of each source (multi-reference, leak-free split)
        if result.get("by_length") and result.get("beam", 1) == 1 and "references" in result:
            return result
    return evaluate_run(path, split="test", by_length=True, beam=beam)


def compare_runs(runs: list[str | Path], *, beam: int = 1) -> list[dict]:
    """One row per run: name, model, training steps / minutes, test BLEU, chrF and BLEU per length bucket."""
    if len(runs) < 1:
        raise UserError("give at least one run directory to compare")
    rows = []
    for run in runs:
        path = check_run_dir(run)
        if load_recipe_of(path).task not in ("translation", "chat"):
            raise UserError(f"{path} is not a translation run; compare scores translations by BLEU")
        summary = path / "summary.json"
        s = json.loads(summary.read_text()) if summary.is_file() else {}
        r = _scores(path, beam)
        rows.append({
            "run": path.name, "model": _describe(path), "steps": s.get("steps"),
            "minutes": round(s.get("train_seconds", 0) / 60, 1), "bleu": r["bleu"], "chrf": r["chrf"],
            "sentences": r["sentences"], "by_length": {b["bucket"]: b["bleu"] for b in r["by_length"]},
        })  # fmt: skip
    return rows


def buckets_of(rows: list[dict]) -> list[str]:
    """Every length bucket of any row, shortest first ("1-5" < "6-10" < ... < "31+")."""
    return sorted({b for r in rows for b in r["by_length"]}, key=lambda b: int(b.split("-")[0].rstrip("+")))


def plot_comparison(rows: list[dict], path: str | Path) -> Path:
    from attnlab.viz.plots import grouped_bars

    buckets = buckets_of(rows)
    series = {row["run"]: [row["by_length"].get(b, 0.0) for b in buckets] for row in rows}
    return grouped_bars(buckets, series, path, ylabel="BLEU", title="test BLEU by source length (tokens)")
