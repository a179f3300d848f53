"""Corpora by name and task: tasks say `load_translation("spa-eng", "en", "es")`, never a path.

Split policy (decided here, once):

* **spa-eng, fra-eng** have no official split → `{"all": pairs}`; the task splits them with
  `splits.grouped_split` (leak-free: pairs sharing a normalised sentence stay in one part).
* **multi30k** has its own → `{"train", "valid", "test"}` (`test` = test2016).
* **imdb** → `{"train", "test"}` (canonical 25k/25k; carve validation out of train yourself).

Pairs come back as `(src, tgt)` in the requested direction, cleaned by the readers (stripped, no-break
spaces → spaces) but otherwise raw: normalisation is the tokenizer's job.
"""

from __future__ import annotations

import statistics
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attnlab.data import readers
from attnlab.data.readers import OnError
from attnlab.data.registry import get, resolve
from attnlab.errors import UserError

# name → language → column index (TSV) or file suffix (parallel)
_TSV = {"spa-eng": ("spa.txt", ("en", "es")), "fra-eng": ("fra.txt", ("en", "fr"))}
_MULTI30K_SPLITS = {"train": "train", "valid": "val", "test": "test2016"}
_LOADERS = {
    "translation": "load_translation",
    "classification": "load_classification",
    "language-modeling": "load_text",
    "dialogue": "load_dialogue",
}


def _require_task(name: str, task: str) -> Path:
    info = get(name)
    if info.task != task:
        raise UserError(f"dataset {name!r} is a {info.task} dataset; load it with {_LOADERS[info.task]}()")
    return resolve(name)


def _check_langs(name: str, available: Sequence[str], src_lang: str, tgt_lang: str) -> None:
    for lang in (src_lang, tgt_lang):
        if lang not in available:
            raise UserError(f"dataset {name!r} has no language {lang!r}; available: {', '.join(available)}")
    if src_lang == tgt_lang:
        raise UserError(
            f"source and target language are both {src_lang!r}; pick two of {', '.join(available)}"
        )


def _rows(result: readers.ReadResult, path: Path) -> list:
    """The rows of a read; lines skipped at the user's request (data.on_error=skip) are counted on stderr."""
    if result.skipped:
        print(
            f"note: {path}: skipped {result.skipped:,} malformed line(s) (data.on_error=skip)",
            file=sys.stderr,
        )
    return result.rows


def load_translation(
    name: str, src_lang: str, tgt_lang: str, *, limit: int | None = None, on_error: OnError = "raise"
) -> dict[str, list[tuple[str, str]]]:
    """`{split: [(src, tgt), ...]}` — `{"all"}` for spa-eng/fra-eng, `{"train","valid","test"}` for multi30k.

    `limit` keeps the first `limit` pairs of every split (quick experiments, tests).
    """
    root = _require_task(name, "translation")
    if name in _TSV:
        filename, langs = _TSV[name]
        _check_langs(name, langs, src_lang, tgt_lang)
        rows = _rows(readers.read_tsv_pairs(root / filename, on_error=on_error), root / filename)
        splits = {"all": rows}
        flip = langs.index(src_lang) == 1
    elif name == "multi30k":
        langs = get(name).languages
        _check_langs(name, langs, src_lang, tgt_lang)
        splits = {
            split: _rows(
                readers.read_parallel(
                    root / f"{stem}.{src_lang}", root / f"{stem}.{tgt_lang}", on_error=on_error
                ),
                root / f"{stem}.{src_lang}",
            )
            for split, stem in _MULTI30K_SPLITS.items()
        }
        flip = False
    else:  # pragma: no cover - every registered translation dataset is handled above
        raise UserError(f"no translation loader for {name!r}")
    out: dict[str, list[tuple[str, str]]] = {}
    for split, rows in splits.items():
        rows = rows[:limit] if limit is not None else rows
        out[split] = [(b, a) for a, b in rows] if flip else list(rows)
    return out


