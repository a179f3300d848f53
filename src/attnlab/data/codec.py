"""A `Codec` is one side's text <-> ids: a tokenizer plus its vocabulary, saved together as one JSON file.

Every task encodes and decodes through a Codec, so normalisation, unknown words and detokenisation are
handled the same way for translation, classification, language models and chat.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from attnlab.data.text import CharTokenizer, SubwordTokenizer, Tokenizer, WordTokenizer, tokenizer_from_dict
from attnlab.data.vocab import Vocab
from attnlab.errors import UserError


@dataclass
class Codec:
    tokenizer: Tokenizer
    vocab: Vocab

    @classmethod
    def build(
        cls,
        texts: Sequence[str],
        *,
        kind: Literal["word", "char", "subword"] = "word",
        lowercase: bool = True,
        strip_accents: bool = False,
        min_freq: int = 1,
        max_size: int | None = None,
        subword_vocab: int = 8000,
        subword_model: Literal["bpe", "unigram"] = "bpe",
        token_filter: Callable[[list[str]], list[str]] | None = None,
    ) -> Codec:
        """Fit a tokenizer (subword only) and a vocabulary on training texts; `token_filter` (word and char
        codecs) drops tokens the task never feeds the model, so they take no vocabulary slot."""
        if kind == "subword":
            tok = SubwordTokenizer.train(
                texts, vocab_size=subword_vocab, model=subword_model, lowercase=lowercase
            )
            return cls(tok, Vocab.from_tokens(tok.vocab_tokens()))
        tok = (
            WordTokenizer(lowercase=lowercase, strip_accents=strip_accents)
            if kind == "word"
            else CharTokenizer(lowercase)
        )
        keep = token_filter or (lambda tokens: tokens)
        counted = (keep(tok.tokenize(t)) for t in texts)
        return cls(tok, Vocab.build(counted, min_freq=min_freq, max_size=max_size))

    def tokens(self, text: str) -> list[str]:
        return self.tokenizer.tokenize(text)

    def encode(self, text: str | Sequence[str], *, bos: bool = False, eos: bool = False) -> list[int]:
        tokens = self.tokens(text) if isinstance(text, str) else text
        return self.vocab.encode(tokens, add_bos=bos, add_eos=eos)

    def encode_many(self, texts: Iterable[str]) -> list[list[int]]:
        return [self.vocab.encode(self.tokens(t)) for t in texts]

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.detokenize(self.vocab.decode(list(ids)))

    def to_dict(self) -> dict:
        return {"tokenizer": self.tokenizer.to_dict(), "vocab": self.vocab.tokens}

    @classmethod
    def from_dict(cls, d: dict) -> Codec:
        return cls(tokenizer_from_dict(d["tokenizer"]), Vocab(d["vocab"]))

    def save(self, path: Path) -> None:
        from attnlab.fileio import atomic_write_json

        atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: Path) -> Codec:
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise UserError(f"{path} is missing: the run directory is incomplete; train it again") from None
        except OSError as err:  # a directory in its place, no permission, ...
            raise UserError(f"{path} cannot be read ({err.strerror}); check the run directory") from None
        # TypeError / AttributeError: valid JSON of the wrong shape (a list, numbers for tokens, ...)
        except (json.JSONDecodeError, KeyError, UnicodeDecodeError, TypeError, AttributeError, ValueError):
            raise UserError(f"{path} is not a valid attnlab vocabulary file") from None
