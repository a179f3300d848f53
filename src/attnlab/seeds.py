"""`attnlab seeds`: one recipe over several training seeds — the protocol behind every headline number.

    attnlab seeds run RECIPE --seeds 1,2,3 [--set k=v ...] [--runs runs/seeds] [--results bench/results/seeds]
    attnlab seeds table bench/results/seeds/<recipe> [...] [--target "loss<=1.30"]

Each seed trains into its own run directory (`<runs>/<name>/seed<k>`, reused when already finished, so an
interrupted sweep continues), is evaluated on valid (which chose its checkpoint) and on test (looked at once,
after every choice is made), and leaves one JSON results file `<results>/<name>/seed<k>.json` with the
machine, the date, the command, the training summary and both evaluations. `table` reads those files and
prints, per metric, the mean and the spread (min–max) of valid beside test. A target is met only when the
*mean* meets it.
"""

from __future__ import annotations

import datetime
import math
import operator
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

from attnlab.errors import UserError
from attnlab.fileio import atomic_write_json, read_json

# The numbers a table shows, in this order, for whichever the task reports.
HEADLINE = ("bleu", "chrf", "bleu_lowercase", "accuracy", "f1", "loss", "ppl", "bpc")
_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


def parse_seeds(text: str) -> list[int]:
    """'1,2,3' or '1-3' → [1, 2, 3]; at least one, each a non-negative integer, no repeats."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise UserError(f"--seeds {text!r}: give integers like 1,2,3 or a range like 1-3")
        lo, hi = int(m[1]), int(m[2] or m[1])
        if hi < lo:
            raise UserError(f"--seeds {text!r}: the range {part} runs backwards")
        seeds.extend(range(lo, hi + 1))
    if len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds {text!r} names a seed twice")
    return seeds


def _numbers(result: dict) -> dict[str, float]:
    return {k: float(result[k]) for k in HEADLINE if isinstance(result.get(k), int | float)}


def run_seed(
    recipe_path: Path,
    seed: int,
    overrides: list[str],
    runs_root: Path,
    results_root: Path,
    *,
    command: str | None = None,
    label: str | None = None,
) -> Path:
    """Train (unless finished), evaluate valid and test, write and return the seed's results file.
    `label` names the run and results folders (default: the recipe's name), for variants of one recipe."""
    from attnlab import runs, sysinfo
    from attnlab.evaluate import evaluate_run
    from attnlab.recipe import load_recipe

    recipe = load_recipe(recipe_path, [*overrides, f"train.seed={seed}"])
    name = label or recipe.name or recipe_path.stem
    run_dir = runs_root / name / f"seed{seed}"
    if not (run_dir / "summary.json").is_file():  # finished runs are reused: a sweep can be continued
        runs.train(recipe, run_dir, resume=(run_dir / "checkpoints" / "latest").is_file())
    summary = read_json(run_dir / "summary.json", "training summary")
    valid = evaluate_run(run_dir, split="valid")
    test = evaluate_run(run_dir, split="test")
    record = {
        "recipe": str(recipe_path),
        "name": name,
        "seed": seed,
        "overrides": overrides,
        "command": command,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": sysinfo.describe(),
        "run": str(run_dir),
        "train": {k: summary.get(k) for k in ("stopped", "steps", "train_seconds", "tokens_per_second", "best_step",
                                               "metric", "best", "threads", "device", "precision")},
        "valid": _numbers(valid),
        "test": _numbers(test),
    }  # fmt: skip
    path = results_root / name / f"seed{seed}.json"
    atomic_write_json(path, record)
    return path


@dataclass
class Spread:
    mean: float
    lo: float
    hi: float
    n: int

    def __str__(self) -> str:
        digits = 2 if abs(self.mean) >= 10 else 4
        return f"{self.mean:.{digits}f} ({self.lo:.{digits}f}–{self.hi:.{digits}f})"


def spread(values: list[float]) -> Spread:
    return Spread(statistics.fmean(values), min(values), max(values), len(values))


def load_results(directory: Path) -> list[dict]:
    files = sorted(Path(directory).glob("seed*.json"))
    if not files:
        raise UserError(f"{directory}: no seed*.json results files; run `attnlab seeds run RECIPE` first")
    return [read_json(f, "results file") for f in files]


def parse_target(text: str) -> tuple[str, str, float]:
    """'loss<=1.30' → ('loss', '<=', 1.3): the test mean must satisfy it."""
    m = re.fullmatch(r"\s*(\w+)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*", text)
    if not m or not math.isfinite(float(m[3])):
        raise UserError(f"--target {text!r}: write it like loss<=1.30 or bleu>=40")
    return m[1], m[2], float(m[3])


def table(directories: list[Path], target: str | None = None) -> str:
    """A markdown table: one row per recipe and metric, valid and test as mean (min–max), seeds, minutes,
    the CPU; with `target`, whether the test mean meets it."""
    goal = parse_target(target) if target else None
    head = "| recipe | metric | seeds | valid mean (min–max) | test mean (min–max) | minutes | machine |"
    if goal:
        head += f" {goal[0]} {goal[1]} {goal[2]:g} |"
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    for directory in directories:
        results = load_results(directory)
        metrics = [m for m in HEADLINE if all(m in r["test"] for r in results)]
        if goal and goal[0] not in metrics:
            raise UserError(
                f"--target: {directory} has no test metric {goal[0]!r} (it has {', '.join(metrics)})"
            )
        minutes = spread([(r["train"].get("train_seconds") or 0) / 60 for r in results])
        machines = sorted({r["machine"].split(",")[0] for r in results})
        for m in metrics:
            test = spread([r["test"][m] for r in results])
            valid = [r["valid"][m] for r in results if m in r["valid"]]
            row = (f"| {results[0]['name']} | {m} | {', '.join(str(r['seed']) for r in results)} | "
                   f"{spread(valid) if valid else '—'} | {test} | {minutes.mean:.1f} | {'; '.join(machines)} |")  # fmt: skip
            if goal:
                row += (
                    (" met |" if _OPS[goal[1]](test.mean, goal[2]) else " not met |")
                    if m == goal[0]
                    else " |"
                )
            lines.append(row)
    return "\n".join(lines)


def results_json(directory: Path) -> dict:
    """The means and spreads of one results directory, for scripts."""
    results = load_results(directory)
    out = {"name": results[0]["name"], "seeds": [r["seed"] for r in results]}
    for split in ("valid", "test"):
        keys = [m for m in HEADLINE if all(m in r[split] for r in results)]
        out[split] = {m: vars(spread([r[split][m] for r in results])) for m in keys}
    return out
