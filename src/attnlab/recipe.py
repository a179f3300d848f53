"""A recipe file → a typed `Recipe`: the YAML, `--set` overrides, and each task's own schemas.

config.py holds the schema machinery and the trainer's section (it sits below every task); assembling a
whole recipe needs to know the tasks (their `DataConfig` and `MODELS`), so it lives here, one layer above
them (attnlab.tasks), where attnlab.runs and the CLI use it.
"""

from __future__ import annotations

from pathlib import Path

from attnlab.config import Recipe, TrainConfig, apply_overrides, parse, read_yaml
from attnlab.errors import UserError
from attnlab.tasks import get_task, task_names

# Model options renamed so that every model spells one idea one way (heads, layers, tie_embeddings,
# positional). A run directory saved before the rename still loads (`saved=True`); a recipe or --set with
# an old name is told the new one.
RENAMED_MODEL_KEYS = {
    "num_heads": "heads",
    "num_layers": "layers",
    "tie_weights": "tie_embeddings",
    "positions": "positional",
}


def _renamed(model_raw: dict, saved: bool) -> dict:
    for old, new in RENAMED_MODEL_KEYS.items():
        if old in model_raw:
            if not saved:
                raise UserError(f"model.{old} is now called model.{new}; rename it in the recipe or --set")
            model_raw[new] = model_raw.pop(old)
    return model_raw


def build_recipe(raw: dict, source: str | None = None, *, saved: bool = False) -> Recipe:
    """Validate a raw mapping into a Recipe, delegating data/model sections to the task. `saved`: the
    config.yaml of an existing run, whose old option names are mapped to the current ones."""
    allowed = {"task", "data", "model", "train", "name"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise UserError(
            f"unknown section '{unknown[0]}' in recipe; valid sections: {', '.join(sorted(allowed))}"
        )
    if "task" not in raw:
        raise UserError(f"recipe needs a 'task' (one of {', '.join(task_names())})")
    task_cls = get_task(raw["task"])
    data = parse(task_cls.DataConfig, raw.get("data"), "data")
    model_raw = {} if raw.get("model") is None else raw["model"]  # `model:` left empty in the YAML
    if not isinstance(model_raw, dict):
        raise UserError(f"'model' must be a mapping of keys to values, got {model_raw!r}")
    model_raw = _renamed(dict(model_raw), saved)
    arch = model_raw.pop("arch", task_cls.default_arch)
    if not isinstance(arch, str) or arch not in task_cls.MODELS:
        raise UserError(
            f"model.arch must be one of {', '.join(task_cls.MODELS)} for task {raw['task']}; got {arch!r}"
        )
    model = parse(task_cls.MODELS[arch], model_raw, "model")
    train = parse(TrainConfig, raw.get("train"), "train")
    if raw.get("name") is not None and not isinstance(raw["name"], str):
        raise UserError(f"the recipe's name must be a string, got {raw['name']!r}")
    return Recipe(
        task=raw["task"], arch=arch, data=data, model=model, train=train, name=raw.get("name"), source=source
    )


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    path = Path(path)
    raw = apply_overrides(read_yaml(path), overrides or [])
    recipe = build_recipe(raw, source=str(path))
    recipe.name = recipe.name or path.stem
    return recipe
