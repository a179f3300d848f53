"""Text normalisation and the three tokenizers (word, char, subword) behind one small protocol.

Unicode policy (one for the whole project, see `unicode_normalize`): NFKC, so full-width forms,
ligatures and `…` become their plain equivalents — *except* Hangul compatibility jamo (`ㅋ`, `ㅠ`, common
in the Korean chatbot data), which NFKC would silently turn into conjoining jamo that render and compare
differently. No-break spaces become spaces. Accent stripping decomposes (NFD), drops combining marks and
recomposes (NFC) (`remove_accents`): Hangul syllables decompose into jamo letters, not marks, so they survive intact.

Every tokenizer is `kind`, `tokenize(text) -> list[str]`, `detokenize(tokens) -> str` and a
JSON-serialisable `to_dict()`; `tokenizer_from_dict(d)` rebuilds any of them (checkpoints store it).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from attnlab.errors import UserError

SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
_NBSP = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2007": " ", "\u2060": ""})
_COMPAT_JAMO = re.compile(r"([\u3131-\u318e\uffa0-\uffdc]+)")
_WS = re.compile(r"\s+")
# Lone surrogates (what Python makes of undecodable bytes) are valid `str` but not text: HF tokenizers
# refuse them with a TypeError. They become U+FFFD, an unknown character like any other.
_SURROGATE = re.compile("[\ud800-\udfff]")
# A token is a number with inner separators (3.5, 1,000), a word with inner apostrophes/hyphens
# (it's, aujourd'hui, laisse-nous), or any single other non-space character (punctuation, symbols).
_WORD = r"[\w\u0300-\u036f]+"
_TOKEN = re.compile(rf"\d+(?:[.,]\d+)+|{_WORD}(?:['’\-]{_WORD})*|[^\w\s]")

UnicodeForm = Literal["nfkc", "nfc", "none"]


def unicode_normalize(text: str, form: UnicodeForm = "nfkc") -> str:
    """NFKC (keeping Hangul compatibility jamo as they are), NFC, or nothing; no-break spaces → spaces."""
    if form not in ("nfkc", "nfc", "none"):
        raise ValueError(f"unknown unicode form {form!r}")
    if text.isascii():  # fast path: nothing to normalise (most English text)
        return text
    text = text.translate(_NBSP)
    if form == "none":
        return text
    if form == "nfc":
        return unicodedata.normalize("NFC", text)
    # Compatibility jamo are starters that never compose, so normalising the runs between them is exact.
    parts = _COMPAT_JAMO.split(text)
    return "".join(p if i % 2 else unicodedata.normalize("NFKC", p) for i, p in enumerate(parts))


def remove_accents(text: str) -> str:
    """Drop combining marks ("¿Todavía están?" → "¿Todavia estan?"); Hangul is recomposed, not harmed."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", kept)


def normalize(
    text: str, *, lowercase: bool = True, strip_accents: bool = False, space_punct: bool = True
) -> str:
    """Canonical text for word-level models: Unicode policy above, optional lower-casing and accent
    stripping, spaces around punctuation (incl. ¿ ¡; apostrophes and hyphens inside words stay), and
    whitespace collapsed to single spaces.

    >>> normalize("¿Todavía están en casa?", strip_accents=True)
    '¿ todavia estan en casa ?'
    """
    text = unicode_normalize(text)
    if lowercase:
        text = text.lower()
    if strip_accents:
        text = remove_accents(text)
    if space_punct:
        return " ".join(_TOKEN.findall(text))
    return _WS.sub(" ", text).strip()


@runtime_checkable
class Tokenizer(Protocol):
    """What every tokenizer offers. `to_dict()` must be JSON-serialisable and round-trip through
    `tokenizer_from_dict`."""

    kind: str

    def tokenize(self, text: str) -> list[str]: ...

    def detokenize(self, tokens: Sequence[str]) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


