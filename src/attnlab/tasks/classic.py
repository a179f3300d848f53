"""Classic (non-neural) IMDB models as recipes: bag-of-words baselines and word2vec, fitted in one pass.

    task: classic
    model: {arch: bow, features: tfidf_bigram, classifier: lr}     # classic/baselines.py, seed 004
    model: {arch: word2vec, vector_size: 100, window: 5, negative: 10}  # classic/word2vec.py

`attnlab train` fits them (no gradient trainer: runs.train() calls `fit_counts`, as for n-grams) on the same
train / valid / test split as the neural classifiers (ClassificationTask.split), so every IMDB number in
attnlab is measured on the same reviews. Then:

    attnlab eval RUN                      # bow: accuracy, F1 and sklearn's classification report on test
    attnlab classify RUN "review..."      # bow: label and probability
    attnlab similar RUN "review..." -k 5  # bow: nearest training reviews (cosine of the feature rows)
    attnlab similar-words RUN good        # word2vec: nearest words

A word2vec run writes RUN/vectors.txt (word2vec text format); any classification recipe can start from it
with `--set data.init_embeddings=RUN/vectors.txt --set model.embed_dim=100`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from attnlab.classic.baselines import CLASSIFIERS, FEATURES, ClassicModel
from attnlab.errors import UserError
from attnlab.tasks.base import FitReport
from attnlab.tasks.classification import LABELS, ClassificationTask, Prediction, read_labelled_csv


@dataclass
class ClassicData:
    dataset: str = "imdb"
    valid_fraction: float = 0.1  # carved from train, as for the neural classifiers
    split_seed: int = 1234
    limit: int | None = None  # random subset of the training reviews
    test_limit: int | None = None
    on_error: Literal["raise", "skip"] = "raise"  # a malformed line in the data files: stop, or skip + count

    def validate(self) -> None:
        if not 0.0 < self.valid_fraction < 1.0:
            raise UserError(f"data.valid_fraction must be in (0, 1), got {self.valid_fraction}")
        if self.split_seed < 0:  # numpy's generators take no negative seed
            raise UserError(f"data.split_seed must be >= 0, got {self.split_seed}")
        for name in ("limit", "test_limit"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise UserError(f"data.{name} must be positive or null, got {getattr(self, name)}")


@dataclass
class BowConfig:
    features: str = "tfidf_bigram"  # count1k | tfidf1k | tfidf_bigram (classic/baselines.FEATURES)
    classifier: str = "lr"  # lr | lgbm
    C: float | None = None  # logistic-regression inverse regularisation (None: the feature set's default)
    n_rounds: int = 300  # LightGBM
    learning_rate: float = 0.1
    num_leaves: int = 31

    def validate(self) -> None:
        if self.features not in FEATURES:
            raise UserError(f"model.features must be one of {', '.join(FEATURES)}; got {self.features!r}")
        if self.classifier not in CLASSIFIERS:
            raise UserError(
                f"model.classifier must be one of {', '.join(CLASSIFIERS)}; got {self.classifier!r}"
            )
        # scikit-learn and LightGBM would reject these only after the features are built, with a traceback.
        for name in ("n_rounds", "learning_rate", *(() if self.C is None else ("C",))):
            if not getattr(self, name) > 0:
                raise UserError(f"model.{name} must be positive, got {getattr(self, name)}")
        if self.num_leaves < 2:
            raise UserError(f"model.num_leaves must be at least 2, got {self.num_leaves}")


@dataclass
class Word2VecConfig:
    vector_size: int = 100
    window: int = 5
    negative: int = 10
    min_count: int = 5
    epochs: int = 5
    steps: list[str] = field(default_factory=lambda: ["clean", "tokenize"])  # classic/preprocess.Pipeline

    def validate(self) -> None:
        for name in ("vector_size", "window", "negative", "min_count", "epochs"):
            if getattr(self, name) <= 0:
                raise UserError(f"model.{name} must be positive, got {getattr(self, name)}")


class ClassicTask(ClassificationTask):
    name = "classic"
    DataConfig = ClassicData
    MODELS = {"bow": BowConfig, "word2vec": Word2VecConfig}
    default_arch = "bow"
    VERBS = frozenset({"classify", "similar", "explain"})

    def fitted(self) -> bool:  # bag-of-words and word2vec are fitted in one pass, no checkpoints
        return True

    @property
    def model_path(self) -> Path:
        return self.run_dir / ("vectors.txt" if self.recipe.arch == "word2vec" else "model")

    def load_codecs(self) -> None:  # the saved model holds its own vocabulary
        pass

    def prepare(self, *, write: bool = True) -> None:
        valid_rows = self.split()
        if write:
            self.write_split(valid_rows)

    def fit(self) -> FitReport:
        """Fit the bag-of-words classifier or word2vec on the training reviews (prepared by attnlab.runs)."""
        texts, labels = (list(x) for x in zip(*self.raw["train"], strict=True))
        m, seed = self.recipe.model, self.recipe.train.seed
        if self.recipe.arch == "word2vec":
            from attnlab.classic.preprocess import Pipeline
            from attnlab.classic.word2vec import save_vectors, train_word2vec

            kv = train_word2vec(
                Pipeline(tuple(m.steps)).transform(texts), vector_size=m.vector_size, window=m.window,
                negative=m.negative, min_count=m.min_count, epochs=m.epochs, seed=seed,
            )  # fmt: skip
            save_vectors(kv, self.model_path)
            return FitReport([self.model_path], len(texts), "vocab", None, {"vocab": len(kv)})
        model = ClassicModel(
            m.features, m.classifier, C=m.C, n_rounds=m.n_rounds, learning_rate=m.learning_rate,
            num_leaves=m.num_leaves, n_jobs=self.recipe.train.threads or 1, seed=seed,
        ).fit(texts, labels)  # fmt: skip
        model.save(self.model_path)
        valid = self.report(model, split="valid")
        valid.pop("classification_report_text")
        return FitReport([self.model_path], len(texts), "accuracy", valid["accuracy"], valid)

    def load_fitted(self):
        if not self.model_path.exists():
            raise UserError(f"{self.run_dir} holds no fitted model ({self.model_path.name}); train it first")
        if self.recipe.arch == "word2vec":
            from attnlab.classic.word2vec import load_vectors

            return load_vectors(self.model_path), self.model_path
        return ClassicModel.load(self.model_path), self.model_path

    # ------------------------------------------------------------------------------------------ use

    def _bow(self, model) -> ClassicModel:
        if not isinstance(model, ClassicModel):
            raise UserError("this is a word2vec run: it has no classifier; use `attnlab similar-words`")
        return model

    def _check_known(self, model: ClassicModel, texts: list[str]) -> None:
        """Refuse a review none of whose words (or n-grams) are features: every one would score the same."""
        for text, n in zip(texts, model.vectorizer.transform(texts).getnnz(axis=1), strict=True):
            if n == 0:
                raise UserError(
                    f"none of the words in {text[:60]!r} are among the model's features "
                    f"({self.recipe.data.dataset}); check the input language"
                )

    def classify(self, model, texts: list[str], **_) -> list[Prediction]:
        for text in texts:
            if not text or not text.strip():
                raise UserError("empty review: give some text to classify")
        self._check_known(self._bow(model), texts)
        probs = self._bow(model).predict_proba(texts)[:, 1]
        out = []
        for p in probs.tolist():
            label = int(p >= 0.5)
            out.append(Prediction(LABELS[label], p if label else 1.0 - p, p, [], None))
        return out

    def truncation_note(self, texts: list[str]) -> str | None:  # bags of words read every word
        return None

    def plot_attention(self, model, text: str, output) -> list[Path]:
        raise UserError("classic models have no attention; plot a bilstm-attention or transformer run")

    def report(self, model, split: str = "test", file: str | Path | None = None) -> dict:
        rows = read_labelled_csv(file) if file is not None else self.raw[split]
        texts, labels = (list(x) for x in zip(*rows, strict=True))
        result = self._bow(model).evaluate(texts, labels)
        return {
            "reviews": result["n"],
            "accuracy": result["accuracy"],
            "f1": result["f1"],
            "model": result["model"],
            "classification_report_text": result["report"],
            "source": str(file or split),
        }

    def similar(self, model, text: str, k: int = 5) -> list[tuple[int, float, str]]:
        if not text or not text.strip():
            raise UserError("empty review: give some text to compare")
        self._check_known(self._bow(model), [text])
        return self._bow(model).similar(text, k)


def check_classic(loaded, arch: str, verb: str) -> None:
    """One-line error when `attnlab VERB` gets a run that is not a classic `arch` run."""
    if loaded.recipe.task != "classic" or loaded.recipe.arch != arch:
        what = f"{loaded.recipe.task}/{loaded.recipe.arch}"
        hint = "sentiment-imdb-tfidf-lr" if arch == "bow" else "word2vec-imdb"
        raise UserError(f"{loaded.path} is a {what} run; `attnlab {verb}` needs a {arch} run (e.g. {hint})")
