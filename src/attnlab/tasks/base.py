"""The task seam: what the one trainer needs from a task, and nothing more.

A task (translation, classification, language modelling, chat) turns a recipe into data, a model, a loss
and validation metrics. The trainer (train/trainer.py) never looks inside a batch: it moves it to the
device, asks the task for the loss, and counts `units` (tokens or examples) for normalisation and speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from attnlab.errors import UserError


@dataclass
class Batch:
    """Named tensors whose first dimension is the example, plus the counts the trainer needs.

    `units` is what the loss is averaged over for the *global* batch (target tokens for sequence models,
    examples for classifiers), so a batch split across ranks still averages exactly like one process.
    """

    tensors: dict[str, torch.Tensor]
    units: int  # normaliser of the loss: target tokens, or examples
    tokens: int  # tokens processed (source + target), for throughput
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> torch.Tensor:
        return self.tensors[key]

    def to(self, device: torch.device) -> Batch:
        if all(t.device == device for t in self.tensors.values()):
            return self
        moved = {k: v.to(device, non_blocking=True) for k, v in self.tensors.items()}
        return Batch(moved, self.units, self.tokens, self.extra)

    def shard(self, rank: int, world_size: int) -> Batch:
        """Rows rank, rank+W, ... of every tensor: a rank's share of the global batch."""
        if world_size == 1:
            return self
        return Batch(
            {k: v[rank::world_size] for k, v in self.tensors.items()}, self.units, self.tokens, self.extra
        )


class Task:
    """Base class of every task. Subclasses set the class attributes and implement the methods."""

    name: ClassVar[str]
    DataConfig: ClassVar[type]
    MODELS: ClassVar[dict[str, type]]  # model.arch -> its config dataclass
    default_arch: ClassVar[str]
    higher_is_better: ClassVar[dict[str, bool]] = {"loss": False, "ppl": False}
    EVAL_OPTIONS: ClassVar[frozenset[str]] = frozenset()  # `eval` options beyond split/file it takes

    def __init__(self, recipe, run_dir: Path):
        self.recipe = recipe
        self.run_dir = Path(run_dir)

    # --- data
    def prepare(self, *, write: bool = True) -> None:
        """Load the dataset, split it, and build (or reload from run_dir) the vocabularies."""
        raise NotImplementedError

    def load_codecs(self) -> None:
        """Load only what using a trained run needs (tokenizers, vocabularies) from run_dir."""
        raise NotImplementedError

    def epoch_batches(self, epoch: int) -> Sequence[Batch]:
        """Build the epoch's global batches, in a deterministic order fixed by (train.seed, epoch)."""
        raise NotImplementedError

    def train_batches(self, epoch: int) -> Sequence[Batch]:
        """The epoch's batches, built once per epoch (the trainer asks again after every validation)."""
        cached = getattr(self, "_epoch_cache", None)
        if cached is None or cached[0] != epoch:
            self._epoch_cache = (epoch, self.epoch_batches(epoch))
        return self._epoch_cache[1]

    # --- model
    def build_model(self) -> nn.Module:
        raise NotImplementedError

    def model_dim(self) -> int:
        """The model width used by the Noam schedule."""
        raise NotImplementedError

    # --- objective
    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        """The summed (not averaged) training loss over the batch's units."""
        raise NotImplementedError

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str = "valid") -> dict[str, float]:
        raise NotImplementedError

    # --- use
    def explain(self, model: nn.Module, text: str, **opts) -> dict:
        """One input -> the task's result and attention maps: the dict of attnlab/explain.py's contract,
        which the explorer, the offline views and `attnlab plot attention` draw."""
        raise UserError(f"task {self.name} has no explorer view yet")
