"""attention-vs-length: the quick run exercises training, matching and bucketed BLEU end to end; the full
settings' parameter matching and the reading's verdict are checked without training."""

import json

from attnlab.evidence import attention_vs_length as avl
from attnlab.evidence import run_experiment


def test_quick_run_scores_every_model_on_every_bucket(tmp_path):
    record = run_experiment("attention-vs-length", quick=True, out=tmp_path)
    numbers = record["numbers"]
    json.dumps(numbers, allow_nan=False)  # no NaN / inf anywhere
    assert set(numbers["models"]) == set(avl.MODELS)
    buckets = numbers["buckets"]
    assert buckets and sum(numbers["sentences_per_bucket"].values()) == numbers["test_sentences"] > 0
    for model in numbers["models"].values():
        rows = model["by_length"]
        assert [r["bucket"] for r in rows] == buckets  # same sample, same buckets for every model
        assert sum(r["sentences"] for r in rows) == numbers["test_sentences"]
        assert all(0.0 <= r["bleu"] <= 100.0 for r in rows)
        assert model["steps"] == 6 and model["stopped"] == "max-steps"
    params = [m["params"] for m in numbers["models"].values()]
    assert max(params) / min(params) <= 1.15
    assert (tmp_path / "attention-vs-length.png").stat().st_size > 10_000
    assert (tmp_path / avl.RUNS / ".gitignore").read_text() == "*\n"  # checkpoints stay out of git
    assert json.loads((tmp_path / avl.RUNS / "done.json").read_text()) == {"quick": True}
    assert "Quick run" in record["reading"]


def test_full_settings_match_parameter_counts_on_the_real_vocabulary():
    vocab = (13481, 8442)  # spa-eng word vocabularies (min_freq 2) of the full settings' training split
    overrides = avl._sized_overrides(avl._settings(False), vocab)
    counts = {k: avl._params(avl._recipe(avl.MODELS[k], v), vocab) for k, v in overrides.items()}
    assert max(counts.values()) / min(counts.values()) <= 1.15, counts
    assert all(
        any(o.startswith("model.hidden=") for o in v) for k, v in overrides.items() if k != "Transformer"
    )


def _numbers(no_attn: list[float], attn: list[float]) -> dict:
    buckets = ["1-5", "21+"]

    def model(bleus):
        rows = [
            {"bucket": b, "sentences": 10, "bleu": x, "chrf": 0.0}
            for b, x in zip(buckets, bleus, strict=True)
        ]
        return {"params": 1_000_000, "steps": 100, "by_length": rows}

    models = {"no attention": model(no_attn)} | {k: model(attn) for k in avl.MODELS if k != "no attention"}
    counts = dict.fromkeys(buckets, 10)
    return {"buckets": buckets, "sentences_per_bucket": counts, "max_minutes": 5.0, "models": models}


def test_reading_follows_the_numbers_either_way():
    supports = avl.reading(_numbers(no_attn=[30.0, 2.0], attn=[31.0, 8.0]))
    assert "grows" in supports and "predicts" in supports and "not borne out" not in supports
    refutes = avl.reading(_numbers(no_attn=[30.0, 8.0], attn=[31.0, 2.0]))
    assert "does not grow" in refutes and "not borne out" in refutes
