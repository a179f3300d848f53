"""Download a registered dataset, verify it, and lay it out like `shared/data/<name>/`.

Safety properties (each one tested):

* every download is checked against its pinned sha256 before it is used; a mismatch is a `UserError`
  naming the URL, the expected and the actual hash, and the bad bytes are deleted;
* everything is written into a staging directory next to the target and renamed into place only after
  the `.complete` marker is written inside it, so `registry.locate` never accepts a half-written dataset,
  whatever point a crash or Ctrl-C interrupts;
* a complete dataset is not downloaded again unless `force=True`.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.client import HTTPException
from pathlib import Path

from attnlab import __version__
from attnlab.data.registry import COMPLETE_MARKER, DatasetInfo, Download, cache_dir, get, is_complete
from attnlab.errors import UserError

CHUNK = 1 << 16
TIMEOUT_S = 60.0


def fetch(
    name: str | DatasetInfo,
    *,
    dest_root: Path | str | None = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Download dataset `name` into `dest_root/<name>` (default `cache_dir()`) and return that directory.

    Idempotent: a complete copy is returned without touching the network unless `force`. Passing a
    `DatasetInfo` instead of a name fetches that entry (used by tests and for private mirrors).
    """
    info = name if isinstance(name, DatasetInfo) else get(name)
    if not info.downloads:
        raise UserError(f"dataset {info.name!r} has no download URL; set ATTNLAB_DATA to a copy of it")
    root = Path(dest_root).expanduser() if dest_root is not None else cache_dir()
    target = root / info.name
    if is_complete(target) and not force:
        return target
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(
            f"cannot create {root}: {err.strerror}; set ATTNLAB_CACHE to a writable directory"
        ) from None

    staging = Path(tempfile.mkdtemp(prefix=f".{info.name}.partial-", dir=root))
    try:
        downloads = staging / ".downloads"
        downloads.mkdir()
        for dl in info.downloads:
            raw = downloads / dl.filename
            _download(dl, raw, verify=dl.verify == "download", progress=progress)
            _unpack(dl, raw, staging)
        shutil.rmtree(downloads)
        if info.convert:
            try:
                CONVERTERS[info.convert](staging)
            except (OSError, tarfile.TarError, zipfile.BadZipFile, UnicodeDecodeError, KeyError) as err:
                raise UserError(f"could not convert the {info.name} download: {err}") from None
        (staging / COMPLETE_MARKER).write_text(f"attnlab {__version__}\n", encoding="utf-8")
        _swap_into_place(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename the finished staging directory onto `target`; an old (forced or incomplete) copy is moved
    aside first and deleted after, so `target` is always either absent, the old copy, or the new one."""
    old: Path | None = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ----------------------------------------------------------------------------------------- download


def _download(dl: Download, dest: Path, *, verify: bool, progress: bool) -> None:
    """Stream `dl.url` into `dest` (via a temp file in the same directory) and check its sha256."""
    tmp = dest.with_name(dest.name + ".tmp")
    digest = hashlib.sha256()
    try:
        request = urllib.request.Request(dl.url, headers={"User-Agent": f"attnlab/{__version__}"})
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response, open(tmp, "wb") as out:
            total = _content_length(response)
            got = 0
            with _progress(dl.url, total, progress) as advance:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    got += len(chunk)
                    advance(len(chunk))
            if total is not None and got != total:
                raise UserError(
                    f"download of {dl.url} was cut off after {got:,} of {total:,} bytes; run it again"
                )
    except UserError:
        tmp.unlink(missing_ok=True)
        raise
    except urllib.error.HTTPError as err:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot download {dl.url}: HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot download {dl.url}: {err.reason}; check your network connection") from None
    except (HTTPException, ConnectionError, TimeoutError) as err:
        tmp.unlink(missing_ok=True)
        reason = type(err).__name__ + (f": {err}" if str(err) else "")
        raise UserError(f"download of {dl.url} failed ({reason}); run it again") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if verify:
        _check_sha(dl.url, dl.sha256, digest.hexdigest(), tmp)
    os.replace(tmp, dest)


def _check_sha(url: str, expected: str, got: str, path: Path) -> None:
    if got != expected.lower():
        path.unlink(missing_ok=True)
        raise UserError(
            f"sha256 mismatch for {url}: expected {expected}, got {got}; the file was deleted "
            "(the upstream file changed or the download was corrupted)"
        )


def _content_length(response) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None


@contextmanager
def _progress(url: str, total: int | None, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A rich progress bar (size, throughput, ETA) or a no-op."""
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(url.rsplit("/", 1)[-1], total=total)
        yield lambda n: bar.update(task, advance=n)


# ------------------------------------------------------------------------------------------- unpack


def _unpack(dl: Download, raw: Path, out_dir: Path) -> None:
    """Turn one verified download into files under `out_dir` (the staging directory)."""
    try:
        if dl.unpack == "file":
            _move(raw, out_dir / dl.target)
        elif dl.unpack == "gzip":
            _gunzip(dl, raw, out_dir / dl.target)
        elif dl.unpack == "zip":
            with zipfile.ZipFile(raw) as zf:
                _extract_members(dl, {n: (lambda n=n: zf.open(n)) for n in zf.namelist()}, out_dir)
        elif dl.unpack == "tar":
            if dl.members:
                with tarfile.open(raw) as tf:
                    opener = {m.name: (lambda m=m: tf.extractfile(m)) for m in tf.getmembers() if m.isfile()}
                    _extract_members(dl, opener, out_dir)
            else:  # left whole for the dataset's converter
                _move(raw, out_dir / ".archive" / dl.filename)
        else:  # pragma: no cover - Download.unpack is a Literal
            raise ValueError(f"unknown unpack mode {dl.unpack!r}")
    except (zipfile.BadZipFile, tarfile.TarError, gzip.BadGzipFile, EOFError) as err:
        raise UserError(f"download from {dl.url} is not a valid {dl.unpack} archive: {err}") from None


def _move(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dest)


def _gunzip(dl: Download, raw: Path, dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".tmp")
    digest = hashlib.sha256()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(raw, "rb") as src, open(tmp, "wb") as out:
        while chunk := src.read(CHUNK):
            out.write(chunk)
            digest.update(chunk)
    if dl.verify == "content":
        _check_sha(dl.url, dl.sha256, digest.hexdigest(), tmp)
    os.replace(tmp, dest)


def _extract_members(dl: Download, openers: dict[str, Callable], out_dir: Path) -> None:
    missing = [member for member, _ in dl.members if member not in openers]
    if missing:
        raise UserError(f"archive {dl.url} lacks {', '.join(missing)}; the upstream layout changed")
    for member, local in dl.members:
        dest = out_dir / local
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        with openers[member]() as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out, CHUNK)
        os.replace(tmp, dest)


