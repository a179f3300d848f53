"""JSON files for n-gram models: atomic, compact writes and one-line `UserError`s on read (attnlab.fileio)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from attnlab import fileio


def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    return fileio.atomic_write_json(path, data, compact=True)


def read_json(path: str | os.PathLike, what: str = "n-gram model") -> Any:
    return fileio.read_json(path, what)
