"""The task seam: everything a task can do, declared once.

A task (translation, chat, classification, classic baselines, language modelling) turns a recipe into data
and a model, and is either *trained* by the one trainer (train/trainer.py: batches, a loss, validation
metrics) or *fitted* in one pass (n-grams, bag-of-words, word2vec: `fitted()` is True and `fit()` returns a
`FitReport`; attnlab.runs owns the run directory either way). The trainer never looks inside a batch: it
moves it to the device, asks the task for the loss, and counts `units` (tokens or examples) for
normalisation and speed.

The use verbs (translate, reply, classify, similar, generate, score, explain) are methods of every task; a
task that cannot do one says so as a UserError (one line, exit code 2), so no caller ever probes for a
capability with hasattr.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from attnlab.data.batching import Batch  # re-exported: tasks build batches, the trainer consumes them
from attnlab.errors import UserError

_VERB_HINTS = {
    "translate": "use a translation or chat run (recipes/translate-*.yaml, chat-*.yaml)",
    "reply": "use a chat run (recipes/chat-*.yaml)",
    "classify": "use a sentiment run (recipes/sentiment-*.yaml)",
    "similar": "use a bag-of-words run (recipes/sentiment-imdb-tfidf-lr.yaml)",
    "generate": "use a language-model run (recipes/lm-*.yaml, ngram-*.yaml)",
    "score": "use a language-model run (recipes/lm-*.yaml, ngram-*.yaml)",
}


@dataclass
class FitReport:
    """What a fitted task hands to attnlab.runs: the files to seal, and the numbers for summary.json."""

    files: list[Path]  # every file the model is loaded from, sealed by model.manifest.json
    units: int  # training tokens or examples, for the throughput figure
    metric: str  # the validation metric `best` holds
    best: float | None
    valid: dict | None  # the validation report
    extra: dict = field(default_factory=dict)  # task-specific figures (vocabulary size, ...)


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

    # --- fitted models (n-grams, classic baselines): one pass instead of the trainer
    def fitted(self) -> bool:
        """True when this recipe is fitted in one pass: attnlab.runs then calls fit() and load_fitted()."""
        return False

    def fit(self) -> FitReport:
        """Fit on the prepared training split, save the model files into run_dir, validate."""
        raise NotImplementedError

    def load_fitted(self) -> tuple[Any, Path]:
        """The fitted model and the file it was loaded from (files already verified by attnlab.runs)."""
        raise NotImplementedError

    # --- evaluation
    def report(self, model, *, split: str = "test", file=None, **opts) -> dict:
        """`attnlab eval`: the task's scores on a held-out split or on a user's file."""
        raise NotImplementedError

    # --- use: every verb exists on every task; the ones a task lacks are one-line user errors
    VERBS: ClassVar[frozenset[str]] = frozenset()  # the use verbs this task implements

    def require(self, verb: str) -> None:
        """Refuse a verb up front (before an interactive session starts) when the task lacks it."""
        if verb not in self.VERBS:
            self._cannot(verb)

    def _cannot(self, verb: str):
        raise UserError(f"a {self.name} run cannot {verb}; {_VERB_HINTS[verb]}")

    def translate(self, model, texts: list[str], **opts):
        self._cannot("translate")

    def reply(self, model, texts: list[str], **opts) -> list[str]:
        self._cannot("reply")

    def classify(self, model, texts: list[str], **opts):
        self._cannot("classify")

    def similar(self, model, text: str, k: int):
        self._cannot("similar")

    def generate(self, model, prompt: str = "", **opts) -> str:
        self._cannot("generate")

    def score(self, model, text: str):
        self._cannot("score")

    def explain(self, model: nn.Module, text: str, **opts) -> dict:
        """One input -> the task's result and attention maps: the dict of attnlab/explain.py's contract,
        which the explorer, the offline views and `attnlab plot attention` draw."""
        raise UserError(f"task {self.name} has no explorer view yet")