# Detokenisation: no space before closers, none after openers; ASCII double quotes alternate.
_NO_SPACE_BEFORE = set(".,!?;:)]}»…%”’") | {"'s", "n't"}
_NO_SPACE_AFTER = set("¿¡([{«“‘$")


def detokenize_words(tokens: Sequence[str]) -> str:
    """Join word tokens and undo punctuation spacing: "it's very cold here ." → "it's very cold here."."""
    out: list[str] = []
    glue_next = False
    open_quote = False
    for tok in tokens:
        if not tok:
            continue
        glue = glue_next or not out
        glue_next = False
        if tok == '"':
            if open_quote:
                glue = True
            else:
                glue_next = True
            open_quote = not open_quote
        elif tok in _NO_SPACE_BEFORE:
            glue = True
        if tok in _NO_SPACE_AFTER:
            glue_next = True
        out.append(tok if glue else " " + tok)
    return "".join(out)


class WordTokenizer:
    """`normalize` then split on whitespace. Tokens are lower-cased words and single punctuation marks."""

    kind = "word"

    def __init__(self, lowercase: bool = True, strip_accents: bool = False, space_punct: bool = True):
        self.lowercase, self.strip_accents, self.space_punct = lowercase, strip_accents, space_punct

    def tokenize(self, text: str) -> list[str]:
        return normalize(
            text, lowercase=self.lowercase, strip_accents=self.strip_accents, space_punct=self.space_punct
        ).split()

    def detokenize(self, tokens: Sequence[str]) -> str:
        return detokenize_words(tokens) if self.space_punct else " ".join(tokens)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "lowercase": self.lowercase,
            "strip_accents": self.strip_accents,
            "space_punct": self.space_punct,
        }

    def __repr__(self) -> str:
        return f"WordTokenizer(lowercase={self.lowercase}, strip_accents={self.strip_accents}, space_punct={self.space_punct})"


class CharTokenizer:
    """One token per Unicode character, text otherwise untouched (char LMs want the raw 65/57 symbols)."""

    kind = "char"

    def __init__(self, lowercase: bool = False):
        self.lowercase = lowercase

    def tokenize(self, text: str) -> list[str]:
        return list(text.lower() if self.lowercase else text)

    def detokenize(self, tokens: Sequence[str]) -> str:
        return "".join(tokens)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "lowercase": self.lowercase}

    def __repr__(self) -> str:
        return f"CharTokenizer(lowercase={self.lowercase})"


