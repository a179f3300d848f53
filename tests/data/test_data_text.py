"""Normalisation and tokenizers: punctuation spacing, accents, Korean safety, serialisation, round trips."""

import json
import unicodedata

import pytest

from attnlab.data.text import (
    CharTokenizer,
    SubwordTokenizer,
    Tokenizer,
    WordTokenizer,
    normalize,
    remove_accents,
    tokenizer_from_dict,
    unicode_normalize,
)
from attnlab.errors import UserError


def test_normalize_spanish_and_english():
    assert normalize("¿Todavía están en casa?", strip_accents=True) == "¿ todavia estan en casa ?"
    assert normalize("¿Todavía están en casa?") == "¿ todavía están en casa ?"
    assert normalize("It's very cold here.") == "it's very cold here ."
    assert normalize("¡Hola,   mundo!", lowercase=False) == "¡ Hola , mundo !"
    assert normalize("Va\u00a0!  Laisse-nous\u202f!") == "va ! laisse-nous !"
    assert normalize("It costs 3.50 dollars.") == "it costs 3.50 dollars ."
    assert normalize("a  b\tc\n", space_punct=False) == "a b c"


def test_normalize_unicode_forms():
    decomposed = unicodedata.normalize("NFD", "están")
    assert normalize(decomposed) == "están"  # NFD input composes, not split on the combining mark
    assert normalize("ＡＢＣ？") == "abc ?"  # NFKC folds full-width forms
    assert unicode_normalize("ﬁne…") == "fine..."


def test_korean_survives():
    text = "안녕하세요! 오늘 날씨 좋네요 ㅠㅠ ㅋㅋ"
    assert remove_accents(text) == text
    assert normalize(text, strip_accents=True) == "안녕하세요 ! 오늘 날씨 좋네요 ㅠㅠ ㅋㅋ"
    # plain NFKC would turn compatibility jamo into conjoining jamo; ours keeps them
    assert unicodedata.normalize("NFKC", "ㅠ") != "ㅠ"
    assert unicode_normalize("ㅠㅠ…") == "ㅠㅠ..."
    assert WordTokenizer(strip_accents=True).tokenize("12시 땡!") == ["12시", "땡", "!"]


def test_word_detokenize():
    tok = WordTokenizer(strip_accents=True)
    assert tok.detokenize(["it's", "very", "cold", "here", "."]) == "it's very cold here."
    assert tok.detokenize(["¿", "todavia", "estan", "en", "casa", "?"]) == "¿todavia estan en casa?"
    assert (
        tok.detokenize(["he", "said", '"', "hi", '"', "(", "twice", ")", ",", "ok"])
        == 'he said "hi" (twice), ok'
    )
    for s in ["¿Todavía están en casa?", "I can't go, sorry!", "Laisse-nous !"]:
        toks = tok.tokenize(s)
        assert tok.tokenize(tok.detokenize(toks)) == toks  # detokenize is a right inverse on token level


def test_char_tokenizer():
    tok = CharTokenizer()
    assert tok.tokenize("Ab c") == ["A", "b", " ", "c"]
    assert tok.detokenize(tok.tokenize("First Citizen:\n")) == "First Citizen:\n"
    assert CharTokenizer(lowercase=True).tokenize("AB") == ["a", "b"]


SPANISH = [
    "¿Todavía están en casa?",
    "Me voy a cambiar la camisa.",
    "Él no sabe nadar, pero ella sí.",
    "Mañana vamos a la playa con los niños.",
] * 20
KOREAN = [
    "12시 땡!",
    "1지망 학교 떨어졌어",
    "하루가 또 가네요.",
    "위로해 드립니다. ㅠㅠ",
    "오늘 날씨 좋다",
] * 20


@pytest.mark.parametrize("model", ["bpe", "unigram"])
def test_subword_roundtrip_and_serialisation(model):
    tok = SubwordTokenizer.train(SPANISH + KOREAN, vocab_size=300, model=model, min_frequency=1)
    assert tok.vocab_tokens()[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    for s in set(SPANISH + KOREAN):
        pieces = tok.tokenize(s)
        assert pieces and "<unk>" not in pieces
        assert tok.detokenize(pieces) == s  # exact: this text is already normalised
    messy = "  ¿Todavía\u00a0están   en casa? "
    assert tok.detokenize(tok.tokenize(messy)) == tok.prepare(messy) == "¿Todavía están en casa?"
    d = json.loads(json.dumps(tok.to_dict()))
    again = tokenizer_from_dict(d)
    assert isinstance(again, SubwordTokenizer) and isinstance(again, Tokenizer)
    assert again.tokenize(KOREAN[3]) == tok.tokenize(KOREAN[3])
    assert tok.tokenize("") == [] and tok.detokenize(["<bos>", "<eos>"]) == ""


def test_tokenizer_from_dict_all_kinds():
    for tok in (WordTokenizer(lowercase=False, strip_accents=True), CharTokenizer(lowercase=True)):
        again = tokenizer_from_dict(json.loads(json.dumps(tok.to_dict())))
        assert type(again) is type(tok) and again.to_dict() == tok.to_dict()
    with pytest.raises(UserError, match="unknown tokenizer kind"):
        tokenizer_from_dict({"kind": "morpheme"})
    with pytest.raises(UserError, match="corrupt"):
        tokenizer_from_dict({"kind": "subword", "hf_tokenizer": "{"})
    with pytest.raises(UserError):
        SubwordTokenizer.train(["a"], vocab_size=4)
