"""Bag-of-words sentiment baselines: count / TF-IDF features with LogisticRegression or LightGBM.

Three feature sets (`FEATURES`) times two classifiers (`CLASSIFIERS`):

* ``count1k``  — `CountVectorizer`, 1,000 most frequent words, our English stop words removed;
* ``tfidf1k``  — `TfidfVectorizer`, same vocabulary rule;
* ``tfidf_bigram``  — `TfidfVectorizer`, every uni- and bigram seen in ≥ 2 reviews, sublinear tf,
  stop words *kept* (bigrams such as "not good" carry the sentiment).

`ClassicModel` fits, predicts, evaluates, finds similar training reviews and saves itself **without
pickle**: vocabulary and settings as JSON, idf and logistic-regression weights as ``.npy``, the
training matrix as ``.npz`` (loaded with ``allow_pickle=False``), LightGBM in its own text format.
Labels are 0 (negative) / 1 (positive).
"""

from __future__ import annotations

import csv
import json
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, classification_report, f1_score
from sklearn.neighbors import NearestNeighbors

from attnlab.classic.preprocess import clean, tokenize
from attnlab.classic.stopwords import stop_words
from attnlab.errors import UserError

FORMAT_VERSION = 1

FEATURES: dict[str, dict[str, Any]] = {
    "count1k": {"kind": "count", "max_features": 1000, "ngram_range": (1, 1), "min_df": 1,
                "sublinear_tf": False, "stop_words": "english", "C": 1.0},
    "tfidf1k": {"kind": "tfidf", "max_features": 1000, "ngram_range": (1, 1), "min_df": 1,
                "sublinear_tf": False, "stop_words": "english", "C": 1.0},
    "tfidf_bigram": {"kind": "tfidf", "max_features": None, "ngram_range": (1, 2), "min_df": 2,
                "sublinear_tf": True, "stop_words": None, "C": 16.0},
}  # fmt: skip
"""Feature sets by name. ``stop_words`` is None, "english" or "english_keep_negations" (ours); ``C`` is the
default logistic-regression C (16 for the bigram set: best of 1…32 on a 20k/5k split of IMDB *train*)."""

CLASSIFIERS = ("lr", "lgbm")

_STOP_CHOICES = {None: None, "english": False, "english_keep_negations": True}