class SubwordTokenizer:
    """BPE or unigram pieces from HF `tokenizers`, with a Metaspace (`▁`) pre-tokenizer so it needs no
    whitespace conventions (Korean, Spanish, anything). Specials `<pad> <unk> <bos> <eos>` are ids 0..3, so
    `Vocab.from_tokens(tok.vocab_tokens())` has the same ids as the HF model.

    Normalisation (`prepare`) happens in Python before HF sees the text — the project Unicode policy
    (default NFKC keeping Hangul compatibility jamo), optional lower-casing, whitespace collapsed — so
    `detokenize(tokenize(t)) == prepare(t)` exactly for text made of characters seen in training.
    """

    kind = "subword"

    def __init__(self, hf_tokenizer: Any, *, lowercase: bool = False, unicode_form: UnicodeForm = "nfkc"):
        self._hf = hf_tokenizer
        self.lowercase = lowercase
        self.unicode_form: UnicodeForm = unicode_form

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int = 8000,
        model: Literal["bpe", "unigram"] = "bpe",
        lowercase: bool = False,
        *,
        unicode_form: UnicodeForm = "nfkc",
        min_frequency: int = 2,
        limit_alphabet: int | None = None,
    ) -> SubwordTokenizer:
        """Learn a `vocab_size`-piece model from `texts` (any iterable; consumed once)."""
        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers import decoders, models, pre_tokenizers, trainers

        if unicode_form not in ("nfkc", "nfc", "none"):
            raise UserError(f"unknown unicode_form {unicode_form!r}; use nfkc, nfc or none")
        if vocab_size <= len(SPECIALS):
            raise UserError(f"vocab_size must be larger than {len(SPECIALS)}, got {vocab_size}")
        if model == "bpe":
            hf = HFTokenizer(models.BPE(unk_token="<unk>"))
            kwargs: dict[str, Any] = {"min_frequency": min_frequency}
            if limit_alphabet is not None:
                kwargs["limit_alphabet"] = limit_alphabet
            trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIALS), **kwargs)
        elif model == "unigram":
            hf = HFTokenizer(models.Unigram())
            trainer = trainers.UnigramTrainer(
                vocab_size=vocab_size, special_tokens=list(SPECIALS), unk_token="<unk>"
            )
        else:
            raise UserError(f"unknown subword model {model!r}; use 'bpe' or 'unigram'")
        hf.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
        hf.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
        tok = cls(hf, lowercase=lowercase, unicode_form=unicode_form)
        prepared = (p for p in (tok.prepare(t) for t in texts) if p)
        hf.train_from_iterator(prepared, trainer=trainer)
        if [hf.token_to_id(s) for s in SPECIALS] != [0, 1, 2, 3]:  # pragma: no cover - trainer contract
            raise RuntimeError("HF trainer did not put the specials at ids 0..3")
        return tok

    def prepare(self, text: str) -> str:
        """The normalised text that `detokenize(tokenize(text))` gives back."""
        text = _SURROGATE.sub("\ufffd", unicode_normalize(text, self.unicode_form))
        if self.lowercase:
            text = text.lower()
        return _WS.sub(" ", text).strip()

    def tokenize(self, text: str) -> list[str]:
        prepared = self.prepare(text)
        return self._hf.encode(prepared, add_special_tokens=False).tokens if prepared else []

    def detokenize(self, tokens: Sequence[str]) -> str:
        pieces = [t for t in tokens if t not in SPECIALS]
        return self._hf.decoder.decode(pieces) if pieces else ""

    def vocab_tokens(self) -> list[str]:
        """All pieces ordered by HF id (specials first)."""
        vocab = self._hf.get_vocab(with_added_tokens=True)
        return [tok for tok, _ in sorted(vocab.items(), key=lambda kv: kv[1])]

    @property
    def vocab_size(self) -> int:
        return self._hf.get_vocab_size(with_added_tokens=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "lowercase": self.lowercase,
            "unicode_form": self.unicode_form,
            "hf_tokenizer": self._hf.to_str(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SubwordTokenizer:
        from tokenizers import Tokenizer as HFTokenizer

        try:
            hf = HFTokenizer.from_str(d["hf_tokenizer"])
        except Exception as err:  # the HF error types are not public
            raise UserError(f"corrupt subword tokenizer data: {err}") from None
        return cls(hf, lowercase=bool(d.get("lowercase", False)), unicode_form=d.get("unicode_form", "nfkc"))

    def __repr__(self) -> str:
        return f"SubwordTokenizer(vocab_size={self.vocab_size}, lowercase={self.lowercase})"


def tokenizer_from_dict(d: dict[str, Any]) -> Tokenizer:
    """Rebuild a tokenizer from its `to_dict()` (also accepts a JSON string)."""
    if isinstance(d, str):
        d = json.loads(d)
    kind = d.get("kind") if isinstance(d, dict) else None
    if kind == "word":
        return WordTokenizer(
            lowercase=d.get("lowercase", True),
            strip_accents=d.get("strip_accents", False),
            space_punct=d.get("space_punct", True),
        )
    if kind == "char":
        return CharTokenizer(lowercase=d.get("lowercase", False))
    if kind == "subword":
        return SubwordTokenizer.from_dict(d)
    raise UserError(f"unknown tokenizer kind {kind!r}; expected one of word, char, subword")
