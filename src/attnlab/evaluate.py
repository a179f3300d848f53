"""`attnlab eval`: score a trained run on its own held-out split or on a user's file."""

from __future__ import annotations

from pathlib import Path

import torch

from attnlab.errors import UserError
from attnlab.fileio import atomic_write_json
from attnlab.runs import load_run


def evaluate_run(
    run: str | Path,
    *,
    split: str = "test",
    file: Path | None = None,
    by_length: bool = False,
    beam: int = 1,
    columns: str | None = None,
    precision: str = "fp32",
) -> dict:
    """Score a run on its recorded valid/test rows or on `file`; writes RUN/eval-<split or file>.json.

    Scores are computed in fp32 whatever precision the run trained in (train.amp), unless `precision` asks
    for bf16 autocast; the result records which."""
    if split not in ("test", "valid"):
        raise UserError(f"--split must be test or valid, got {split!r}")
    if file is not None and not Path(file).is_file():
        raise UserError(f"--file {file} does not exist")
    from attnlab.tasks.translation import MAX_BEAM

    if not 1 <= beam <= MAX_BEAM:  # before loading the dataset, which takes seconds
        raise UserError(f"--beam must be from 1 to {MAX_BEAM}, got {beam}")
    if precision not in ("fp32", "bf16"):
        raise UserError(f"--precision must be fp32 or bf16, got {precision!r}")
    if columns is not None and file is None:
        raise UserError("--columns describes a --file; give the file too")
    loaded = load_run(run, with_data=file is None)
    task, model = loaded.task, loaded.model
    asked = {"beam": beam, "by_length": by_length, "columns": columns}
    opts = {k: v for k, v in asked.items() if v not in (None, False) and not (k == "beam" and v == 1)}
    for name in opts:
        if name not in task.EVAL_OPTIONS:
            raise UserError(f"--{name.replace('_', '-')} is for translation and chat runs, not {task.name}")
    device = next(model.parameters()).device.type if isinstance(model, torch.nn.Module) else "cpu"
    with torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16"):
        result = task.report(model, split=split, file=file, **opts)
    name = f"eval-{Path(file).stem if file else split}.json"
    result = {
        "run": str(loaded.path),
        "checkpoint": loaded.checkpoint.name,
        "split": str(file or split),
        "precision": precision,
        **result,
    }
    atomic_write_json(loaded.path / name, result)
    return result
