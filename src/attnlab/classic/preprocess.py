"""Classic text preprocessing: clean → tokenize → stop words → lemmas or stems.

Each step is a plain function so it can be used alone (`clean`, `tokenize`, `remove_stopwords`,
`lemmatize`, `stem`); `Pipeline` chains them and `preprocess` runs a pipeline over many texts.
Lemmas (simplemma, English) and stems (snowballstemmer) are cached per distinct word, so a 50k-review
corpus costs one lookup per vocabulary entry rather than per token.

Empty or whitespace-only text gives ``[]``; whether that is an error is the caller's decision.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import simplemma
import snowballstemmer

from attnlab.classic.stopwords import is_negation, stop_words
from attnlab.errors import UserError

_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]{0,200}>")
_URL = re.compile(r"(?:https?://|www\.)\S+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_LETTERS = re.compile(r"[a-z']+")
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)*")

STEPS = ("clean", "tokenize", "stop", "lemma", "stem")
STEM_ALGORITHMS = ("porter", "english")


def clean(text: str) -> str:
    """Lowercase; drop ``<br />`` and other HTML tags and URLs; keep only letters and apostrophes.

    Accented letters are folded to ASCII ("café" → "cafe"); every other character becomes a space,
    and runs of spaces collapse to one.
    """
    text = _BR.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = text.lower()
    if "http" in text or "www." in text:
        text = _URL.sub(" ", text)
    if not text.isascii():
        text = text.translate(_APOSTROPHES)
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(_LETTERS.findall(text))


def tokenize(text: str) -> list[str]:
    """Words of (normally cleaned) text: runs of letters with inner apostrophes kept ("don't").

    The text is lowercased; quote marks around a word are dropped and a possessive ``'s`` is split off
    ("film's" → "film", "it's" → "it").
    """
    tokens = _TOKEN.findall(text.lower())
    return [t[:-2] if t.endswith("'s") else t for t in tokens]


def remove_stopwords(tokens: Iterable[str], keep_negations: bool = False) -> list[str]:
    """Drop our English stop words; with ``keep_negations`` keep "not", "no", "never", "don't", …

    The list is lower-case with straight apostrophes; tokens are matched as if they were too ("Don’t")."""
    stops = stop_words(keep_negations)
    return [t for t in tokens if t.lower().replace("\u2019", "'") not in stops]


@lru_cache(maxsize=1 << 18)
def _lemma(word: str) -> str:
    if is_negation(word):  # simplemma maps "don't" → "do", which would flip the meaning
        return word
    return simplemma.lemmatize(word, lang="en").lower()


def lemmatize(tokens: Iterable[str]) -> list[str]:
    """English lemmas via simplemma ("movies" → "movie", "was" → "be"); negations stay as they are."""
    return [_lemma(t) for t in tokens]


@lru_cache(maxsize=len(STEM_ALGORITHMS))
def _stemmer(algorithm: str):
    return snowballstemmer.stemmer(algorithm)


@lru_cache(maxsize=1 << 18)
def _stem(word: str, algorithm: str) -> str:
    if is_negation(word):
        return word
    return _stemmer(algorithm).stemWord(word)


def stem(tokens: Iterable[str], algorithm: str = "porter") -> list[str]:
    """Snowball stems ("running" → "run"); ``algorithm`` is "porter" (classic) or "english" (Porter2)."""
    if algorithm not in STEM_ALGORITHMS:
        raise UserError(f"unknown stemmer {algorithm!r}; use one of {', '.join(STEM_ALGORITHMS)}")
    return [_stem(t, algorithm) for t in tokens]


@dataclass(frozen=True)
class Pipeline:
    """A fixed chain of steps from raw text to tokens; call it on one text or `transform` many.

    ``steps`` is a subsequence of ("clean", "tokenize", "stop", "lemma" | "stem"): "tokenize" is
    required, "clean" (if present) comes first, and the token steps come after "tokenize".
    """

    steps: tuple[str, ...] = ("clean", "tokenize", "stop", "lemma")
    keep_negations: bool = False
    stem_algorithm: str = "porter"

    def __post_init__(self) -> None:
        steps = tuple(self.steps)
        object.__setattr__(self, "steps", steps)
        unknown = [s for s in steps if s not in STEPS]
        if unknown:
            raise UserError(f"unknown preprocessing step {unknown[0]!r}; use steps from {', '.join(STEPS)}")
        if len(set(steps)) != len(steps):
            raise UserError(f"preprocessing steps repeat one: {steps}; list each step once")
        if "tokenize" not in steps:
            raise UserError("preprocessing steps need 'tokenize'; add it after 'clean'")
        if "clean" in steps and steps[0] != "clean":
            raise UserError("'clean' must be the first preprocessing step")
        if any(steps.index(s) < steps.index("tokenize") for s in ("stop", "lemma", "stem") if s in steps):
            raise UserError("'stop', 'lemma' and 'stem' work on tokens; put them after 'tokenize'")
        if "lemma" in steps and "stem" in steps:
            raise UserError("choose either 'lemma' or 'stem', not both")
        if self.stem_algorithm not in STEM_ALGORITHMS:
            raise UserError(
                f"unknown stemmer {self.stem_algorithm!r}; use one of {', '.join(STEM_ALGORITHMS)}"
            )

    def __call__(self, text: str) -> list[str]:
        """Tokens of one text ([] for empty or whitespace-only text)."""
        if not text or text.isspace():
            return []
        tokens: list[str] = []
        for step in self.steps:
            if step == "clean":
                text = clean(text)
            elif step == "tokenize":
                tokens = tokenize(text)
            elif step == "stop":
                tokens = remove_stopwords(tokens, self.keep_negations)
            elif step == "lemma":
                tokens = lemmatize(tokens)
            else:
                tokens = stem(tokens, self.stem_algorithm)
        return tokens

    def transform(self, texts: Iterable[str]) -> list[list[str]]:
        """Tokens of every text, in order."""
        return [self(t) for t in texts]


def preprocess(
    texts: Iterable[str],
    steps: Sequence[str] = ("clean", "tokenize", "stop", "lemma"),
    keep_negations: bool = False,
    stem_algorithm: str = "porter",
) -> list[list[str]]:
    """Run one `Pipeline` over many texts: ``preprocess(reviews, steps=("clean", "tokenize", "stop"))``."""
    return Pipeline(tuple(steps), keep_negations, stem_algorithm).transform(texts)
