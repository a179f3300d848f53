"""Units of the classic preprocessing pipeline."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attnlab.classic.preprocess import (
    Pipeline,
    clean,
    lemmatize,
    preprocess,
    remove_stopwords,
    stem,
    tokenize,
)
from attnlab.classic.stopwords import NEGATIONS, STOP_WORDS, STOP_WORDS_KEEP_NEGATIONS
from attnlab.errors import UserError


def test_clean_removes_br_tags_urls_and_punctuation():
    out = clean("Great FILM!<br /><br />See https://imdb.com/x?y=1 <i>now</i>, 10/10.")
    assert out == "great film see now"
    assert "br" not in out.split()


def test_clean_keeps_apostrophes_and_folds_accents():
    assert clean("I DIDN’T like the café") == "i didn't like the cafe"


def test_tokenize_keeps_contractions_and_splits_possessive():
    assert tokenize(clean("The film's ending? I don't 'get' it.")) == [
        "the",
        "film",
        "ending",
        "i",
        "don't",
        "get",
        "it",
    ]


def test_empty_and_whitespace_text_give_no_tokens():
    assert Pipeline()("") == []
    assert Pipeline()("   \t ") == []
    assert preprocess(["", "<br />"]) == [[], []]


def test_stopword_lists():
    assert {"not", "no", "never", "nor", "n't"} <= NEGATIONS <= STOP_WORDS
    assert not NEGATIONS & STOP_WORDS_KEEP_NEGATIONS
    assert 150 <= len(STOP_WORDS_KEEP_NEGATIONS) <= 210


def test_negation_keeping_variant_keeps_not():
    tokens = tokenize(clean("This is not a good movie and I didn't laugh"))
    assert remove_stopwords(tokens) == ["good", "movie", "laugh"]
    assert remove_stopwords(["The", "Don\u2019t", "film"]) == ["film"]  # case and curly apostrophes
    kept = remove_stopwords(tokens, keep_negations=True)
    assert kept == ["not", "good", "movie", "didn't", "laugh"]
    assert preprocess(["not good, never again"], keep_negations=True) == [["not", "good", "never"]]


def test_lemmatize_and_stem():
    assert lemmatize(["movies", "actors", "was"]) == ["movie", "actor", "be"]
    assert lemmatize(["don't"]) == ["don't"]  # a negation never becomes "do"
    assert stem(["running"]) == ["run"]
    assert stem(["running"], algorithm="english") == ["run"]
    assert preprocess(["The movies were running"], steps=("clean", "tokenize", "stop", "stem")) == [
        ["movi", "run"]
    ]


@pytest.mark.parametrize(
    "steps",
    [
        ("clean", "stop"),
        ("tokenize", "clean"),
        ("clean", "tokenize", "lemma", "stem"),
        ("clean", "tokenize", "upper"),
    ],
)
def test_bad_pipelines_are_user_errors(steps):
    with pytest.raises(UserError):
        Pipeline(steps)
    with pytest.raises(UserError):
        stem(["a"], algorithm="klingon")


@given(st.text(max_size=200))
def test_clean_output_alphabet(text):
    out = clean(text)
    assert set(out) <= set("abcdefghijklmnopqrstuvwxyz' ")
    assert out == out.strip() and "  " not in out
    assert all(tokenize(out))
