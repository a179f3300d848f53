"""`Vocab`: token ↔ id with the project-wide specials `<pad>`=0, `<unk>`=1, `<bos>`=2, `<eos>`=3.

Built from token lists (or a `Counter`) with frequency cut-offs; ties are broken by token so two builds
from the same data give the same ids, which makes checkpoints portable between runs.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from attnlab.errors import UserError

_FORMAT = "attnlab.vocab"


class Vocab:
    """An ordered token list; a token's id is its position. Specials always occupy ids 0..3."""

    PAD, UNK, BOS, EOS = 0, 1, 2, 3
    SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        if tuple(tokens[:4]) != self.SPECIALS:
            raise UserError(
                f"vocabulary must start with the specials {', '.join(self.SPECIALS)} at ids 0..3, "
                f"found {tokens[:4]}; rebuild it with attnlab"
            )
        index = {tok: i for i, tok in enumerate(tokens)}
        if len(index) != len(tokens):
            dupes = sorted({t for t, c in Counter(tokens).items() if c > 1})[:5]
            raise UserError(f"vocabulary has duplicate tokens: {', '.join(map(repr, dupes))}")
        self._tokens = tokens
        self._index = index

    # ------------------------------------------------------------------------------------ builders

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Sequence[str]] | Counter,
        *,
        min_freq: int = 1,
        max_size: int | None = None,
    ) -> Vocab:
        """Count tokens and keep those seen at least `min_freq` times, most frequent first (ties by token).

        `max_size` caps the *total* size, specials included (so `len(vocab) <= max_size`).
        """
        if isinstance(token_lists, Counter):
            counts = Counter(token_lists)
        else:
            counts = Counter()
            for tokens in token_lists:
                counts.update(tokens)
        for special in cls.SPECIALS:
            counts.pop(special, None)
        if max_size is not None and max_size < len(cls.SPECIALS):
            raise UserError(f"max_size must be at least {len(cls.SPECIALS)} (the specials), got {max_size}")
        kept = sorted(
            (item for item in counts.items() if item[1] >= min_freq), key=lambda kv: (-kv[1], kv[0])
        )
        if max_size is not None:
            kept = kept[: max_size - len(cls.SPECIALS)]
        return cls([*cls.SPECIALS, *(tok for tok, _ in kept)])

    @classmethod
    def from_tokens(cls, tokens: Iterable[str]) -> Vocab:
        """A vocab with the specials first, then `tokens` in order (specials inside `tokens` are not
        repeated; if `tokens` already starts with them, ids are exactly the list positions)."""
        rest = [t for t in tokens if t not in cls.SPECIALS]
        return cls([*cls.SPECIALS, *rest])

    # ------------------------------------------------------------------------------------- lookups

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self._tokens == other._tokens

    def __hash__(self) -> int:
        return hash(tuple(self._tokens))

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)})"

    @property
    def tokens(self) -> list[str]:
        """All tokens by id (a copy)."""
        return list(self._tokens)

    def token_to_id(self, token: str) -> int:
        return self._index.get(token, self.UNK)

    def id_to_token(self, i: int) -> str:
        return self._tokens[int(i)]

    def encode(self, tokens: Iterable[str], *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Tokens → ids; unknown tokens → UNK."""
        get = self._index.get
        ids = [get(t, self.UNK) for t in tokens]
        if add_bos:
            ids.insert(0, self.BOS)
        if add_eos:
            ids.append(self.EOS)
        return ids

    def decode(
        self, ids: Iterable[int], *, strip_specials: bool = True, stop_at_eos: bool = True
    ) -> list[str]:
        """Ids → tokens. Stops at the first EOS when `stop_at_eos`; drops `<pad>`/`<bos>`/`<eos>` when
        `strip_specials` (`<unk>` is kept: it marks a real, unknown word)."""
        out: list[str] = []
        drop = (self.PAD, self.BOS, self.EOS) if strip_specials else ()
        for i in ids:
            i = int(i)
            if stop_at_eos and i == self.EOS:
                break
            if i in drop:
                continue
            out.append(self._tokens[i])
        return out

    # ---------------------------------------------------------------------------------------- disk

    def to_dict(self) -> dict[str, Any]:
        return {"format": _FORMAT, "version": 1, "tokens": list(self._tokens)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocab:
        tokens = d.get("tokens") if isinstance(d, dict) else None
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise UserError(
                "not an attnlab vocabulary: expected a JSON object with a list of string 'tokens'"
            )
        return cls(tokens)

    def save(self, path: Path | str) -> None:
        """Write JSON atomically (temp file in the same directory, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.to_dict(), f, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path | str) -> Vocab:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: no such vocabulary file")
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise UserError(f"{path}: not a valid vocabulary JSON ({err})") from None
        try:
            return cls.from_dict(d)
        except UserError as err:
            raise UserError(f"{path}: {err}") from None
