"""The normalisation experiment (quick version) on a seeded slice of the real IMDB reviews."""

import json

from attnlab.evidence import run_experiment


def test_normalisation_quick(tmp_path, data_root, monkeypatch):
    monkeypatch.setenv("ATTNLAB_DATA", str(data_root))
    record = run_experiment("normalisation", quick=True, out=tmp_path)
    v = record["numbers"]["variants"]
    raw = v["raw"]["types"]
    # Merging word forms must shrink the vocabulary, and stems (which cut suffixes blindly) most of all.
    assert v["lemmas"]["types"] < raw and v["Porter stems"]["types"] < raw
    assert v["Porter stems"]["types"] < v["lemmas"]["types"]
    # Stop words are few types but many tokens; keeping the negations keeps some of both.
    assert v["no stop words"]["types"] < v["no stop words, keep negations"]["types"] < raw
    assert v["no stop words"]["tokens"] < 0.7 * v["raw"]["tokens"]
    for x in v.values():
        assert 0.6 < x["accuracy"] <= 1.0  # every variant still classifies sentiment
    assert (tmp_path / "normalisation.png").stat().st_size > 10_000
    saved = json.loads((tmp_path / "normalisation.json").read_text())
    assert saved["reading"] == record["reading"] and "word types" in saved["reading"]
