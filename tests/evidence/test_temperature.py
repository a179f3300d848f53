"""The temperature experiment (quick version): a tiny char LSTM trained for a few steps on Nietzsche."""

import json
import math

from attnlab.evidence import run_experiment


def test_temperature_quick(tmp_path, data_root, monkeypatch):
    monkeypatch.setenv("ATTNLAB_DATA", str(data_root))
    record = run_experiment("temperature", quick=True, out=tmp_path)
    nums = record["numbers"]
    per = nums["per_temperature"]
    cold, hot = per["0.2"], per["1.2"]
    # Hotter sampling spreads the words: more distinct bigrams, more words the training text never had.
    assert hot["distinct_2"] > cold["distinct_2"]
    assert hot["invented_words"] > cold["invented_words"]
    # The model finds its own cold samples more likely than its hot ones (T -> 0 approaches its mode).
    assert cold["loglik_lstm"] > hot["loglik_lstm"]
    for values in [*per.values(), nums["held_out_text"]]:
        assert all(math.isfinite(v) for v in values.values())
        assert 0 <= values["distinct_1"] <= 1 and values["loglik_5gram"] < 0
    assert set(nums["examples"]) == {str(t) for t in nums["temperatures"]}
    assert (tmp_path / "temperature.png").stat().st_size > 10_000
    saved = json.loads((tmp_path / "temperature.json").read_text())
    assert saved["reading"] == record["reading"] and "distinct-2" in saved["reading"]