# --------------------------------------------------------------------------------------- converters

_IMDB_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def convert_imdb(out_dir: Path) -> None:
    """`aclImdb_v1.tar.gz` → `train.csv`, `test.csv` (`review,sentiment`), `meta.csv`, `aclImdb_README.txt`.

    Same layout as `shared/data/imdb`: per split all negative reviews (by file id) then all positive ones;
    reviews verbatim; `meta.csv` has `split,row,sentiment,id,rating,original_file`. The unlabelled `unsup`
    reviews are skipped.
    """
    archives = sorted((out_dir / ".archive").glob("*"))
    if not archives:
        raise UserError("IMDB conversion found no downloaded archive")
    reviews: dict[tuple[str, str], list[tuple[int, int, str, str]]] = {}
    readme: bytes | None = None
    with tarfile.open(archives[0]) as tf:
        for member in tf:  # streaming: one pass over the gzip
            if not member.isfile():
                continue
            if member.name.rstrip("/").endswith("aclImdb/README"):
                readme = tf.extractfile(member).read()
                continue
            m = _IMDB_MEMBER.search(member.name)
            if m is None:
                continue
            split, polarity, file_id, rating = m.groups()
            text = tf.extractfile(member).read().decode("utf-8")
            original = f"aclImdb/{split}/{polarity}/{file_id}_{rating}.txt"
            reviews.setdefault((split, polarity), []).append((int(file_id), int(rating), text, original))
    meta_rows: list[list[str | int]] = []
    for split in ("train", "test"):
        if not reviews.get((split, "neg")) or not reviews.get((split, "pos")):
            raise UserError(
                f"IMDB archive has no {split}/pos or {split}/neg reviews; the upstream layout changed"
            )
        rows: list[tuple[str, str]] = []
        for polarity, label in (("neg", "negative"), ("pos", "positive")):
            for file_id, rating, text, original in sorted(reviews[(split, polarity)]):
                meta_rows.append([split, len(rows), label, file_id, rating, original])
                rows.append((text, label))
        _write_csv(out_dir / f"{split}.csv", ["review", "sentiment"], rows)
    _write_csv(
        out_dir / "meta.csv", ["split", "row", "sentiment", "id", "rating", "original_file"], meta_rows
    )
    if readme is not None:
        (out_dir / "aclImdb_README.txt").write_bytes(readme)
    shutil.rmtree(out_dir / ".archive")


def _write_csv(path: Path, header: list[str], rows) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(tmp, path)


CONVERTERS: dict[str, Callable[[Path], None]] = {"imdb": convert_imdb}
"""Post-download steps by name (`DatasetInfo.convert`); each rewrites the staging directory in place."""
