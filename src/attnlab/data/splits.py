"""Leak-free splits: pairs that share a normalised side never straddle train and test.

Tatoeba files (spa-eng, fra-eng) hold several translations of one sentence ("Go." → "Ve.", "Vete.",
"Váyase."), and ChatbotData repeats questions with other answers. A split by line puts one of them in
training and its twin in test, and the test score then measures memory. Here a row's *group* is the
connected component of rows that share a normalised value in any of the `key` columns (translation: the
source or the target; chat: the question), and each group lands wholly in one part.

The normalisation (`group_key`) is deliberately coarser than any recipe's tokenizer — NFKC, case folded,
accents and punctuation dropped, whitespace collapsed — so cased and lower-cased recipes, and both
directions of a language pair, share one test set: the components are the same whichever side is the
source, and the parts depend only on the rows, the fractions and the seed.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from attnlab.errors import UserError
from attnlab.fileio import read_json

VERSION = 2  # split.json records this; runs split by line (version 1, leaky) are refused by `eval`
GROUPING = (
    "connected components of rows sharing a normalised {cols} (NFKC, case folded, no accents or punctuation)"
)


@lru_cache(maxsize=4096)
def _dropped(ch: str) -> bool:
    """Combining marks (accents after NFD) and punctuation are not part of a sentence's identity."""
    cat = unicodedata.category(ch)
    return cat[0] in "MP"


_ASCII_PUNCT = str.maketrans(
    "", "", "".join(chr(c) for c in range(128) if unicodedata.category(chr(c))[0] == "P")
)


def group_key(text: str) -> str:
    """'¿Todavía están en casa?' and 'todavia estan en casa' have one key: 'todavia estan en casa'."""
    if text.isascii():  # fast path (most English lines): no accents, NFKC is the identity
        return " ".join(text.lower().translate(_ASCII_PUNCT).split())
    text = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text).casefold())
    kept = "".join(ch for ch in text if not _dropped(ch))
    return " ".join(unicodedata.normalize("NFC", kept).split())  # NFC: Hangul jamo back into syllables


def components(rows: Sequence[Sequence[str]], key_columns: Sequence[int]) -> np.ndarray:
    """The component id of every row (ids numbered by their first row, so deterministic), with union-find
    over rows that share a `group_key` in any of `key_columns` (a value in one column never matches the
    same text in another: an English "no" and a Spanish "no" are different sentences)."""
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving
            i = parent[i]
        return i

    first: dict[tuple[int, str], int] = {}
    for i, row in enumerate(rows):
        for c in key_columns:
            k = (c, group_key(row[c]))
            j = first.setdefault(k, i)
            if j != i:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)  # the root is always the group's first row
    roots = np.fromiter((find(i) for i in range(len(rows))), dtype=np.int64, count=len(rows))
    _, ids = np.unique(roots, return_inverse=True)
    return ids.astype(np.int64)


def grouped_split(
    rows: Sequence[Sequence[str]],
    key_columns: Sequence[int],
    fractions: Sequence[float],
    *,
    seed: int,
    names: Sequence[str] = ("train", "valid", "test"),
) -> dict[str, np.ndarray]:
    """Partition row numbers into named parts of about the given fractions, whole components each.

    Components are shuffled with `seed` and laid end to end; a component goes to the part in whose share of
    that line its first row falls. Returns `{name: sorted int64 row numbers}`.
    """
    if len(fractions) != len(names):
        raise UserError(f"{len(fractions)} split fractions but {len(names)} names ({', '.join(names)})")
    if any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise UserError(f"split fractions must be non-negative and sum to 1, got {list(fractions)}")
    comp = components(rows, key_columns)
    n_comp = int(comp.max()) + 1 if len(comp) else 0
    sizes = np.bincount(comp, minlength=n_comp)
    order = np.random.default_rng(seed).permutation(n_comp)
    starts = np.empty(n_comp, dtype=np.int64)
    starts[order] = np.concatenate([[0], np.cumsum(sizes[order])[:-1]]) if n_comp else []
    bounds = np.cumsum([0.0, *fractions]) * len(rows)
    part_of_comp = np.searchsorted(bounds[1:-1], starts, side="right")  # (n_comp,) part index
    part = part_of_comp[comp]  # (n_rows,)
    return {name: np.flatnonzero(part == i).astype(np.int64) for i, name in enumerate(names)}


def overlap_counts(
    train: Sequence[Sequence[str]], parts: dict[str, Sequence[Sequence[str]]], columns: dict[str, int]
) -> dict[str, dict[str, int]]:
    """`{part: {"source": n, "target": m}}`: per named column, how many rows of each part have a value
    whose `group_key` some training row has in that column (memory, not skill)."""
    out: dict[str, dict[str, int]] = {name: {} for name in parts}
    for col_name, c in columns.items():
        seen = {group_key(r[c]) for r in train}
        for name, rows in parts.items():
            out[name][col_name] = sum(group_key(r[c]) in seen for r in rows)
    return out


def fingerprint(rows: Sequence[Sequence[str]]) -> str:
    """sha256 of the rows as read: recorded row numbers mean something only for the same rows."""
    h = hashlib.sha256()
    for row in rows:
        h.update("\t".join(map(str, row)).encode("utf-8", "surrogatepass") + b"\n")
    return h.hexdigest()


def sample_indices(n: int, k: int, *, seed: int) -> np.ndarray:
    """`k` of `range(n)` drawn with `seed` and sorted: a validation sample spread over the whole split
    (files sorted by length or label make the first k a biased one). All of them when k >= n."""
    if k >= n:
        return np.arange(n, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False)).astype(np.int64)


def recorded(run_dir: Path, fingerprint: str, dataset: str) -> dict | None:
    """The run's split.json when it has one (resuming, evaluating), checked to be a current split of the
    same data; None for a new run. Old line-by-line splits are refused: their test scores leak."""
    path = Path(run_dir) / "split.json"
    if not path.is_file():
        return None
    record = read_json(path, "split record")
    retrain = f"retrain it: attnlab train {run_dir}/config.yaml --out NEW_DIR"
    if not isinstance(record, dict) or record.get("version", 1) < VERSION:
        raise UserError(
            f"{run_dir} was split by an older attnlab (its test part overlaps training); {retrain}"
        )
    if record.get("fingerprint") != fingerprint:
        raise UserError(
            f"the {dataset} data differ from those {run_dir} was split from (split.json); "
            f"evaluate with --file, or {retrain}"
        )
    return record