def load_classification(
    name: str, *, limit: int | None = None, on_error: OnError = "raise"
) -> dict[str, list[tuple[str, int]]]:
    """imdb → `{"train": [(review, label)], "test": [...]}` with label 1 = positive, 0 = negative."""
    root = _require_task(name, "classification")
    labels = {"negative": 0, "positive": 1}
    out: dict[str, list[tuple[str, int]]] = {}
    for split in ("train", "test"):
        path = root / f"{split}.csv"
        rows = _rows(readers.read_csv(path, ("review", "sentiment"), on_error=on_error), path)
        rows = rows[:limit] if limit is not None else rows
        bad = sorted({s for _, s in rows if s not in labels})
        if bad:
            raise UserError(
                f"{path}: unknown sentiment value(s) {', '.join(map(repr, bad[:5]))}; expected positive/negative"
            )
        out[split] = [(text, labels[s]) for text, s in rows]
    return out


def load_text(name: str) -> str:
    """nietzsche / tinyshakespeare → the whole corpus as one string (unchanged characters)."""
    root = _require_task(name, "language-modeling")
    return readers.read_text(root / get(name).files[0].path)


def load_dialogue(
    name: str, *, limit: int | None = None, on_error: OnError = "raise"
) -> list[tuple[str, str, int]]:
    """chatbot-ko → `[(question, answer, label)]` in file order; label 0 everyday, 1 break-up, 2 love."""
    root = _require_task(name, "dialogue")
    path = root / "ChatbotData.csv"
    rows = _rows(readers.read_csv(path, ("Q", "A", "label"), on_error=on_error), path)
    rows = rows[:limit] if limit is not None else rows
    out: list[tuple[str, str, int]] = []
    for q, a, label in rows:
        if not label.isdigit():
            raise UserError(f"{path}: label {label!r} is not an integer (question {q!r})")
        out.append((q, a, int(label)))
    return out


# ------------------------------------------------------------------------------------- a user's file

# The layout of each dataset's own file, so `eval --file` reads a file like the dataset's the right way.
_OWN_CSV = {"chatbot-ko": {"Q": "q", "A": "a"}}  # header name → the run's side name
_ROLES = ("src", "ref", "-")


def _csv_header(path: Path) -> list[str]:
    import csv

    with open(path, encoding="utf-8-sig", newline="") as fh:
        return [readers.clean(h) for h in next(csv.reader(fh), [])]


def read_eval_pairs(
    path: Path | str, name: str, src_lang: str, tgt_lang: str, columns: str | None = None
) -> tuple[list[tuple[str, str]], str]:
    """A user's `eval --file` of (source, reference) pairs, for a run trained on `name` from `src_lang` to
    `tgt_lang`; returns the pairs and a one-line description of the layout it read.

    Without `columns` a file is read in its dataset's own layout: spa.txt and fra.txt put English first
    (`English<TAB>Spanish`), so a Spanish→English run takes its sources from the second column;
    ChatbotData's `Q,A,label` CSV gives question → answer; any other file is `source<TAB>reference`.
    `columns` names the tab-separated (or CSV) columns in order, by role (`src`, `ref`, `-` to skip) or by
    language (`en,es`); columns after the named ones are ignored.
    """
    path = Path(path)
    is_csv = path.suffix.lower() == ".csv"
    if is_csv:
        header = _csv_header(path)
        rows = readers.read_csv(path, header).rows if header else []
    else:
        header, rows = [], readers.read_tsv_rows(path).rows
    sides = {src_lang: "src", tgt_lang: "ref"}
    if columns is not None:
        names = [c.strip() for c in columns.split(",")]
        roles = [sides.get(c, c if c in _ROLES else None) for c in names]
        if None in roles or roles.count("src") != 1 or roles.count("ref") != 1:
            raise UserError(
                f"--columns {columns!r}: name each column in order as src, ref or - (or by language: "
                f"{src_lang}, {tgt_lang}), with one src and one ref, e.g. --columns src,ref"
            )
        layout = f"columns {','.join(roles)} (--columns)"
    elif is_csv and name in _OWN_CSV and all(h in header for h in _OWN_CSV[name]):
        roles = [sides.get(_OWN_CSV[name].get(h, ""), "-") for h in header]
        layout = f"{name}'s own CSV layout ({','.join(header)})"
    elif is_csv:
        raise UserError(
            f"{path}: a CSV file needs --columns to say which column is the source and which the reference "
            f"(header: {','.join(header) or 'none'}), e.g. --columns src,ref"
        )
    elif name in _TSV:
        langs = _TSV[name][1]
        roles = [sides.get(lang, "-") for lang in langs]
        layout = (
            f"{name}'s own layout ({'<TAB>'.join(langs)}): {src_lang} is column {langs.index(src_lang) + 1}"
        )
    else:
        roles, layout = ["src", "ref"], "source<TAB>reference"
    i, j = roles.index("src"), roles.index("ref")
    short = [r for r in rows if len(r) <= max(i, j)]
    if short:
        raise UserError(
            f"{path}: a line has {len(short[0])} columns, but the layout ({layout}) needs {max(i, j) + 1}"
        )
    pairs = [(r[i], r[j]) for r in rows]
    if not pairs:
        raise UserError(f"{path}: no (source, reference) lines to evaluate")
    return pairs, layout


