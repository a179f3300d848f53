"""A run directory: the resolved recipe, the codecs, metrics and checkpoints of one training.

runs/<name>/config.yaml         the resolved recipe (what `--set` produced), used to rebuild the model
runs/<name>/metrics.jsonl       one JSON object per logged step / validation
runs/<name>/checkpoints/        see train/checkpoint.py
runs/<name>/eval-*.json         results of `attnlab eval`
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from attnlab.config import Recipe, read_yaml
from attnlab.errors import UserError
from attnlab.recipe import build_recipe
from attnlab.tasks import get_task
from attnlab.train.checkpoint import load_checkpoint, load_weights, verify_fitted


@dataclass
class Run:
    path: Path
    recipe: Recipe
    task: object
    model: torch.nn.Module
    checkpoint: Path


def default_run_dir(recipe: Recipe) -> Path:
    return Path("runs") / (recipe.name or recipe.task)


def check_run_dir(path: str | Path) -> Path:
    path = Path(path)
    try:
        path.stat()
    except FileNotFoundError:
        pass  # said below
    except OSError as err:  # a name too long for the file system, no permission, ...
        raise UserError(f"run directory {str(path)[:80]!r} cannot be read ({err.strerror})") from None
    if not path.is_dir():
        raise UserError(
            f"run directory {path} does not exist; train one with `attnlab train RECIPE --out {path}`"
        )
    if not (path / "config.yaml").is_file():
        raise UserError(
            f"{path} is not an attnlab run directory (no config.yaml); pass the --out of a training"
        )
    return path


def load_recipe_of(path: Path) -> Recipe:
    return build_recipe(read_yaml(path / "config.yaml"), source=str(path / "config.yaml"), saved=True)


def load_run(path: str | Path, *, which: str = "best", with_data: bool = False, device: str = "cpu") -> Run:
    """Rebuild the model of a run from its config and load its best (or latest) verified weights.

    `with_data` also loads and splits the dataset (needed by `eval`); translating or plotting needs only
    the run directory itself.
    """
    path = check_run_dir(path)
    recipe = load_recipe_of(path)
    task = get_task(recipe.task)(recipe, path)
    fitted = task.fitted()  # n-grams, classic baselines: their model files stand in for a checkpoint
    if fitted:
        verify_fitted(path)  # the same sha256 + size check as a checkpoint's, before its files are parsed
    if with_data:
        task.prepare(write=False)
    else:
        task.load_codecs()
    if fitted:
        model, model_file = task.load_fitted()
        return Run(path, recipe, task, model, model_file)
    model = task.build_model()
    ckpt = load_checkpoint(path, which, trainer_state=False)
    load_weights(model, ckpt.model, ckpt.path)
    model.to(device).eval()
    return Run(path, recipe, task, model, ckpt.path)


def _same(a: dict, b: dict, section: str) -> None:
    if a.get(section) != b.get(section):
        raise UserError(
            f"the recipe's {section} section differs from the one saved in the run; resume with the same "
            f"recipe (or train into a new --out directory)"
        )


def fit(task, *, resume: bool = False):
    """`attnlab train` for a fitted recipe: the run directory's files (config, split, model files, one
    summary.json schema shared with trained runs), the model sealed last so a fit cut short never loads."""
    import time

    from attnlab.config import save_recipe
    from attnlab.fileio import atomic_write_json
    from attnlab.train.checkpoint import FITTED_MANIFEST, seal_fitted
    from attnlab.train.trainer import TrainResult, TrainState

    recipe, run_dir = task.recipe, task.run_dir
    if resume:
        raise UserError(f"{recipe.arch} models are fitted in one pass; there is nothing to --resume")
    if (run_dir / FITTED_MANIFEST).exists() or (run_dir / "summary.json").exists():
        raise UserError(f"{run_dir} already holds a fitted model; use --out NEW_DIR")
    run_dir.mkdir(parents=True, exist_ok=True)
    save_recipe(recipe, run_dir / "config.yaml")
    started = time.perf_counter()
    task.prepare(write=True)
    report = task.fit()
    seconds = time.perf_counter() - started
    rate = report.units / max(seconds, 1e-9)
    atomic_write_json(run_dir / "summary.json", {
        "stopped": "fitted", "steps": 0, "epochs_completed": 1, "train_seconds": round(seconds, 1),
        "tokens_per_second": round(rate, 1), "best": report.best, "best_step": 0, "metric": report.metric,
        "valid": report.valid, "device": "cpu", "world_size": 1, "threads": torch.get_num_threads(),
        "precision": "fp32", **report.extra,
    })  # fmt: skip
    seal_fitted(run_dir, *report.files)
    state = TrainState(
        step=0, epoch=1, tokens=report.units, train_seconds=seconds, best=report.best, best_step=0
    )
    return TrainResult(run_dir, state, "fitted", rate)


def train(
    recipe: Recipe,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    resume_from: str | Path | None = None,
    progress: bool | None = None,
):
    """Train `recipe` into a run directory (rank 0 writes); returns the trainer's TrainResult."""
    from attnlab.config import save_recipe
    from attnlab.train.distributed import DistContext
    from attnlab.train.trainer import Trainer, resolve_device

    run_dir = Path(out) if out else default_run_dir(recipe)
    resume = resume or resume_from is not None
    has_ckpt = (run_dir / "checkpoints" / "latest").is_file()
    if resume and not has_ckpt and resume_from is None:
        raise UserError(f"--resume: {run_dir} has no checkpoint to resume from; train without --resume first")
    if not resume and has_ckpt:
        raise UserError(
            f"{run_dir} already holds a trained run; pass --resume to continue it or --out NEW_DIR"
        )
    if resume and (run_dir / "config.yaml").is_file():
        saved = load_recipe_of(run_dir).to_dict()
        for section in ("task", "data", "model"):
            _same(saved, recipe.to_dict(), section)
    fitting = get_task(recipe.task)(recipe, run_dir)
    if fitting.fitted():  # n-grams and classic baselines are fitted in one pass, not trained
        return fit(fitting, resume=resume)
    device = resolve_device(recipe.train.device)
    dist = DistContext.from_env(device)
    try:
        if dist.world_size > 1 and device.type == "cuda":
            device = torch.device("cuda", dist.local_rank)
        if dist.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            save_recipe(recipe, run_dir / "config.yaml")
        task = get_task(recipe.task)(recipe, run_dir)
        if dist.is_main:
            task.prepare(write=True)
        dist.barrier()  # the other ranks read the codecs rank 0 has just written
        if not dist.is_main:
            task.prepare(write=False)
        torch.manual_seed(recipe.train.seed)  # same initial weights on every rank and every rerun
        model = task.build_model()
        trainer = Trainer(task, model, recipe.train, run_dir, dist=dist, device=device, progress=progress)
        if resume:
            trainer.resume(Path(resume_from) if resume_from else None)
        result = trainer.fit()
        if dist.is_main:
            from attnlab.fileio import atomic_write_json

            st = result.state
            atomic_write_json(
                run_dir / "summary.json",
                {
                    "stopped": result.stopped,
                    "steps": st.step,
                    "epochs_completed": st.epoch,
                    "train_seconds": round(st.train_seconds, 1),
                    "tokens_per_second": round(result.tokens_per_second, 1),
                    "best": st.best,
                    "best_step": st.best_step,
                    "metric": recipe.train.metric,
                    "device": str(device),
                    "world_size": dist.world_size,
                    "threads": torch.get_num_threads(),
                    "precision": st.precision,
                    "precision_reason": trainer.precision.reason if trainer.precision else None,
                    "precision_probe": trainer.precision.probe if trainer.precision else None,
                },
            )
        return result
    finally:
        dist.close()
