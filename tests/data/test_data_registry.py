"""Registry: the seven datasets, pins that match shared/data, lookup and resolution order."""

import hashlib

import pytest

from attnlab.data import registry
from attnlab.errors import UserError

NAMES = {"spa-eng", "fra-eng", "imdb", "chatbot-ko", "nietzsche", "tinyshakespeare", "multi30k"}


def test_seven_datasets_complete_entries():
    assert set(registry.DATASETS) == NAMES
    for name, info in registry.DATASETS.items():
        assert info.name == name and info.files and info.license and info.rows
        assert info.url.startswith("https://") and len(info.url_sha256) == 64
        assert info.downloads and info.downloads[0].url == info.url
        assert all(len(d.sha256) == 64 and d.url.startswith("https://") for d in info.downloads)
    assert len(registry.get("multi30k").downloads) == 6
    assert {d.target for d in registry.get("multi30k").downloads} == {
        f.path for f in registry.get("multi30k").files
    }


def test_file_specs_match_shared_data(data_root):
    for info in registry.DATASETS.values():
        for spec in info.files:
            path = data_root / info.name / spec.path
            assert path.stat().st_size == spec.size, spec
    # hash the small ones (big ones would slow the suite; sizes checked above)
    for name, fname in [
        ("chatbot-ko", "ChatbotData.csv"),
        ("multi30k", "val.de"),
        ("tinyshakespeare", "input.txt"),
    ]:
        spec = next(f for f in registry.get(name).files if f.path == fname)
        assert hashlib.sha256((data_root / name / fname).read_bytes()).hexdigest() == spec.sha256


def test_get_unknown_lists_names():
    with pytest.raises(UserError, match="unknown dataset 'wmt14'.*chatbot-ko.*tinyshakespeare"):
        registry.get("wmt14")


def test_resolution_order(tmp_path, monkeypatch):
    data, cache = tmp_path / "data", tmp_path / "cache"
    monkeypatch.setenv("ATTNLAB_CACHE", str(cache))
    monkeypatch.delenv("ATTNLAB_DATA", raising=False)
    assert registry.cache_dir() == cache
    assert registry.locate("nietzsche") is None
    with pytest.raises(
        UserError, match="dataset 'nietzsche' not found: set ATTNLAB_DATA.*attnlab data fetch nietzsche"
    ):
        registry.resolve("nietzsche")
    (cache / "nietzsche").mkdir(parents=True)
    assert registry.locate("nietzsche") is None  # incomplete download is not accepted
    (cache / "nietzsche" / registry.COMPLETE_MARKER).write_text("ok")
    assert registry.resolve("nietzsche") == cache / "nietzsche"
    (data / "nietzsche").mkdir(parents=True)
    monkeypatch.setenv("ATTNLAB_DATA", str(data))
    assert registry.resolve("nietzsche") == data / "nietzsche"  # ATTNLAB_DATA wins
    monkeypatch.delenv("ATTNLAB_CACHE")
    assert registry.cache_dir() == registry.Path.home() / ".cache" / "attnlab"
