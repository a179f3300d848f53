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

import shutil
import tempfile
from pathlib import Path

import torch

from attnlab.errors import UserError
from attnlab.train import checkpoint as ckpt


def average_state(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Mean of floating-point tensors (summed in float64, cast back); others must agree and are kept."""
    first = states[0]
    for other in states[1:]:
        if other.keys() != first.keys() or any(other[k].shape != first[k].shape for k in first):
            raise UserError("the checkpoints to average hold different weights; were they trained apart?")
    out = {}
    for name, value in first.items():
        if value.is_floating_point():
            total = sum(s[name].to(torch.float64) for s in states)
            out[name] = (total / len(states)).to(value.dtype)
        else:  # integer buffers (step counters, token ids): averaging them means nothing
            out[name] = value
    return out


def average_run(run: str | Path, out: str | Path | None = None, *, last: int = 5) -> tuple[Path, list[str]]:
    """Write `out` (default RUN-avgK) with the mean of RUN's `last` newest checkpoints.

    Returns (out, names of the averaged checkpoints, newest first).
    """
    from attnlab.runs import check_run_dir, load_run

    src = check_run_dir(run)
    if last < 2:
        raise UserError(f"--last must be at least 2 (got {last}); one checkpoint is its own average")
    root = src / "checkpoints"
    found = ckpt.list_checkpoints(root) if root.is_dir() else []
    if len(found) < 2:
        raise UserError(
            f"{src} has {len(found)} checkpoint(s), nothing to average; train with "
            f"--set train.keep_checkpoints={last} so the last {last} are kept"
        )
    chosen = found[:last]  # newest first
    dest = Path(out) if out is not None else src.with_name(f"{src.name}-avg{len(chosen)}")
    if dest.exists() and any(dest.iterdir()):
        raise UserError(f"{dest} already exists and is not empty; pass another --out")
    newest = ckpt.load_checkpoint(chosen[0], trainer_state=True)
    states = [newest.model] + [ckpt.load_checkpoint(c, trainer_state=False).model for c in chosen[1:]]
    mean = average_state(states)

    loaded = load_run(src, which="latest")  # the model built from the run's own config
    ckpt.load_weights(loaded.model, mean, chosen[0])
    names = [c.name for c in chosen]
    meta = {**newest.meta, "averaged_from": names}

    # Built beside the destination and renamed into place: a crash leaves no half-copied run behind.
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".tmp-{dest.name}-"))
    try:
        for item in src.iterdir():
            if item.name == "checkpoints" or item.name.startswith(("eval-", ".")):
                continue  # evaluations of the original weights would be stale here
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, tmp / item.name)
        step = int(newest.meta["state"]["step"])
        ckpt.save_checkpoint(
            tmp / "checkpoints", step, loaded.model, tensors=newest.tensors, meta=meta, best=True, keep=1
        )
        ckpt.atomic_write_json(tmp / "averaged.json", {"source": str(src), "checkpoints": names})
        if dest.exists():
            dest.rmdir()  # empty (checked above)
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest, names
