"""Checkpoint averaging: the element-wise mean of the weights of a run's last K checkpoints.

Vaswani et al. (2017, §6.1) report their base Transformer "obtained by averaging the last 5 checkpoints";
fairseq's scripts/average_checkpoints.py and Marian's --average do the same. Late in training the weights
wander around a minimum along the noisy gradient; their mean sits nearer its centre, which usually buys a
few tenths of BLEU for nothing but a pass over the files.

The result is written as a *new* run directory (config, codecs, split and logs copied; one checkpoint
holding the mean), so the original run is never touched and every command — eval, translate, compare,
generate — works on it unchanged. The newest checkpoint's optimizer state travels with it, so
`attnlab train --resume` can continue from the averaged weights.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch

from attnlab.errors import UserError
from attnlab.train import checkpoint as ckpt


def average_state(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Mean of the floating-point tensors (summed in float64, cast back); other tensors (integer buffers:
    counters, ids — averaging them means nothing) are taken from the first state, the newest."""
    first = states[0]
    for other in states[1:]:
        if other.keys() != first.keys() or any(other[k].shape != first[k].shape for k in first):
            raise UserError("the checkpoints to average hold different weights; were they trained apart?")
    out = {}
    for name, value in first.items():
        if value.is_floating_point():
            total = sum(s[name].to(torch.float64) for s in states)
            out[name] = (total / len(states)).to(value.dtype)
        else:
            out[name] = value
    return out


def _recent(src: Path, last: int) -> list[Path]:
    """The `last` newest checkpoints the trainer kept as recent, newest first, none after `latest`.

    Checkpoints after `latest` are leftovers of a branch abandoned with --resume-from; one older than the
    newest train.keep_checkpoints is only there because it was the best, and would drag the mean back.
    """
    from attnlab.runs import load_recipe_of

    root = src / "checkpoints"
    if not (root / "latest").is_file():
        raise UserError(f"{src} has no checkpoint to average; train it first")
    latest = ckpt.resolve_checkpoint(root, "latest").name
    kept = load_recipe_of(src).train.keep_checkpoints
    recent = [c for c in ckpt.list_checkpoints(root) if c.name <= latest][:kept]
    if len(recent) < last:
        raise UserError(
            f"{src} keeps {len(recent)} recent checkpoint(s), --last {last} needs {last}: lower --last or "
            f"train with --set train.keep_checkpoints={last} (and train.checkpoint_every to space them)"
        )
    return recent[:last]


def average_run(run: str | Path, out: str | Path | None = None, *, last: int = 5) -> tuple[Path, list[str]]:
    """Write `out` (default RUN-avgK beside RUN) with the mean of RUN's `last` newest checkpoints.

    Returns (out, names of the averaged checkpoints, newest first).
    """
    from attnlab.runs import check_run_dir, load_run

    if last < 2:
        raise UserError(f"--last must be at least 2 (got {last}); one checkpoint is its own average")
    src = check_run_dir(run).resolve()
    chosen = _recent(src, last)
    dest = Path(out) if out is not None else src.with_name(f"{src.name}-avg{last}")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UserError(f"{dest} already exists and is not an empty directory; pass another --out")
    newest = ckpt.load_checkpoint(chosen[0], trainer_state=True)
    states = [newest.model] + [ckpt.load_checkpoint(c, trainer_state=False).model for c in chosen[1:]]
    loaded = load_run(src, which="latest")  # the model built from the run's own config
    ckpt.load_weights(loaded.model, average_state(states), chosen[0])  # fills tied aliases too
    names = [c.name for c in chosen]
    try:
        _write(src, dest, loaded.model, newest, names)
    except OSError as err:
        raise UserError(f"cannot write {dest} ({err.strerror or err}); pass another --out") from None
    return dest, names


def _write(src: Path, dest: Path, model: torch.nn.Module, newest: ckpt.Checkpoint, names: list[str]) -> None:
    # Built beside the destination and renamed into place: a crash leaves no half-copied run behind.
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".tmp-{dest.name}-"))
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)  # mkdtemp's 0700 would hide the run from everyone else
        for item in src.iterdir():
            # The run's description (config, codecs, split, logs, summary), not evaluations or figures of
            # the original weights.
            if (
                item.is_file()
                and item.suffix in (".yaml", ".json", ".jsonl")
                and not item.name.startswith("eval-")
            ):
                shutil.copy2(item, tmp / item.name)
        ckpt.save_checkpoint(
            tmp / "checkpoints",
            int(newest.meta["state"]["step"]),
            model,
            tensors=newest.tensors,  # the newest optimizer state: --resume continues from the mean
            meta={**newest.meta, "averaged_from": names},
            best=True,
            keep=1,
        )
        ckpt.atomic_write_json(tmp / "averaged.json", {"source": str(src), "checkpoints": names})
        if dest.exists():
            dest.rmdir()  # empty (checked by the caller)
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
