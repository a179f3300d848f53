"""File formats → rows. One reader per format; every dataset goes through one of these.

Malformed input is either an error that points at it (`UserError("FILE:LINE: what is wrong; pass
on_error='skip' to skip such lines")`) or, with `on_error="skip"`, dropped and counted in
`ReadResult.skipped` so the caller can report how much was lost. Entirely blank lines are ignored (a
trailing newline is not data). All values are stripped and the no-break spaces U+00A0/U+202F (French
typography in Tatoeba) become plain spaces, so whitespace tokenizers see them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, NamedTuple

from attnlab.errors import UserError

OnError = Literal["raise", "skip"]
_NBSP = str.maketrans({"\u00a0": " ", "\u202f": " "})


class ReadResult(NamedTuple):
    """`rows`: the parsed rows (tuples); `skipped`: how many malformed lines were dropped."""

    rows: list
    skipped: int


def clean(value: str) -> str:
    """Strip and turn no-break spaces into plain spaces (the one cleaning every reader applies)."""
    return value.translate(_NBSP).strip()


def read_text(path: Path | str) -> str:
    """The whole file as UTF-8 text (a leading BOM is dropped). Missing, empty or non-UTF-8 → `UserError`."""
    path = Path(path)
    data = _read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(
            f"{path}: not valid UTF-8 at byte offset {err.start} ({data[err.start : err.start + 1]!r}); "
            "re-encode the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
        ) from None
    return text.removeprefix("\ufeff")


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise UserError(f"{path}: no such file; check the path or the dataset directory")
    data = path.read_bytes()
    if not data.strip():
        raise UserError(f"{path}: file is empty")
    return data


class _Errors:
    """Raise or count malformed records."""

    def __init__(self, path: Path, on_error: OnError):
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
        self.path, self.on_error, self.skipped = path, on_error, 0

    def bad(self, line: int, what: str) -> None:
        if self.on_error == "raise":
            raise UserError(
                f"{self.path}:{line}: {what}; to skip and count such lines set data.on_error=skip "
                f"(Python: on_error='skip')"
            )
        self.skipped += 1


def _lines(text: str) -> list[str]:
    # splitlines() would also split on U+2028, \x0b, \x1c…: only \n (and \r\n) end a record here.
    return [line.removesuffix("\r") for line in text.split("\n")]


def read_tsv_rows(path: Path | str, *, min_fields: int = 2, on_error: OnError = "raise") -> ReadResult:
    """Tab-separated lines → rows of all their fields (stripped); fewer than `min_fields` fields or an empty
    one among the first `min_fields` is malformed."""
    path = Path(path)
    errors = _Errors(path, on_error)
    rows: list[tuple[str, ...]] = []
    for lineno, line in enumerate(_lines(read_text(path)), start=1):
        if not line.strip():
            continue
        fields = tuple(clean(f) for f in line.split("\t"))
        if len(fields) < min_fields:
            errors.bad(lineno, f"expected {min_fields} tab-separated fields, found {len(fields)}")
            continue
        empty = next((i for i in range(min_fields) if not fields[i]), None)
        if empty is not None:
            errors.bad(lineno, f"empty {('first', 'second')[empty] if empty < 2 else f'#{empty + 1}'} field")
            continue
        rows.append(fields)
    return ReadResult(rows, errors.skipped)


def read_tsv_pairs(path: Path | str, *, on_error: OnError = "raise") -> ReadResult:
    """Tab-separated pairs → rows of `(col0, col1)`.

    Lines need at least two fields (Tatoeba exports may carry a third attribution column, which is
    dropped); fewer fields or an empty side is malformed.
    """
    result = read_tsv_rows(path, min_fields=2, on_error=on_error)
    return ReadResult([r[:2] for r in result.rows], result.skipped)


def read_parallel(src_path: Path | str, tgt_path: Path | str, *, on_error: OnError = "raise") -> ReadResult:
    """Two line-aligned files (line i of one translates line i of the other) → rows of `(src, tgt)`.

    Differing line counts is always an error (the alignment would be meaningless); a pair with an empty
    side is malformed.
    """
    src_path, tgt_path = Path(src_path), Path(tgt_path)
    src, tgt = (_lines(read_text(p).removesuffix("\n")) for p in (src_path, tgt_path))
    if len(src) != len(tgt):
        raise UserError(
            f"{src_path} has {len(src):,} lines but {tgt_path} has {len(tgt):,}; parallel files must be line-aligned"
        )
    errors = _Errors(src_path, on_error)
    rows: list[tuple[str, str]] = []
    for lineno, (a, b) in enumerate(zip(src, tgt, strict=True), start=1):
        a, b = clean(a), clean(b)
        if not a or not b:
            errors.path = src_path if not a else tgt_path
            errors.bad(lineno, "empty line in a parallel file")
            continue
        rows.append((a, b))
    return ReadResult(rows, errors.skipped)


def read_csv(path: Path | str, columns: Sequence[str], *, on_error: OnError = "raise") -> ReadResult:
    """A CSV with a header row → rows as tuples of `columns`, in that order.

    Handles CRLF, quoted fields with commas/newlines, and a UTF-8 BOM. Values are stripped (ChatbotData
    has one label `"2   "`, which reads as `"2"`). A header lacking a requested column is a `UserError`
    naming the columns; a row with a missing or extra field, or an empty requested value, is malformed.
    The line number reported is where the record starts.
    """
    path = Path(path)
    errors = _Errors(path, on_error)
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    try:
        header = [clean(h) for h in next(reader)]
    except csv.Error as err:
        raise UserError(f"{path}:1: cannot parse the CSV header ({err})") from None
    missing = [c for c in columns if c not in header]
    if missing:
        raise UserError(
            f"{path}: missing column(s) {', '.join(missing)} in header (found: {', '.join(header) or 'nothing'})"
        )
    picks = [header.index(c) for c in columns]
    rows: list[tuple[str, ...]] = []
    start = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            errors.bad(start, f"cannot parse CSV ({err})")
            start = reader.line_num + 1
            continue
        lineno, start = start, reader.line_num + 1
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # blank line
        if len(record) != len(header):
            errors.bad(lineno, f"expected {len(header)} fields, found {len(record)}")
            continue
        values = tuple(clean(record[i]) for i in picks)
        empty = [c for c, v in zip(columns, values, strict=True) if not v]
        if empty:
            errors.bad(lineno, f"empty value in column {', '.join(empty)}")
            continue
        rows.append(values)
    return ReadResult(rows, errors.skipped)