# --------------------------------------------------------------------------------------- data
def read_imdb_csv(path: str | Path) -> list[tuple[str, int]]:
    """(review, label) pairs from an IMDB CSV with columns review, sentiment (positive → 1)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"IMDB file {path} not found; set ATTNLAB_DATA to the folder holding imdb/")
    with path.open(encoding="utf-8", newline="") as f:
        return [(row["review"], int(row["sentiment"] == "positive")) for row in csv.DictReader(f)]


def load_imdb(data_root: str | Path | None = None) -> dict[str, list[tuple[str, int]]]:
    """The canonical IMDB split {"train": [...], "test": [...]} (25k / 25k, rows in file order).

    Without ``data_root`` this is `attnlab.data.corpora.load_classification("imdb")` (the project's
    reader and dataset resolution); with it, ``<data_root>/imdb/{train,test}.csv`` are read directly.
    """
    if data_root is None:
        from attnlab.data.corpora import load_classification

        return load_classification("imdb")
    root = Path(data_root) / "imdb"
    return {split: read_imdb_csv(root / f"{split}.csv") for split in ("train", "test")}


def _check_texts(texts: Sequence[str], what: str = "texts") -> list[str]:
    if isinstance(texts, str):
        raise UserError(f"{what} must be a list of strings, not one string; wrap it in a list")
    texts = list(texts)
    if not texts:
        raise UserError(f"no {what} given; pass at least one review")
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise UserError(f"{what}[{i}] is empty or not text; give every review some words")
    return texts


def _check_labels(labels: Sequence[int], n: int) -> np.ndarray:
    y = np.asarray(list(labels))
    if y.shape != (n,):
        raise UserError(f"got {y.size} labels for {n} texts; give one 0/1 label per text")
    if not np.isin(y, (0, 1)).all():
        raise UserError("labels must be 0 (negative) or 1 (positive)")
    return y.astype(np.int64)


def _snippet(text: str, n: int = 200) -> str:
    text = " ".join(text.replace("<br />", " ").split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


# --------------------------------------------------------------------------------------- model
class ClassicModel:
    """A bag-of-words classifier: one of `FEATURES` with "lr" or "lgbm".

    ``C`` is the inverse regularisation of the logistic regression (None: the feature set's default);
    ``n_rounds``, ``learning_rate``
    and ``num_leaves`` configure LightGBM; ``n_jobs`` LightGBM threads (at most 2; the default 1, because
    OpenMP threads on a busy 2-core machine can run 20x slower than one); ``seed`` fixes both.
    """

    def __init__(
        self,
        features: str = "tfidf_bigram",
        classifier: str = "lr",
        *,
        C: float | None = None,
        n_rounds: int = 300,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        n_jobs: int = 1,
        seed: int = 0,
    ) -> None:
        if features not in FEATURES:
            raise UserError(f"unknown feature set {features!r}; use one of {', '.join(FEATURES)}")
        if classifier not in CLASSIFIERS:
            raise UserError(f"unknown classifier {classifier!r}; use one of {', '.join(CLASSIFIERS)}")
        self.features = features
        self.classifier = classifier
        self.params: dict[str, Any] = {
            "C": float(FEATURES[features]["C"] if C is None else C),
            "n_rounds": int(n_rounds),
            "learning_rate": float(learning_rate),
            "num_leaves": int(num_leaves),
            "n_jobs": max(1, min(int(n_jobs), 2)),
            "seed": int(seed),
        }
        self.vectorizer: CountVectorizer | None = None
        self.coef: np.ndarray | None = None  # (F,) logistic-regression weights
        self.intercept: float = 0.0
        self.booster: lgb.Booster | None = None
        self.train_texts: list[str] = []
        self.train_labels: np.ndarray | None = None
        self.train_matrix: sp.csr_matrix | None = None  # float32, rows of the training reviews
        self._nn: NearestNeighbors | None = None

    # ---- features
    @property
    def name(self) -> str:
        return f"{self.features}+{self.classifier}"

    def _make_vectorizer(self, vocabulary: dict[str, int] | None = None) -> CountVectorizer:
        cfg = FEATURES[self.features]
        keep_neg = _STOP_CHOICES[cfg["stop_words"]]
        kwargs: dict[str, Any] = {
            "preprocessor": clean,
            "tokenizer": tokenize,
            "token_pattern": None,
            "lowercase": False,
            "stop_words": None if keep_neg is None else sorted(stop_words(keep_neg)),
            "ngram_range": tuple(cfg["ngram_range"]),
            "min_df": cfg["min_df"],
            "max_features": cfg["max_features"],
            "dtype": np.float64,
            "vocabulary": vocabulary,
        }
        if cfg["kind"] == "tfidf":
            return TfidfVectorizer(sublinear_tf=cfg["sublinear_tf"], **kwargs)
        return CountVectorizer(**kwargs)

    def _transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        if self.vectorizer is None:
            raise UserError("the model is not trained; call fit() or load() first")
        return self.vectorizer.transform(texts).tocsr()

    # ---- training and prediction
    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> ClassicModel:
        """Fit the vectorizer and the classifier on training reviews and 0/1 labels."""
        texts = _check_texts(texts)
        y = _check_labels(labels, len(texts))
        if len(set(y.tolist())) < 2:
            raise UserError("training labels are all one class; give both positive and negative reviews")
        self.vectorizer = self._make_vectorizer()
        X = self.vectorizer.fit_transform(texts).tocsr()
        p = self.params
        if self.classifier == "lr":
            lr = LogisticRegression(C=p["C"], solver="liblinear", max_iter=1000, random_state=p["seed"])
            lr.fit(X, y)
            self.coef = lr.coef_.ravel().astype(np.float64)
            self.intercept = float(lr.intercept_[0])
        else:
            train_set = lgb.Dataset(X, label=y, params={"verbose": -1})
            self.booster = lgb.train(self._lgb_params(), train_set, num_boost_round=p["n_rounds"])
        self.train_texts = texts
        self.train_labels = y
        self.train_matrix = X.astype(np.float32)
        self._nn = None
        return self

    def _lgb_params(self) -> dict[str, Any]:
        p = self.params
        return {
            "objective": "binary",
            "learning_rate": p["learning_rate"],
            "num_leaves": p["num_leaves"],
            "num_threads": p["n_jobs"],
            "seed": p["seed"],
            "deterministic": True,
            "force_col_wise": True,
            "verbose": -1,
        }

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(N, 2) probabilities of [negative, positive], as in scikit-learn."""
        X = self._transform(_check_texts(texts))
        scores = expit(X @ self.coef + self.intercept) if self.classifier == "lr" else self.booster.predict(X)
        pos = np.asarray(scores, dtype=np.float64)
        return np.stack([1.0 - pos, pos], axis=1)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """0/1 labels (positive when its probability is ≥ 0.5)."""
        return (self.predict_proba(texts)[:, 1] >= 0.5).astype(np.int64)

    def evaluate(self, texts: Sequence[str], labels: Sequence[int]) -> dict[str, Any]:
        """Accuracy, F1 of the positive class and sklearn's classification report (text)."""
        texts = _check_texts(texts)
        y = _check_labels(labels, len(texts))
        pred = self.predict(texts)
        return {
            "model": self.name,
            "n": len(texts),
            "accuracy": float(accuracy_score(y, pred)),
            "f1": float(f1_score(y, pred, labels=[0, 1], zero_division=0)),
            "report": classification_report(
                y, pred, labels=[0, 1], target_names=["negative", "positive"], digits=4, zero_division=0
            ),
        }

    # ---- similar reviews
    def similar(self, text: str, k: int = 5) -> list[tuple[int, float, str]]:
        """The ``k`` training reviews nearest to ``text`` by cosine similarity of their feature rows.

        Returns (training index, cosine similarity, snippet) pairs, most similar first.
        """
        if self.train_matrix is None or not self.train_texts:
            raise UserError("the model has no training reviews; call fit() or load() first")
        if k < 1:
            raise UserError(f"k must be at least 1, got {k}")
        X = self._transform(_check_texts([text], "text")).astype(np.float32)
        if self._nn is None:
            self._nn = NearestNeighbors(metric="cosine", algorithm="brute", n_jobs=1).fit(self.train_matrix)
        k = min(k, self.train_matrix.shape[0])
        dist, idx = self._nn.kneighbors(X, n_neighbors=k)
        return [
            (int(i), float(1.0 - d), _snippet(self.train_texts[i]))
            for d, i in zip(dist[0], idx[0], strict=True)
        ]

    # ---- persistence (no pickle)
    def save(self, directory: str | Path) -> Path:
        """Write the model into ``directory`` (created if needed); returns the directory."""
        if self.vectorizer is None:
            raise UserError("the model is not trained; call fit() before save()")
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        vocab = {term: int(i) for term, i in self.vectorizer.vocabulary_.items()}
        meta = {
            "format_version": FORMAT_VERSION,
            "features": self.features,
            "classifier": self.classifier,
            "params": self.params,
            "intercept": self.intercept,
        }
        (out / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
        (out / "vocabulary.json").write_text(json.dumps(vocab, ensure_ascii=False))
        if FEATURES[self.features]["kind"] == "tfidf":
            np.save(out / "idf.npy", np.asarray(self.vectorizer.idf_, dtype=np.float64))
        if self.classifier == "lr":
            np.save(out / "coef.npy", self.coef)
        else:
            self.booster.save_model(str(out / "lightgbm.txt"))
        m = self.train_matrix
        np.savez_compressed(
            out / "train_matrix.npz",
            data=m.data, indices=m.indices, indptr=m.indptr, shape=np.asarray(m.shape),
        )  # fmt: skip
        np.save(out / "train_labels.npy", self.train_labels)
        (out / "train_texts.json").write_text(json.dumps(self.train_texts, ensure_ascii=False))
        return out

    @classmethod
    def load(cls, directory: str | Path) -> ClassicModel:
        """Read a model written by `save`."""
        d = Path(directory)
        if not (d / "model.json").is_file():
            raise UserError(f"{d} holds no saved classic model (model.json missing); check the path")
        try:
            meta = json.loads((d / "model.json").read_text())
            if meta.get("format_version") != FORMAT_VERSION:
                raise UserError(f"{d} was saved in format {meta.get('format_version')}; retrain the model")
            model = cls(meta["features"], meta["classifier"], **meta["params"])
            model.intercept = float(meta["intercept"])
            vocab = json.loads((d / "vocabulary.json").read_text())
            model.vectorizer = model._make_vectorizer(vocabulary=vocab)
            if FEATURES[model.features]["kind"] == "tfidf":
                model.vectorizer.idf_ = np.load(d / "idf.npy", allow_pickle=False)
            if model.classifier == "lr":
                model.coef = np.load(d / "coef.npy", allow_pickle=False)
            else:
                model.booster = lgb.Booster(model_file=str(d / "lightgbm.txt"))
            with np.load(d / "train_matrix.npz", allow_pickle=False) as z:
                shape = tuple(int(s) for s in z["shape"])
                model.train_matrix = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=shape)
            model.train_labels = np.load(d / "train_labels.npy", allow_pickle=False)
            model.train_texts = json.loads((d / "train_texts.json").read_text())
            if not isinstance(model.train_texts, list) or len(model.train_texts) != shape[0]:
                raise ValueError(f"train_texts.json does not hold the {shape[0]} training reviews")
        # EOFError: an empty .npy; BadZipFile: a damaged .npz; TypeError / AttributeError: JSON of the wrong
        # shape. (Left alone, click turns an EOFError into a silent "Aborted" with exit code 130.)
        except (
            OSError,
            EOFError,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            zipfile.BadZipFile,
            lgb.basic.LightGBMError,
        ) as err:
            raise UserError(
                f"cannot read the classic model in {d} ({type(err).__name__}: {err}); retrain it"
            ) from err
        return model


# --------------------------------------------------------------------------------------- benchmark
def run_baseline(
    train: Sequence[tuple[str, int]],
    test: Sequence[tuple[str, int]],
    features: str = "tfidf_bigram",
    classifier: str = "lr",
    **params: Any,
) -> dict[str, Any]:
    """Fit one baseline on ``train`` and evaluate on ``test``; adds fit/eval seconds to the result."""
    texts, labels = zip(*train, strict=True)
    t0 = time.perf_counter()
    model = ClassicModel(features, classifier, **params).fit(list(texts), list(labels))
    t1 = time.perf_counter()
    test_texts, test_labels = zip(*test, strict=True)
    result = model.evaluate(list(test_texts), list(test_labels))
    result["fit_s"] = round(t1 - t0, 2)
    result["eval_s"] = round(time.perf_counter() - t1, 2)
    result["n_features"] = len(model.vectorizer.vocabulary_)
    return result


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m attnlab.classic.baselines [features+classifier ...]``: full 25k/25k IMDB table."""
    import sys

    names = list(argv if argv is not None else sys.argv[1:]) or ["tfidf_bigram+lr"]
    data = load_imdb()
    for name in names:
        features, _, classifier = name.partition("+")
        r = run_baseline(data["train"], data["test"], features, classifier or "lr")
        print(
            f"{r['model']:<14} acc {r['accuracy']:.4f}  f1 {r['f1']:.4f}  features {r['n_features']:>7}  "
            f"fit {r['fit_s']:.1f}s  eval {r['eval_s']:.1f}s",
            flush=True,
        )


if __name__ == "__main__":
    main()
