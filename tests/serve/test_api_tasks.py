"""The explorer for the other tasks: a sentiment run answers with its label and pooling attention, a
language model with a generated continuation and its causal self-attention, a Korean chat run with a reply
and the Transformer's three attention kinds (through the real app)."""

import numpy as np
import pytest
from fastapi.testclient import TestClient

from attnlab import runs
from attnlab.recipe import build_recipe
from attnlab.serve.app import create_app

SENTIMENT = {
    "task": "classification",
    "data": {"dataset": "imdb", "limit": 400, "test_limit": 50, "max_len": 64, "max_vocab": 2000},
    "model": {"arch": "bilstm-attention", "embed_dim": 16, "hidden": 16},
    "train": {"max_steps": 5, "batch_size": 32, "threads": 1, "metric": "accuracy"},
}
LM = {
    "task": "lm",
    "data": {"dataset": "tinyshakespeare", "limit_chars": 20000, "block_size": 32},
    "model": {"arch": "transformer", "d_model": 32, "heads": 2, "layers": 2},
    "train": {"max_steps": 5, "batch_size": 8, "threads": 1},
}

CHAT = {
    "task": "chat",
    "data": {"limit": 400, "subword_vocab": 600, "valid_bleu_sentences": 4},
    "model": {"arch": "transformer", "d_model": 32, "heads": 2, "d_ff": 64, "layers": 2},
    "train": {"max_steps": 6, "batch_size": 32, "threads": 1, "schedule": "noam", "warmup": 10, "lr": 1.0},
}


@pytest.fixture(scope="module")
def client(tmp_path_factory, data_root, monkeypatch_module):
    monkeypatch_module.setenv("ATTNLAB_DATA", str(data_root))
    loaded = []
    for name, raw in (("sentiment", SENTIMENT), ("lm", LM), ("chat", CHAT)):
        out = tmp_path_factory.mktemp(name)
        runs.train(build_recipe(raw), out, progress=False)
        loaded.append(runs.load_run(out))
    with TestClient(create_app(loaded, ["sentiment", "lm", "chat"])) as c:
        yield c


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def _explain(client, run, text, **options):
    r = client.post("/api/explain", json={"run": run, "text": text, "options": options})
    assert r.status_code == 200, r.text
    return r.json()


def test_sentiment_label_probability_and_token_shading(client):
    body = _explain(client, "sentiment", "A superb film with a wonderful cast.")
    result = body["result"]
    assert result["label"] in ("positive", "negative") and 0.5 <= result["probability"] <= 1.0
    (m,) = body["attention"]
    assert m["name"] == "pooling" and m["k_tokens"] == result["tokens"]
    assert np.asarray(m["layers"]).shape == (1, 1, 1, len(result["tokens"]))
    assert abs(sum(result["weights"]) - 1) < 1e-3


def test_lm_generates_and_shows_causal_self_attention(client):
    a = _explain(client, "lm", "ROMEO:", length=12, seed=5, temperature=1.0)
    b = _explain(client, "lm", "ROMEO:", length=12, seed=5, temperature=1.0)
    assert a["result"]["text"] == b["result"]["text"] and len(a["result"]["text"]) == 12  # seeded, char LM
    (m,) = a["attention"]
    w = np.asarray(m["layers"])
    assert m["name"] == "decoder" and w.shape == (2, 2, 18, 18)
    assert np.allclose(np.triu(w, 1), 0) and np.allclose(w.sum(-1), 1, atol=1e-3)


def test_options_of_another_task_are_a_clear_422(client):
    r = client.post("/api/explain", json={"run": "sentiment", "text": "good", "options": {"beam": 2}})
    assert r.status_code == 422 and "unknown option" in r.json()["error"]


def test_chat_replies_with_nbest_and_the_three_attention_kinds(client):
    body = _explain(client, "chat", "영화 볼래?", beam=2, n_best=2)
    assert body["task"] == "chat"
    result = body["result"]
    assert len(result["n_best"]) == 2 and result["text"] == result["n_best"][0]["text"]
    maps = {m["name"]: m for m in body["attention"]}
    assert set(maps) == {"encoder", "decoder", "cross"}
    src, out = result["src_tokens"], result["tgt_tokens"]
    cross = np.asarray(maps["cross"]["layers"])
    assert cross.shape == (2, 2, len(out), len(src)) and np.allclose(cross.sum(-1), 1, atol=1e-3)
    assert np.asarray(maps["encoder"]["layers"]).shape == (2, 2, len(src), len(src))
    assert any("영화" in t or "영" in t for t in src)  # the Korean subwords reach the page as text