# ------------------------------------------------------------------------------------------ describe


def _stats(values: Sequence[str]) -> dict[str, dict[str, float]]:
    if not values:
        return {"chars": {"mean": 0, "median": 0, "max": 0}, "tokens": {"mean": 0, "median": 0, "max": 0}}
    chars = [len(v) for v in values]
    toks = [len(v.split()) for v in values]
    return {
        unit: {"mean": round(statistics.fmean(xs), 2), "median": float(statistics.median(xs)), "max": max(xs)}
        for unit, xs in (("chars", chars), ("tokens", toks))
    }


def _samples(rows: Sequence, k: int) -> list:
    """`k` rows spread evenly over the corpus (deterministic; the files are often length-sorted)."""
    if len(rows) <= k:
        return list(rows)
    step = len(rows) / k
    return [rows[int(i * step)] for i in range(k)]


def describe(name: str, *, samples: int = 3) -> dict[str, Any]:
    """Counts, length statistics (mean/median/max in whitespace tokens and chars, per column) and a few
    samples, for `attnlab data show`. Shape:

    `{"name", "task", "description", "license", "source", "path", "splits": {split: {"count",
    "columns": {col: {"chars": {...}, "tokens": {...}}}, "labels"?: {label: count}, "samples": [...]}}}`;
    language-modeling corpora report `characters`, `lines`, `distinct_chars` and text `samples` instead.
    """
    info = get(name)
    root = resolve(name)
    out: dict[str, Any] = {
        "name": info.name,
        "task": info.task,
        "description": info.description,
        "rows": info.rows,
        "license": info.license,
        "source": info.source,
        "path": str(root),
        "splits": {},
    }

    def table(rows: Sequence[tuple], columns: Sequence[str], label_col: int | None = None) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "count": len(rows),
            "columns": {
                c: _stats([str(r[i]) for r in rows]) for i, c in enumerate(columns) if i != label_col
            },
            "samples": [list(r) for r in _samples(rows, samples)],
        }
        if label_col is not None:
            entry["labels"] = dict(sorted(Counter(r[label_col] for r in rows).items()))
        return entry

    if info.task == "translation":
        langs = _TSV[name][1] if name in _TSV else info.languages
        for split, rows in load_translation(name, langs[0], langs[1]).items():
            out["splits"][split] = table(rows, langs)
    elif info.task == "classification":
        for split, rows in load_classification(name).items():
            out["splits"][split] = table(rows, ("text", "label"), label_col=1)
    elif info.task == "dialogue":
        out["splits"]["all"] = table(load_dialogue(name), ("Q", "A", "label"), label_col=2)
    else:
        text = load_text(name)
        lines = text.split("\n")
        out["splits"]["all"] = {
            "characters": len(text),
            "lines": text.count("\n"),
            "distinct_chars": len(set(text)),
            "columns": {"line": _stats(lines)},
            "samples": [text[int(i * len(text) / max(samples, 1)) :][:200] for i in range(samples)],
        }
    return out
