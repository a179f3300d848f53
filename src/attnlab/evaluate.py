"""`attnlab eval`: score a trained run on its own held-out split or on a user's file."""

from __future__ import annotations

from pathlib import Path

from attnlab.errors import UserError
from attnlab.runs import load_run
from attnlab.train.checkpoint import atomic_write_json


def evaluate_run(
    run: str | Path, *, split: str = "test", file: Path | None = None, by_length: bool = False, beam: int = 1
) -> dict:
    if split not in ("test", "valid"):
        raise UserError(f"--split must be test or valid, got {split!r}")
    if file is not None and not Path(file).is_file():
        raise UserError(f"--file {file} does not exist")
    from attnlab.tasks.translation import MAX_BEAM

    if not 1 <= beam <= MAX_BEAM:  # before loading the dataset, which takes seconds
        raise UserError(f"--beam must be from 1 to {MAX_BEAM}, got {beam}")
    loaded = load_run(run, with_data=file is None)
    task, model = loaded.task, loaded.model
    if loaded.recipe.task == "translation":
        from attnlab.tasks.translation import read_eval_file, report

        if file is not None:
            pairs = read_eval_file(file)
        else:
            enc = task.data[split]
            pairs = list(zip(enc.src_text, enc.tgt_text, strict=True))
        result = report(task, model, pairs, beam=beam, by_length=by_length)
        if file is None:
            result.update({k: v for k, v in task.evaluate(model, split, bleu_sentences=0).items()})
    else:
        result = task.report(model, split=split, file=file)
    name = f"eval-{Path(file).stem if file else split}.json"
    result = {
        "run": str(loaded.path),
        "checkpoint": loaded.checkpoint.name,
        "split": str(file or split),
        **result,
    }
    atomic_write_json(loaded.path / name, result)
    return result
