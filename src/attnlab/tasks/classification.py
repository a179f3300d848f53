"""Text classification (IMDB sentiment): reviews -> word codec -> length-bucketed batches -> classifier ->
accuracy / F1.

Data: the canonical 25k train / 25k test split of `load_classification(dataset)`. A validation split is
carved from train (`data.valid_fraction`, seeded by `data.split_seed`) and the test set is only used by
`report` (`attnlab eval`). Reviews are cleaned (HTML line breaks and tags removed; `data.clean: classic`
uses classic/preprocess.clean, which also drops digits and punctuation), lower-cased, word-tokenised and
truncated to `data.max_len` tokens: `data.truncate: head` keeps the beginning (default), `tail` keeps
the end, as Keras' `pad_sequences` (truncating="pre") did in the seeds.

Run directory files written here (besides the trainer's):
    codec.json      tokenizer + vocabulary
    split.json      dataset, seed, sizes and the train.csv row indices of the validation split
    embeddings.json when `data.init_embeddings` is set: the vectors file and its vocabulary coverage
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from attnlab.data.batching import bucket_batches, pad_batch
from attnlab.data.codec import Codec
from attnlab.data.corpora import load_classification
from attnlab.data.vocab import Vocab
from attnlab.errors import UserError
from attnlab.explain import check_options, encoder_maps, pooling_map
from attnlab.fileio import atomic_write_json
from attnlab.models.classifier import (
    ARCHS,
    AvgEmbeddingConfig,
    BiLSTMAttentionConfig,
    LSTMConfig,
    TransformerClassifierConfig,
    build_classifier,
    input_embedding,
)
from attnlab.tasks.base import Batch, Task

LABELS = ("negative", "positive")  # label id = index
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]{0,200}>")


def clean_html(text: str) -> str:
    """Drop `<br />` line breaks and other HTML tags (IMDB reviews carry them), keep everything else."""
    if "<" not in text:
        return text
    return _TAG.sub(" ", _BR.sub(" ", text))


@lru_cache(maxsize=4)
def _corpus(name: str, on_error: str = "raise") -> dict[str, list[tuple[str, int]]]:
    """The corpus, read once per process (reading and checking the 50k IMDB rows takes seconds)."""
    return load_classification(name, on_error=on_error)


@dataclass
class ClassificationData:
    dataset: str = "imdb"
    clean: Literal["html", "classic"] = "html"  # classic: classic/preprocess.clean (letters only)
    lowercase: bool = True
    min_freq: int = 1
    max_vocab: int | None = 20000  # vocabulary size, specials included (seed 001: 20k; seed 003: 10k)
    max_len: int | None = 500  # tokens kept per review (null = whole review)
    truncate: Literal["head", "tail"] = "head"  # keep the first (head) or the last (tail) max_len tokens
    # classic/stopwords.py's list dropped before truncation ("negations": keep not, never, don't, ...), so
    # max_len tokens hold more content words; a last-state LSTM gets shorter paths to them
    stopwords: Literal["keep", "drop", "negations"] = "keep"
    valid_fraction: float = 0.1  # carved from the training split
    split_seed: int = 1234
    limit: int | None = None  # keep a random subset of this many training reviews (before the valid split)
    test_limit: int | None = None  # evaluate on a random subset of this many test reviews
    init_embeddings: str | None = None  # word2vec-format vectors file (.bin = binary) for the embeddings
    freeze_embeddings: bool = False  # keep the initial embeddings fixed
    eval_batch_size: int = 256
    on_error: Literal["raise", "skip"] = "raise"  # a malformed line in the data files: stop, or skip + count

    def validate(self) -> None:
        for name in ("min_freq", "eval_batch_size"):
            if getattr(self, name) <= 0:
                raise UserError(f"data.{name} must be positive, got {getattr(self, name)}")
        for name in ("max_len", "limit", "test_limit"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise UserError(f"data.{name} must be positive or null, got {getattr(self, name)}")
        if self.max_vocab is not None and self.max_vocab <= len(Vocab.SPECIALS):
            raise UserError(
                f"data.max_vocab must be larger than {len(Vocab.SPECIALS)} or null, got {self.max_vocab}"
            )
        if not 0.0 < self.valid_fraction < 1.0:
            raise UserError(f"data.valid_fraction must be in (0, 1), got {self.valid_fraction}")
        if self.split_seed < 0:  # numpy's generators take no negative seed
            raise UserError(f"data.split_seed must be >= 0, got {self.split_seed}")
        if self.freeze_embeddings and not self.init_embeddings:
            raise UserError("data.freeze_embeddings needs data.init_embeddings (a word2vec vectors file)")


@dataclass
class Encoded:
    ids: list[list[int]]
    labels: list[int]


@dataclass
class Prediction:
    """One classified text: label, its probability, the tokens the model saw and their attention."""

    label: str
    probability: float  # of `label`
    positive: float  # P(positive)
    tokens: list[str]
    attention: list[float] | None  # one weight per token (attention models only)

    def ranked(self, k: int | None = None) -> list[tuple[str, float]]:
        """Tokens by attention weight, highest first ([] without attention)."""
        if self.attention is None:
            return []
        pairs = sorted(zip(self.tokens, self.attention, strict=True), key=lambda p: -p[1])
        return pairs[:k] if k is not None else pairs


class ClassificationTask(Task):
    name = "classification"
    DataConfig = ClassificationData
    MODELS = {arch: cfg for arch, (cfg, _) in ARCHS.items()}
    default_arch = "bilstm-attention"
    VERBS = frozenset({"classify", "explain"})
    higher_is_better = {"loss": False, "accuracy": True, "f1": True}

    # ------------------------------------------------------------------------------------------ data

    @property
    def codec_path(self) -> Path:
        return self.run_dir / "codec.json"

    def load_codecs(self) -> None:
        self.codec = Codec.load(self.codec_path)

    def _words(self, text: str) -> list[str]:
        """A raw review cleaned, tokenised and without stop words (data.stopwords), before truncation."""
        return self._drop_stopwords(self.codec.tokens(self._clean(text)))

    def _drop_stopwords(self, tokens: list[str]) -> list[str]:
        how = self.recipe.data.stopwords
        if how == "keep":
            return tokens
        from attnlab.classic.preprocess import remove_stopwords

        return remove_stopwords(tokens, keep_negations=how == "negations")

    def tokens(self, text: str) -> list[str]:
        """The tokens of a raw review as the model sees them (cleaned, tokenised, truncated)."""
        tokens = self._words(text)
        n = self.recipe.data.max_len
        if n is None or len(tokens) <= n:
            return tokens
        return tokens[:n] if self.recipe.data.truncate == "head" else tokens[-n:]

    def _clean(self, text: str) -> str:
        if self.recipe.data.clean == "classic":
            from attnlab.classic.preprocess import clean

            return clean(text)
        return clean_html(text)

    def _subset(self, rows: list, n: int | None, salt: int) -> tuple[list, np.ndarray]:
        idx = np.arange(len(rows))
        if n is not None and n < len(rows):
            idx = np.sort(
                np.random.default_rng((self.recipe.data.split_seed, salt)).permutation(len(rows))[:n]
            )
        return [rows[i] for i in idx], idx

    def split(self) -> list[int]:
        """Set self.raw = {train, valid, test} lists of (review, label); return the dataset's train.csv row
        numbers of the validation reviews (kept in split.json). Deterministic in data.split_seed."""
        d = self.recipe.data
        corpus = _corpus(d.dataset, d.on_error)
        train_rows, train_idx = self._subset(corpus["train"], d.limit, 1)
        test_rows, _ = self._subset(corpus["test"], d.test_limit, 2)
        perm = np.random.default_rng(d.split_seed).permutation(len(train_rows))
        n_valid = int(round(d.valid_fraction * len(train_rows)))
        if n_valid < 1 or n_valid >= len(train_rows):
            raise UserError(
                f"{len(train_rows)} training reviews cannot be split with data.valid_fraction="
                f"{d.valid_fraction}; use more reviews (data.limit) or another fraction"
            )
        valid_pos, fit_pos = np.sort(perm[:n_valid]), np.sort(perm[n_valid:])
        self.raw = {
            "train": [train_rows[i] for i in fit_pos],
            "valid": [train_rows[i] for i in valid_pos],
            "test": test_rows,
        }
        return [int(i) for i in train_idx[valid_pos]]

    def write_split(self, valid_rows: list[int]) -> None:
        d = self.recipe.data
        atomic_write_json(
            self.run_dir / "split.json",
            {
                "dataset": d.dataset,
                "seed": d.split_seed,
                "valid_fraction": d.valid_fraction,
                "limit": d.limit,
                "test_limit": d.test_limit,
                "sizes": {k: len(v) for k, v in self.raw.items()},
                "valid": valid_rows,  # row numbers in the dataset's train.csv
            },
        )

    def prepare(self, *, write: bool = True) -> None:
        d = self.recipe.data
        valid_rows = self.split()
        if self.codec_path.exists():  # resuming, or evaluating a trained run
            self.load_codecs()
        else:
            self.codec = Codec.build(
                [self._clean(t) for t, _ in self.raw["train"]],
                kind="word",
                lowercase=d.lowercase,
                min_freq=d.min_freq,
                max_size=d.max_vocab,
                token_filter=self._drop_stopwords,  # stop words the model never sees take no slot
            )
            if write:
                self.codec.save(self.codec_path)
        if write:
            self.write_split(valid_rows)
        self._encoded: dict[str, Encoded] = {}
        self._fresh = write  # training: build_model may initialise embeddings from word2vec

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids of raw reviews, truncated to data.max_len; [] for a review with no tokens."""
        return [self.codec.encode(self.tokens(t)) for t in texts]

    def data(self, split: str) -> Encoded:
        if split not in self._encoded:
            rows = [
                (ids, y)
                for ids, (_, y) in zip(
                    self.encode([t for t, _ in self.raw[split]]), self.raw[split], strict=True
                )
                if ids
            ]
            self._encoded[split] = Encoded([r[0] for r in rows], [r[1] for r in rows])
        return self._encoded[split]

    @staticmethod
    def _batch(enc: Encoded, idx) -> Batch:
        ids, lengths = pad_batch([enc.ids[i] for i in idx])
        labels = torch.tensor([enc.labels[i] for i in idx], dtype=torch.float32)
        return Batch(
            {"ids": ids, "lengths": lengths, "labels": labels},
            len(idx),
            int(lengths.sum()),
            {"index": [int(i) for i in idx]},
        )

    def _batches(self, enc: Encoded, *, epoch: int, shuffle: bool, batch_size: int) -> list[Batch]:
        order = bucket_batches(
            [len(x) for x in enc.ids],
            batch_size,
            seed=self.recipe.train.seed,
            epoch=epoch,
            shuffle=shuffle,
            max_tokens=self.recipe.train.max_tokens if shuffle else None,
        )
        return [self._batch(enc, idx) for idx in order]

    def epoch_batches(self, epoch: int) -> list[Batch]:
        train = self.data("train")
        return self._batches(train, epoch=epoch, shuffle=True, batch_size=self.recipe.train.batch_size)

    # ------------------------------------------------------------------------------------------ model

    def build_model(self) -> nn.Module:
        d = self.recipe.data
        model = build_classifier(
            self.recipe.arch, self.recipe.model, len(self.codec.vocab), d.max_len or 4096
        )
        if d.init_embeddings and getattr(self, "_fresh", False):
            self._init_embeddings(model)
        if getattr(self.recipe.model, "nb_scale", False) and getattr(self, "_fresh", False):
            # NB ratios from the training reviews (a resumed or loaded run gets them from its checkpoint).
            model.fit_nb(self._batches(self.data("train"), epoch=0, shuffle=False, batch_size=256))
        if d.freeze_embeddings:
            input_embedding(model).weight.requires_grad_(False)
        return model

    def _init_embeddings(self, model: nn.Module) -> None:
        from attnlab.classic.word2vec import coverage, embedding_matrix, load_vectors

        path = self.recipe.data.init_embeddings
        kv = load_vectors(path)
        table = input_embedding(model)
        tokens = self.codec.vocab.tokens
        weights = embedding_matrix(kv, tokens, table.embedding_dim, seed=self.recipe.train.seed)
        with torch.no_grad():
            table.weight[: len(tokens)] = torch.from_numpy(weights)
        info = {"vectors": str(path), "dim": kv.vector_size, "coverage": round(coverage(kv, tokens), 4)}
        atomic_write_json(self.run_dir / "embeddings.json", info)

    def model_dim(self) -> int:
        m = self.recipe.model
        return getattr(m, "d_model", getattr(m, "hidden", 0) or getattr(m, "embed_dim", 128))

    # ------------------------------------------------------------------------------------------ loss

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        logits = model(batch["ids"], batch["lengths"])
        return F.binary_cross_entropy_with_logits(logits.float(), batch["labels"], reduction="sum")

    @torch.no_grad()
    def _scores(self, model: nn.Module, enc: Encoded) -> tuple[np.ndarray, float]:
        """P(positive) for every example of `enc` (in order) and the mean loss."""
        model.eval()
        device = next(model.parameters()).device
        probs = np.zeros(len(enc.ids), dtype=np.float64)
        total = 0.0
        for batch in self._batches(enc, epoch=0, shuffle=False, batch_size=self.recipe.data.eval_batch_size):
            idx = batch.extra["index"]
            batch = batch.to(device)
            logits = model(batch["ids"], batch["lengths"]).float()
            total += float(F.binary_cross_entropy_with_logits(logits, batch["labels"], reduction="sum"))
            probs[idx] = torch.sigmoid(logits).cpu().numpy()
        return probs, total / max(len(enc.ids), 1)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str = "valid") -> dict[str, float]:
        enc = self.data(split)
        probs, loss = self._scores(model, enc)
        return {"loss": loss, **_metrics(np.asarray(enc.labels), probs)}

    # ------------------------------------------------------------------------------------------ use

    def encode_inputs(self, texts: list[str]) -> tuple[list[list[int]], list[list[str]]]:
        """Validate and encode user reviews; every failure is a one-line UserError."""
        ids, toks = [], []
        for text in texts:
            if not text or not text.strip():
                raise UserError("empty review: give some text to classify")
            tokens = self.tokens(text)
            if not tokens:
                left = (
                    "cleaning" if self.recipe.data.stopwords == "keep" else "cleaning and stop-word removal"
                )
                raise UserError(f"{text[:60]!r} has no words left after {left}; give a review in words")
            encoded = self.codec.encode(tokens)
            if all(i == Vocab.UNK for i in encoded):  # the model would see only <unk>: its answer is a guess
                raise UserError(
                    f"none of the words in {text[:60]!r} are in the model's vocabulary "
                    f"({self.recipe.data.dataset}); check the input language"
                )
            ids.append(encoded)
            toks.append([t if i != Vocab.UNK else "<unk>" for t, i in zip(tokens, encoded, strict=True)])
        return ids, toks

    def truncation_note(self, texts: list[str]) -> str | None:
        """A note when reviews are longer than data.max_len tokens: the model reads only part of them."""
        n = self.recipe.data.max_len
        if n is None:
            return None
        long = [(i, k) for i, t in enumerate(texts, 1) if (k := len(self._words(t))) > n]
        if not long:
            return None
        (i, k), more = long[0], f" (and {len(long) - 1} more)" if len(long) > 1 else ""
        part = "first" if self.recipe.data.truncate == "head" else "last"
        return f"note: review {i} has {k:,} tokens{more}; the model reads only its {part} {n} (data.max_len)"

    @torch.no_grad()
    def classify(self, model: nn.Module, texts: list[str], *, batch_size: int = 64) -> list[Prediction]:
        """Label, probability and (for attention models) per-token attention of each text."""
        if batch_size < 1:
            raise UserError(f"batch_size must be positive, got {batch_size}")
        model.eval()
        device = next(model.parameters()).device
        ids, toks = self.encode_inputs(texts)
        out: list[Prediction] = []
        for start in range(0, len(ids), batch_size):
            x, lengths = pad_batch(ids[start : start + batch_size])
            logits, weights = model(x.to(device), lengths.to(device), return_attention=True)
            probs = torch.sigmoid(logits.float()).cpu()
            for j, p in enumerate(probs.tolist()):
                tokens = toks[start + j]
                label = int(p >= 0.5)
                att = None if weights is None else weights[j, : len(tokens)].float().cpu().tolist()
                out.append(Prediction(LABELS[label], p if label else 1.0 - p, p, tokens, att))
        return out

    def plot_attention(self, model: nn.Module, text: str, output: str | Path) -> list[Path]:
        """Shade each token of `text` by the classifier's attention pooling weight (one PNG), as explain()."""
        from attnlab.viz import plots

        data = self.explain(model, text)
        r, pooling = data["result"], [m for m in data["attention"] if m["name"] == "pooling"]
        if not pooling:
            raise UserError(
                f"model.arch {self.recipe.arch!r} has no attention pooling: nothing to plot "
                "(use bilstm-attention or transformer)"
            )
        title = f"{r['label']} ({r['probability']:.1%})"
        return [plots.token_shading(r["tokens"], pooling[0]["layers"][0][0][0], output, title=title)]

    def explain(self, model: nn.Module, text: str, **opts) -> dict:
        """The explorer's view (attnlab/explain.py's contract): label and probability, each token shaded by
        the pooling attention, and, for the Transformer, every encoder layer's self-attention over
        [<cls>; tokens]."""
        check_options(opts, set(), self.name)
        pred = self.classify(model, [text])[0]
        maps = [] if pred.attention is None else [pooling_map(pred.attention, pred.tokens)]
        if self.recipe.arch == "transformer":
            maps += encoder_maps(model, self.codec.encode(pred.tokens), pred.tokens)
        result = {"label": pred.label, "probability": round(pred.probability, 4), "tokens": pred.tokens,
                  "weights": None if pred.attention is None else [round(w, 4) for w in pred.attention]}  # fmt: skip
        return {"task": self.name, "input": text, "result": result, "attention": maps}

    def report(self, model: nn.Module, split: str = "test", file: str | Path | None = None) -> dict:
        """Accuracy, F1 (positive class), loss and sklearn's classification report on a split or a file
        (a CSV with `review` and `sentiment` (positive/negative) columns)."""
        from sklearn.metrics import classification_report

        if file is not None:
            rows = read_labelled_csv(file)
            ids, labels = [], []
            for text, y in rows:
                enc = self.encode([text])[0]
                if enc:
                    ids.append(enc)
                    labels.append(y)
            if not ids:
                raise UserError(f"{file}: no review has any words left after cleaning")
            enc = Encoded(ids, labels)
            name = str(file)
        else:
            if not hasattr(self, "raw"):
                raise UserError(
                    "report() needs the dataset: load the run with its data (load_run(with_data=True))"
                )
            enc, name = self.data(split), split
        probs, loss = self._scores(model, enc)
        y = np.asarray(enc.labels)
        pred = (probs >= 0.5).astype(int)
        return {
            "reviews": len(y),
            "loss": loss,
            **_metrics(y, probs),
            "classification_report": classification_report(
                y, pred, labels=[0, 1], target_names=list(LABELS), output_dict=True, zero_division=0
            ),
            "classification_report_text": classification_report(
                y, pred, labels=[0, 1], target_names=list(LABELS), digits=4, zero_division=0
            ),
            "source": name,
        }


def _metrics(y: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    pred = (probs >= 0.5).astype(int)
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    f1 = 2 * tp / max(2 * tp + fp + fn, 1)
    return {"accuracy": float((pred == y).mean()) if len(y) else 0.0, "f1": f1}


def read_labelled_csv(path: str | Path) -> list[tuple[str, int]]:
    """`--file`: a CSV with `review` and `sentiment` columns (sentiment positive/negative, any case)."""
    from attnlab.data.readers import read_csv

    rows = read_csv(path, ("review", "sentiment")).rows
    out = []
    for i, (text, s) in enumerate(rows):
        label = s.lower()
        if label not in LABELS:
            raise UserError(f"{path}: row {i + 1} has sentiment {s!r}; expected positive or negative")
        out.append((text, LABELS.index(label)))
    if not out:
        raise UserError(f"{path}: no reviews (expected a header `review,sentiment` and rows)")
    return out


__all__ = [
    "AvgEmbeddingConfig",
    "BiLSTMAttentionConfig",
    "ClassificationData",
    "ClassificationTask",
    "LSTMConfig",
    "Prediction",
    "TransformerClassifierConfig",
    "clean_html",
    "read_labelled_csv",
]
