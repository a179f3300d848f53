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

from attnlab.config import Recipe, build_recipe, read_yaml
from attnlab.errors import UserError
from attnlab.tasks import get_task
from attnlab.train.checkpoint import load_checkpoint, load_weights


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
    if not path.is_dir():
        raise UserError(f"run directory {path} does not exist; train one with `attnlab train RECIPE --out {path}`")
    if not (path / "config.yaml").is_file():
        raise UserError(f"{path} is not an attnlab run directory (no config.yaml); pass the --out of a training")
    return path


def load_recipe_of(path: Path) -> Recipe:
    return build_recipe(read_yaml(path / "config.yaml"), source=str(path / "config.yaml"))


def load_run(path: str | Path, *, which: str = "best", with_data: bool = False, device: str = "cpu") -> Run:
    """Rebuild the model of a run from its config and load its best (or latest) verified weights.

    `with_data` also loads and splits the dataset (needed by `eval`); translating or plotting needs only
    the run directory itself.
    """
    path = check_run_dir(path)
    recipe = load_recipe_of(path)
    task = get_task(recipe.task)(recipe, path)
    if with_data:
        task.prepare(write=False)
    else:
        task.load_codecs()
    model = task.build_model()
    ckpt = load_checkpoint(path, which, trainer_state=False)
    load_weights(model, ckpt.model, ckpt.path)
    model.to(device).eval()
    return Run(path, recipe, task, model, ckpt.path)
