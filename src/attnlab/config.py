"""Recipes: typed configuration loaded from YAML, overridden with `--set key=value`, validated with
messages that tell the user what to write instead.

A recipe has four sections::

    task: translation            # which tasks/<task>.py builds data, model, loss and metrics
    data:  {...}                 # validated by the task's DataConfig
    model: {arch: rnn, ...}      # validated by the dataclass the task registers for that arch
    train: {...}                 # TrainConfig below, shared by every task

Each section is a plain dataclass; `parse(cls, mapping, where)` checks names, types and choices, so a typo
such as `train.lr_rate` fails with "unknown key 'train.lr_rate'; valid keys: ...". Defaults live in the
dataclasses, which keeps recipes short.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from attnlab.errors import UserError


@dataclass
class TrainConfig:
    """The one trainer's settings (see train/trainer.py)."""

    epochs: int = 10
    batch_size: int = 64  # sentences per batch (global batch when distributed)
    max_tokens: int | None = None  # if set, batches are cut by padded token count instead
    optimizer: Literal["adam", "adamw", "rmsprop", "sgd"] = "adam"
    lr: float = 1e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    weight_decay: float = 0.0
    schedule: Literal["constant", "noam", "cosine", "inverse-sqrt"] = "constant"
    warmup: int = 0  # steps of linear warm-up (noam: the paper's warmup_steps)
    noam_d_model: int | None = None  # d_model in the Noam formula; defaults to the model's size
    min_lr: float = 0.0  # floor of the cosine schedule
    clip: float | None = 1.0  # max global gradient norm; null disables
    label_smoothing: float = 0.0
    eval_every: int | None = None  # steps between validations; null = once per epoch
    metric: str = "loss"  # validation metric for early stopping and the best checkpoint
    patience: int | None = None  # evaluations without improvement before stopping; null = never
    max_minutes: float | None = None  # training-time budget; the run stops cleanly and can be resumed
    max_steps: int | None = None
    checkpoint_every: int | None = None  # steps between checkpoints; null = at every evaluation
    keep_checkpoints: int = 2  # most recent checkpoints kept (the best one is always kept too)
    log_every: int = 50
    # TensorBoard scalars (loss, lr, tokens/s, gradient norm, validation metrics) into RUN/tb/, rank 0 only
    tensorboard: bool = True
    seed: int = 0
    # torch intra-op threads; null: OMP_NUM_THREADS if set, else this process's cores / local ranks
    threads: int | None = None
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    # auto: bf16 on a GPU that has it; on a CPU bf16 only where a probe of this model measures >= 1.5x
    # (train/precision.py); none = fp32; bf16 / fp16 force autocast (fp16 on CUDA only)
    amp: Literal["auto", "none", "bf16", "fp16"] = "auto"

    def validate(self) -> None:
        # `not value > 0` (rather than `value <= 0`) also rejects NaN, which compares false with everything.
        positive = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "log_every": self.log_every,
            "eps": self.eps,
        }
        for name, value in positive.items():
            if not value > 0 or not math.isfinite(value):
                raise UserError(f"train.{name} must be positive, got {value}")
        for name in (
            "max_tokens",
            "eval_every",
            "max_steps",
            "checkpoint_every",
            "threads",
            "patience",
            "noam_d_model",
        ):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise UserError(f"train.{name} must be positive or null, got {value}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise UserError(f"train.max_minutes must be positive or null, got {self.max_minutes}")
        for name in ("weight_decay", "min_lr"):
            value = getattr(self, name)
            if not 0.0 <= value < math.inf:
                raise UserError(f"train.{name} must be >= 0, got {value}")
        if self.min_lr > self.lr:
            raise UserError(f"train.min_lr ({self.min_lr}) must not exceed train.lr ({self.lr})")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise UserError(f"train.label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise UserError(f"train.betas must be two numbers in [0, 1), got {self.betas}")
        if self.clip is not None and not self.clip > 0:
            raise UserError(f"train.clip must be positive or null, got {self.clip}")
        if self.seed < 0:  # numpy's generators take no negative seed
            raise UserError(f"train.seed must be >= 0, got {self.seed}")
        if self.warmup < 0 or self.keep_checkpoints < 1:
            raise UserError("train.warmup must be >= 0 and train.keep_checkpoints >= 1")
        if self.schedule == "noam" and self.warmup <= 0:
            raise UserError("train.schedule 'noam' needs train.warmup > 0 (the paper uses 4000)")


@dataclass
class Recipe:
    """A validated recipe. `data` and `model` are the task's own dataclasses."""

    task: str
    arch: str
    data: Any
    model: Any
    train: TrainConfig
    name: str | None = None
    source: str | None = None  # where it was loaded from (for messages)

    def to_dict(self) -> dict:
        out = {
            "task": self.task,
            "data": asdict(self.data),
            "model": {"arch": self.arch, **asdict(self.model)},
            "train": asdict(self.train),
        }
        if self.name:
            out["name"] = self.name
        return out


def asdict(obj: Any) -> dict:
    return dataclasses.asdict(obj)


# --------------------------------------------------------------------------------------------- parsing


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        (inner,) = typing.get_args(tp) or (Any,)
        return f"list of {_type_name(inner)}"
    return getattr(tp, "__name__", str(tp)).replace("NoneType", "null")


_YAML11_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against the annotation `tp`; allow int where float is expected."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except UserError:
                continue
        raise UserError(f"{where} must be {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        choices = typing.get_args(tp)
        if value in choices:
            return value
        raise UserError(f"{where} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")
    if origin is list:
        (inner,) = typing.get_args(tp) or (Any,)
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise UserError(f"{where} must be a list, got {value!r}")
        return [_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is float:
        if isinstance(value, str) and _YAML11_FLOAT.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads `lr: 3e-4` (no dot) as a string; the user meant a number
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UserError(f"{where} must be a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise UserError(f"{where} must be an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise UserError(f"{where} must be true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise UserError(f"{where} must be a string, got {value!r}")
        return value
    raise TypeError(f"unsupported annotation {tp} at {where}")


def parse(cls: type, mapping: Any, where: str) -> Any:
    """Build dataclass `cls` from a mapping, with one-line errors naming the key and the valid keys."""
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, dict):
        raise UserError(f"'{where}' must be a mapping of keys to values, got {mapping!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in mapping.items():
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean '{where}.{close[0]}'?)" if close else ""
            raise UserError(f"unknown key '{where}.{key}'{hint}; valid keys: {', '.join(sorted(fields))}")
        kwargs[key] = _coerce(value, hints[key], f"{where}.{key}")
    missing = [
        n
        for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise UserError(f"'{where}' needs {', '.join(f'{where}.{m}' for m in missing)}")
    obj = cls(**kwargs)
    if hasattr(obj, "validate"):
        obj.validate()
    return obj


def _parse_value(text: str) -> Any:
    """`--set` values are YAML scalars: 3e-4 -> float, null -> None, [1,2] -> list, true -> bool."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    # YAML 1.1 reads "3e-4" as a string; numbers are what a user means there.
    if isinstance(value, str):
        try:
            return float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            return value
    return value


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply `section.key=value` overrides to the raw recipe mapping (before validation)."""
    for item in overrides:
        if "=" not in item:
            raise UserError(f"--set expects key=value (e.g. train.lr=3e-4), got {item!r}")
        dotted, value = item.split("=", 1)
        parts = dotted.strip().split(".")
        if not all(parts):
            raise UserError(f"--set key {dotted!r} is not of the form section.key")
        node = raw
        for part in parts[:-1]:
            if node.get(part) is None:  # an absent section, or one left empty in the YAML (`train:`)
                node[part] = {}
            child = node[part]
            if not isinstance(child, dict):
                raise UserError(f"--set {dotted}: '{part}' is not a section")
            node = child
        node[parts[-1]] = _parse_value(value)
    return raw


def read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise UserError(f"recipe {path} does not exist; see the recipes/ directory for examples")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        where = f" line {line + 1}" if line is not None else ""
        raise UserError(f"recipe {path}{where} is not valid YAML: {getattr(err, 'problem', err)}") from None
    if not isinstance(raw, dict):
        raise UserError(f"recipe {path} must be a YAML mapping with task, data, model and train sections")
    return raw


def save_recipe(recipe: Recipe, path: Path) -> None:
    from attnlab.fileio import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(recipe.to_dict(), sort_keys=False, allow_unicode=True))
