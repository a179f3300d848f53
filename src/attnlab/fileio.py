"""Leaf file helpers used by every layer: atomic writes, sha256, and JSON reads that fail in one line.

Atomic: a file is written to a temporary name in the same directory, fsynced, then `os.replace`d, so a
reader (or a crash) sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from attnlab.errors import UserError


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it; put it straight back
    os.umask(mask)
    return mask


_UMASK = _umask()


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not every platform can open a directory
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write via a temporary file in the same directory and os.replace: readers see old or new, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; a run's files get the usual permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any, *, compact: bool = False) -> Path:
    """Indented by default (run files people read); `compact` for large machine files (n-gram tables)."""
    if compact:
        return atomic_write_text(path, json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
    return atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_json(path: str | os.PathLike, what: str = "file") -> Any:
    """Parse a JSON file; a missing, unreadable or corrupt one is a one-line UserError naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{what} not found: {path}; check the run directory") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"cannot read {what} {path}: {err}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(
            f"corrupt {what} {path}: not valid JSON ({err.msg}); re-train or restore it"
        ) from None
