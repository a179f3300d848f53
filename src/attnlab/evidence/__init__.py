"""`attnlab evidence`: the seeds' claims, each reproduced as one small experiment with a figure and numbers.

Every experiment is a module here named after the claim (attention_vs_length.py, ...) that defines

    TITLE: str                       one line, shown by `attnlab evidence list`
    CLAIM: str                       the seeds' claim in one or two sentences
    def run(quick: bool, out: Path) -> dict
        Train / measure on the real data, draw the figure(s) into `out` with attnlab.viz.plots, and return
        the numbers (JSON-serialisable). `quick` is the seconds-long version the tests run; the full one is
        what `make evidence` records (all eight together within 60 minutes on 2 cores).
    def reading(numbers: dict) -> str
        A short honest reading of *these* numbers: what they show and what they do not. Computed from the
        numbers, so the text in docs/evidence.md can never disagree with the figure beside it.

`run_experiment` adds the metadata (machine, date, seconds, quick) and writes NAME.json beside NAME.png;
attnlab.evidence.report turns the JSON files into docs/evidence.md.
"""

from __future__ import annotations

import importlib
import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from attnlab.errors import UserError
from attnlab.sysinfo import describe

# Order = the order in docs/evidence.md.
NAMES = (
    "attention-vs-length",
    "vanishing-gradients",
    "parallel-speed",
    "alignment",
    "sparsity",
    "normalisation",
    "temperature",
    "scaling",
)
DEFAULT_OUT = Path("docs") / "evidence"

# `--set` overrides of every translation model an experiment trains: validation computes the loss only (no
# BLEU decoding), one checkpoint is kept, and one thread per process (two oversubscribe a shared 2-core
# machine and run several times slower), so the wall-clock budget goes to training steps.
QUICK_TRAINING = (
    "train.metric=loss",
    "data.valid_bleu_sentences=0",
    "train.keep_checkpoints=1",
    "train.threads=1",
)


def scratch_dir(path: Path) -> Path:
    """An empty directory for an experiment's own runs, ignored by git (checkpoints are tens of MB)."""
    shutil.rmtree(path, ignore_errors=True)  # ours alone: a rerun trains afresh
    path.mkdir(parents=True)
    (path / ".gitignore").write_text("*\n")
    return path


def experiment(name: str):
    """The module of experiment `name` (one-line error naming the valid ones)."""
    if name not in NAMES:
        raise UserError(
            f"unknown experiment {name!r}; run `attnlab evidence list` (valid: {', '.join(NAMES)})"
        )
    return importlib.import_module(f"attnlab.evidence.{name.replace('-', '_')}")


def run_experiment(name: str, *, quick: bool = False, out: str | Path = DEFAULT_OUT) -> dict:
    """Run one experiment; returns (and writes to out/NAME.json) its numbers with metadata."""
    module = experiment(name)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    threads = torch.get_num_threads()  # train.threads sets it process-wide: give it back afterwards
    try:
        numbers = module.run(quick, out)
    finally:
        torch.set_num_threads(threads)
    record = {
        "name": name,
        "title": module.TITLE,
        "claim": module.CLAIM,
        "quick": quick,
        "seconds": round(time.perf_counter() - started, 1),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": describe(),
        "figure": f"{name}.png",
        "numbers": numbers,
        "reading": module.reading(numbers),
    }
    path = out / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return record
