"""fetch() against a local http.server: success, sha mismatch, cut-off downloads, idempotency, converters."""

import dataclasses
import gzip
import hashlib
import io
import socket
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from attnlab.data import corpora, registry
from attnlab.data.fetch import fetch
from attnlab.data.registry import DatasetInfo, Download, FileSpec
from attnlab.errors import UserError


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Server:
    """Serves `files` (path → bytes); paths in `truncate` send a full Content-Length, then half the body."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.truncate: set[str] = set()
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits.append(self.path)
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in outer.truncate:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def add(self, path: str, body: bytes) -> str:
        self.files[path] = body
        return self.base + path


@pytest.fixture
def server():
    s = Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def toy(url: str, sha256: str, **kw) -> DatasetInfo:
    return DatasetInfo(
        name="toy",
        task="language-modeling",
        description="toy",
        files=(FileSpec("toy.txt", sha256, 0),),
        rows="1",
        license="none",
        source="test",
        url=url,
        url_sha256=sha256,
        **kw,
    )


def leftovers(root):
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_plain_file_success_and_idempotent(server, tmp_path):
    body = b"to be or not to be\n" * 100
    info = toy(server.add("/toy.txt", body), sha(body))
    out = fetch(info, dest_root=tmp_path, progress=True)
    assert out == tmp_path / "toy" and (out / "toy.txt").read_bytes() == body
    assert registry.is_complete(out) and leftovers(tmp_path) == ["toy"]
    assert sorted(p.name for p in out.iterdir()) == [".complete", "toy.txt"]
    assert fetch(info, dest_root=tmp_path, progress=False) == out
    assert len(server.hits) == 1  # second call did not download
    server.files["/toy.txt"] = b"new"
    info2 = dataclasses.replace(info, downloads=(Download(info.url, sha(b"new")),))
    fetch(info2, dest_root=tmp_path, force=True, progress=False)
    assert (out / "toy.txt").read_bytes() == b"new" and len(server.hits) == 2
    assert leftovers(tmp_path) == ["toy"]


def test_sha_mismatch_names_url_and_hashes_and_leaves_nothing(server, tmp_path):
    body = b"tampered"
    url = server.add("/toy.txt", body)
    wrong = "0" * 64
    with pytest.raises(UserError) as err:
        fetch(toy(url, wrong), dest_root=tmp_path, progress=False)
    msg = str(err.value)
    assert url in msg and wrong in msg and sha(body) in msg and "\n" not in msg
    assert leftovers(tmp_path) == []


def test_sha_mismatch_keeps_previous_complete_copy(server, tmp_path):
    good = b"good"
    url = server.add("/toy.txt", good)
    fetch(toy(url, sha(good)), dest_root=tmp_path, progress=False)
    server.files["/toy.txt"] = b"evil"
    with pytest.raises(UserError, match="sha256 mismatch"):
        fetch(toy(url, sha(good)), dest_root=tmp_path, force=True, progress=False)
    assert (tmp_path / "toy" / "toy.txt").read_bytes() == good and registry.is_complete(tmp_path / "toy")
    assert leftovers(tmp_path) == ["toy"]


def test_interrupted_download_is_not_accepted(server, tmp_path, monkeypatch):
    body = bytes(range(256)) * 400
    url = server.add("/toy.txt", body)
    server.truncate.add("/toy.txt")
    with pytest.raises(UserError, match="toy.txt") as err:
        fetch(toy(url, sha(body)), dest_root=tmp_path, progress=False)
    assert "\n" not in str(err.value)
    assert leftovers(tmp_path) == []
    monkeypatch.setenv("ATTNLAB_CACHE", str(tmp_path))
    monkeypatch.delenv("ATTNLAB_DATA", raising=False)
    monkeypatch.setitem(registry.DATASETS, "toy", toy(url, sha(body)))
    assert registry.locate("toy") is None


def test_network_errors_are_one_line(server, tmp_path):
    with pytest.raises(UserError, match="HTTP 404"):
        fetch(toy(server.base + "/missing.txt", "0" * 64), dest_root=tmp_path, progress=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UserError, match="cannot download") as err:
        fetch(toy(f"http://127.0.0.1:{port}/x.txt", "0" * 64), dest_root=tmp_path, progress=False)
    assert "\n" not in str(err.value)
    assert leftovers(tmp_path) == []


def test_zip_members_registry_entry_end_to_end(server, tmp_path, monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("spa-eng/spa.txt", "Go.\tVe.\nHi.\tHola.\n")
        zf.writestr("spa-eng/_about.txt", "about\n")
        zf.writestr("__MACOSX/spa-eng/._spa.txt", "junk")
    data = buf.getvalue()
    real = registry.get("spa-eng")
    patched = dataclasses.replace(
        real,
        url="",
        downloads=(
            dataclasses.replace(real.downloads[0], url=server.add("/spa-eng.zip", data), sha256=sha(data)),
        ),
    )
    monkeypatch.setitem(registry.DATASETS, "spa-eng", patched)
    monkeypatch.setenv("ATTNLAB_CACHE", str(tmp_path))
    monkeypatch.delenv("ATTNLAB_DATA", raising=False)
    assert registry.locate("spa-eng") is None
    out = fetch("spa-eng", progress=False)
    assert sorted(p.name for p in out.iterdir()) == [".complete", "_about.txt", "spa.txt"]
    assert corpora.load_translation("spa-eng", "es", "en")["all"] == [("Ve.", "Go."), ("Hola.", "Hi.")]


def test_gzip_content_verified_multi30k_layout(server, tmp_path, monkeypatch):
    real = registry.get("multi30k")
    texts = {
        "train": ("A dog.\n", "Ein Hund.\n"),
        "val": ("A cat.\n", "Eine Katze.\n"),
        "test2016": ("Hi.\n", "Hallo.\n"),
    }
    downloads = []
    for dl in real.downloads:
        stem, lang = dl.target.rsplit(".", 1)
        content = texts[stem][0 if lang == "en" else 1].encode()
        downloads.append(
            dataclasses.replace(
                dl, url=server.add("/" + dl.filename, gzip.compress(content)), sha256=sha(content)
            )
        )
    monkeypatch.setitem(
        registry.DATASETS, "multi30k", dataclasses.replace(real, url="", downloads=tuple(downloads))
    )
    monkeypatch.setenv("ATTNLAB_CACHE", str(tmp_path))
    monkeypatch.delenv("ATTNLAB_DATA", raising=False)
    fetch("multi30k", progress=False)
    d = corpora.load_translation("multi30k", "de", "en")
    assert d == {
        "train": [("Ein Hund.", "A dog.")],
        "valid": [("Eine Katze.", "A cat.")],
        "test": [("Hallo.", "Hi.")],
    }
    # a wrong content pin fails after decompression and leaves the old copy intact
    bad = tuple(dataclasses.replace(dl, sha256="f" * 64) if i == 5 else dl for i, dl in enumerate(downloads))
    monkeypatch.setitem(registry.DATASETS, "multi30k", dataclasses.replace(real, url="", downloads=bad))
    with pytest.raises(UserError, match="test_2016_flickr.de.gz"):
        fetch("multi30k", force=True, progress=False)
    assert leftovers(tmp_path) == ["multi30k"] and registry.locate("multi30k") == tmp_path / "multi30k"


def _tar(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, text in members.items():
            data = text.encode()
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_imdb_tarball_converted_to_csv(server, tmp_path, monkeypatch):
    data = _tar(
        {
            "aclImdb/README": "Large Movie Review Dataset v1.0\n",
            "aclImdb/train/pos/1_9.txt": 'Loved it, "truly".',
            "aclImdb/train/pos/0_7.txt": "Good.<br /><br />Fine.",
            "aclImdb/train/neg/10_1.txt": "Bad, bad.",
            "aclImdb/train/neg/2_4.txt": "Meh.",
            "aclImdb/train/unsup/0_0.txt": "unlabelled",
            "aclImdb/test/pos/0_10.txt": "Great!",
            "aclImdb/test/neg/0_2.txt": "Awful.",
        }
    )
    real = registry.get("imdb")
    dl = dataclasses.replace(real.downloads[0], url=server.add("/aclImdb_v1.tar.gz", data), sha256=sha(data))
    monkeypatch.setitem(registry.DATASETS, "imdb", dataclasses.replace(real, url="", downloads=(dl,)))
    monkeypatch.setenv("ATTNLAB_CACHE", str(tmp_path))
    monkeypatch.delenv("ATTNLAB_DATA", raising=False)
    out = fetch("imdb", progress=False)
    assert sorted(p.name for p in out.iterdir()) == [
        ".complete",
        "aclImdb_README.txt",
        "meta.csv",
        "test.csv",
        "train.csv",
    ]
    assert (out / "train.csv").read_text().splitlines() == [
        "review,sentiment",
        "Meh.,negative",
        '"Bad, bad.",negative',
        "Good.<br /><br />Fine.,positive",
        '"Loved it, ""truly"".",positive',
    ]
    assert (out / "meta.csv").read_text().splitlines()[1:3] == [
        "train,0,negative,2,4,aclImdb/train/neg/2_4.txt",
        "train,1,negative,10,1,aclImdb/train/neg/10_1.txt",
    ]
    d = corpora.load_classification("imdb")
    assert d["train"][3] == ('Loved it, "truly".', 1) and d["test"] == [("Awful.", 0), ("Great!", 1)]
