"""Corpora by name: splits, directions, language errors, describe(); on slices and on the full small sets."""

import itertools

import pytest

from attnlab.data import corpora
from attnlab.errors import UserError

SLICES = {
    "spa-eng": {"spa.txt": 200},
    "fra-eng": {"fra.txt": 200},
    "chatbot-ko": {"ChatbotData.csv": 151},
    "multi30k": {f"{s}.{lang}": 60 for s in ("train", "val", "test2016") for lang in ("en", "de")},
}


@pytest.fixture
def sliced(data_root, tmp_path, monkeypatch):
    """An ATTNLAB_DATA with the first lines of the real files (and imdb rows from both classes)."""
    for name, files in SLICES.items():
        (tmp_path / name).mkdir()
        for fname, n in files.items():
            with open(data_root / name / fname, "rb") as f:
                (tmp_path / name / fname).write_bytes(b"".join(itertools.islice(f, n)))
    (tmp_path / "imdb").mkdir()
    for split in ("train", "test"):
        with open(data_root / "imdb" / f"{split}.csv", "rb") as f:
            lines = f.readlines()
        (tmp_path / "imdb" / f"{split}.csv").write_bytes(b"".join(lines[:51] + lines[-50:]))
    monkeypatch.setenv("ATTNLAB_DATA", str(tmp_path))
    monkeypatch.setenv("ATTNLAB_CACHE", str(tmp_path / "no-cache"))
    return tmp_path


def test_translation_tatoeba_directions(sliced):
    en_es = corpora.load_translation("spa-eng", "en", "es")
    assert list(en_es) == ["all"] and len(en_es["all"]) == 200
    assert en_es["all"][0] == ("Go.", "Ve.")
    es_en = corpora.load_translation("spa-eng", "es", "en", limit=5)
    assert es_en["all"] == [(b, a) for a, b in en_es["all"][:5]]
    fr = corpora.load_translation("fra-eng", "fr", "en")
    assert fr["all"][0] == ("Va !", "Go.")


def test_translation_multi30k_splits(sliced):
    d = corpora.load_translation("multi30k", "de", "en")
    assert list(d) == ["train", "valid", "test"] and all(len(v) == 60 for v in d.values())
    assert d["train"][0][0].startswith("Zwei junge") and d["train"][0][1].startswith("Two young")
    assert len(corpora.load_translation("multi30k", "en", "de", limit=7)["test"]) == 7


def test_translation_errors(sliced):
    with pytest.raises(UserError, match="no language 'de'.*en, es"):
        corpora.load_translation("spa-eng", "en", "de")
    with pytest.raises(UserError, match="both 'en'"):
        corpora.load_translation("multi30k", "en", "en")
    with pytest.raises(UserError, match="classification dataset.*load_classification"):
        corpora.load_translation("imdb", "en", "es")
    with pytest.raises(UserError, match="unknown dataset 'nope'"):
        corpora.load_translation("nope", "en", "es")


def test_classification_and_dialogue(sliced):
    d = corpora.load_classification("imdb")
    assert set(d) == {"train", "test"} and len(d["train"]) == 100
    assert [lab for _, lab in d["train"]].count(0) == 50 and [lab for _, lab in d["train"]].count(1) == 50
    assert all(isinstance(t, str) and t for t, _ in d["test"])
    rows = corpora.load_dialogue("chatbot-ko")
    assert len(rows) == 150 and rows[0] == ("12시 땡!", "하루가 또 가네요.", 0)


def test_missing_dataset_message(sliced):
    with pytest.raises(
        UserError, match="dataset 'nietzsche' not found.*ATTNLAB_DATA.*attnlab data fetch nietzsche"
    ):
        corpora.load_text("nietzsche")


def test_describe_on_slices(sliced):
    info = corpora.describe("spa-eng")
    split = info["splits"]["all"]
    assert info["task"] == "translation" and split["count"] == 200
    assert set(split["columns"]) == {"en", "es"}
    assert split["columns"]["en"]["tokens"]["max"] >= split["columns"]["en"]["tokens"]["median"] >= 1
    assert len(split["samples"]) == 3
    ko = corpora.describe("chatbot-ko")["splits"]["all"]
    assert set(ko["columns"]) == {"Q", "A"} and sum(ko["labels"].values()) == 150
    imdb = corpora.describe("imdb")["splits"]
    assert imdb["train"]["labels"] == {0: 50, 1: 50}


def test_full_small_corpora(data_root, monkeypatch):
    monkeypatch.setenv("ATTNLAB_DATA", str(data_root))
    shakespeare = corpora.load_text("tinyshakespeare")
    assert len(shakespeare) == 1_115_394 and len(set(shakespeare)) == 65
    nietzsche = corpora.load_text("nietzsche")
    assert len(nietzsche) == 600_893 and len(set(nietzsche.lower())) == 57
    m = corpora.load_translation("multi30k", "en", "de")
    assert {k: len(v) for k, v in m.items()} == {"train": 29000, "valid": 1014, "test": 1000}
    assert len(corpora.load_translation("spa-eng", "en", "es")["all"]) == 116_964
    labels = [lab for *_, lab in corpora.load_dialogue("chatbot-ko")]
    assert (labels.count(0), labels.count(1), labels.count(2)) == (5064, 3413, 2846)
    text = corpora.describe("tinyshakespeare")["splits"]["all"]
    assert text["characters"] == 1_115_394 and text["lines"] == 40_000 and text["distinct_chars"] == 65


def test_malformed_line_stops_training_or_is_skipped_and_counted_on_request(sliced, data_root):
    """A broken line in spa.txt: `attnlab train` names file:line and the recipe key; with
    --set data.on_error=skip it trains and says how many lines it skipped."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    spa = sliced / "spa-eng" / "spa.txt"
    lines = spa.read_bytes().splitlines(keepends=True)
    spa.write_bytes(b"".join([*lines[:5], b"a line without any tab\n", *lines[5:]]))
    env = {**os.environ, "ATTNLAB_DATA": str(sliced), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    base = [
        sys.executable,
        "-m",
        "attnlab",
        "train",
        str(REPO / "recipes" / "translate-spa-eng-bahdanau.yaml"),
    ]
    tiny = ["--set", "model.hidden=8", "--set", "model.embed_dim=8", "--set", "train.max_steps=2"]
    tiny += ["--set", "data.valid_bleu_sentences=2", "--set", "data.min_freq=1"]

    def run(*extra):
        cmd = [*base, "--out", str(sliced / f"run{len(extra)}"), *tiny, *extra]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)

    stop = run()
    assert stop.returncode == 2 and stop.stderr.count("\n") == 1, stop.stderr
    assert f"{spa}:6:" in stop.stderr and "data.on_error=skip" in stop.stderr
    skip = run("--set", "data.on_error=skip")
    assert skip.returncode == 0, skip.stderr[-2000:]
    assert f"note: {spa}: skipped 1 malformed line(s)" in skip.stderr
