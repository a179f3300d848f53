"""The explorer's JSON API (serve/app.py) and explain() (serve/explain.py) on tiny trained runs."""

import json
import logging
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from fastapi.testclient import TestClient

from attnlab.serve.app import STATIC, Limits, create_app, run_names
from tests.serve.conftest import HEADS, LAYERS, SENTENCE


def _error_only(r, status: int) -> str:
    """The answer is exactly {"error": one line}, with the expected status and no traceback text."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    assert "\n" not in body["error"]
    for leak in ("Traceback", 'File "', "site-packages", "/attnlab/", "Error:"):
        assert leak not in r.text, r.text
    return body["error"]


def _explain(client, run, text=SENTENCE, **options):
    r = client.post("/api/explain", json={"run": run, "text": text, "options": options})
    assert r.status_code == 200, r.text
    return r.json()


def _shape(m) -> tuple:
    return np.asarray(m["layers"]).shape


# ------------------------------------------------------------------------------------------ happy paths


def test_runs_are_listed_by_index_and_name(client):
    runs = client.get("/api/runs").json()
    assert [(r["id"], r["name"], r["task"], r["arch"]) for r in runs] == [
        (0, "gru-bahdanau", "translation", "rnn"),
        (1, "tiny-transformer", "translation", "transformer"),
    ]
    assert "path" not in json.dumps(runs)  # no file-system paths are exposed
    assert client.get("/api/health").json() == {"ok": True, "runs": 2}


def test_translate_rnn_attention_is_one_layer_one_head(client):
    data = _explain(client, 0)
    assert data["task"] == "translation" and data["input"] == SENTENCE and data["run"] == "gru-bahdanau"
    res = data["result"]
    assert res["text"].strip() and res["n_best"][0]["text"] == res["text"]
    assert res["src_tokens"] == ["esta", "es", "mi", "vida", "."]
    [m] = data["attention"]
    assert m["name"] == "rnn"
    assert _shape(m) == (1, 1, len(res["tgt_tokens"]), len(res["src_tokens"]))
    assert m["q_tokens"] == res["tgt_tokens"] and m["k_tokens"] == res["src_tokens"]
    np.testing.assert_allclose(np.asarray(m["layers"]).sum(-1), 1.0, atol=1e-3)  # softmax rows


def test_same_run_by_name_gives_the_same_answer(client):
    by_index, by_name = _explain(client, 0), _explain(client, "gru-bahdanau")
    assert by_index["result"] == by_name["result"] and by_index["attention"] == by_name["attention"]


def test_beam_n_best_and_choosing_a_hypothesis(client):
    data = _explain(client, 0, beam=4, n_best=3)
    nbest = data["result"]["n_best"]
    assert len(nbest) == 3 and data["result"]["beam"] == 4
    scores = [h["score"] for h in nbest]
    assert scores == sorted(scores, reverse=True)
    third = _explain(client, 0, beam=4, n_best=3, hypothesis=2)
    assert third["result"]["hypothesis"] == 2 and third["result"]["text"] == nbest[0]["text"]
    assert third["result"]["tgt_tokens"] == nbest[2]["tokens"]
    [m] = third["attention"]
    assert m["q_tokens"] == nbest[2]["tokens"] and _shape(m)[2] == len(nbest[2]["tokens"])


def test_transformer_gives_encoder_decoder_and_cross_maps_per_layer_and_head(client, loaded_runs):
    data = _explain(client, "tiny-transformer", beam=2, n_best=2)
    res = data["result"]
    maps = {m["name"]: m for m in data["attention"]}
    assert list(maps) == ["encoder", "decoder", "cross"]
    S, T = len(res["src_tokens"]), len(res["tgt_tokens"])
    assert _shape(maps["encoder"]) == (LAYERS, HEADS, S, S)
    assert _shape(maps["decoder"]) == (LAYERS, HEADS, T, T)
    assert _shape(maps["cross"]) == (LAYERS, HEADS, T, S)
    assert maps["encoder"]["q_tokens"] == maps["encoder"]["k_tokens"] == res["src_tokens"]
    assert maps["cross"]["q_tokens"] == res["tgt_tokens"] and maps["cross"]["k_tokens"] == res["src_tokens"]
    assert maps["decoder"]["k_tokens"] == ["<bos>", *res["tgt_tokens"][:-1]]
    for m in maps.values():
        np.testing.assert_allclose(np.asarray(m["layers"]).sum(-1), 1.0, atol=1e-3)
    dec = np.asarray(maps["decoder"]["layers"])
    assert np.all(np.triu(dec, k=1) == 0.0)  # causal: no position looks ahead
    # The teacher-forced cross-attention equals what beam search recorded step by step.
    runs, _ = loaded_runs
    best = runs[1].task.translate(runs[1].model, [SENTENCE], beam=2, n_best=2)[0][0]
    np.testing.assert_allclose(
        np.asarray(maps["cross"]["layers"]), best.attention.permute(1, 2, 0, 3).numpy(), atol=2e-4
    )


def test_index_and_assets_are_local(client):
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "default-src 'self'" in r.headers["content-security-policy"]
    refs = [ref for ref in re.findall(r'(?:src|href)="([^"]+)"', r.text) if ref != "data:,"]  # empty favicon
    assert refs and all(ref.startswith("/static/") for ref in refs)
    for ref in refs:
        assert client.get(ref).status_code == 200
    for name in ("index.html", "app.js", "style.css"):
        text = (STATIC / name).read_text()
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text
    assert client.get("/static/../app.py").status_code == 404


# ------------------------------------------------------------------------------------------ limits and errors


@pytest.mark.parametrize("run", [7, -1, "nope", "../../etc/passwd", "/tmp", "1"])
def test_unknown_run_is_404(client, run):
    assert "unknown run" in _error_only(client.post("/api/explain", json={"run": run, "text": SENTENCE}), 404)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"text": ""}, "empty input"),
        ({"text": "   \n\t "}, "empty input"),
        ({"text": "a" * 1001}, "1001 characters, more than the 1000"),
        ({"text": SENTENCE, "options": {"beam": 2, "n_best": 3}}, "larger than beam"),
        ({"text": SENTENCE, "options": {"beam": 0}}, "options.beam"),
        ({"text": SENTENCE, "options": {"beam": 1000}}, "options.beam"),
        ({"text": SENTENCE, "options": {"evil": 1}}, "evil"),
        (
            {"text": SENTENCE, "options": {"temperature": 0.7}},
            "unknown option(s) for translation: temperature",
        ),
        ({"text": SENTENCE, "options": {"beam": 2, "n_best": 2, "hypothesis": 5}}, "hypothesis 5"),
        ({"text": SENTENCE, "path": "/etc/passwd"}, "path"),
        ({"run": 0}, "text"),
        ({"text": ["a", "list"]}, "text"),
        ({"text": "qwzx vvbnm"}, "none of the words"),
    ],
)
def test_bad_input_is_422_with_a_clear_message(client, body, fragment):
    assert fragment in _error_only(client.post("/api/explain", json=body), 422)


def test_invalid_json_is_422(client):
    r = client.post("/api/explain", content=b'{"text": ', headers={"content-type": "application/json"})
    assert "not valid JSON" in _error_only(r, 422)


def test_huge_body_is_413_by_header_and_by_bytes(client):
    big = json.dumps({"text": "a" * 200_000}).encode()
    assert "larger than the 65536 bytes" in _error_only(client.post("/api/explain", content=big), 413)

    def chunks():  # no Content-Length: the limit must count the bytes that actually arrive
        for i in range(0, len(big), 8192):
            yield big[i : i + 8192]

    r = client.post("/api/explain", content=chunks(), headers={"content-type": "application/json"})
    assert r.request.headers.get("content-length") is None
    _error_only(r, 413)
    lying = client.post("/api/explain", content=big, headers={"content-length": "10"})
    assert lying.status_code in (400, 413, 422) and "Traceback" not in lying.text


def test_limits_are_configurable(loaded_runs):
    runs, names = loaded_runs
    with TestClient(create_app(runs, names, limits=Limits(max_body_bytes=2048, max_input_chars=5))) as c:
        assert "more than the 5 this server" in _error_only(
            c.post("/api/explain", json={"text": SENTENCE}), 422
        )
        _error_only(c.post("/api/explain", json={"text": "x" * 3000}), 413)


def test_internal_errors_say_only_internal_error(client, monkeypatch, caplog):
    import attnlab.serve.app as app_module

    def boom(*args, **kwargs):
        raise RuntimeError("secret detail at /home/someone/model.py line 3")

    monkeypatch.setattr(app_module, "explain", boom)
    with caplog.at_level(logging.ERROR, logger="attnlab.serve"):
        r = client.post("/api/explain", json={"text": SENTENCE})
    assert _error_only(r, 500) == "internal error" and "secret" not in r.text
    assert "secret detail" in caplog.text  # ...but the server log has it


def test_unknown_urls_and_methods_answer_json(client):
    assert _error_only(client.get("/api/nothing"), 404)
    assert _error_only(client.get("/api/explain"), 405)


def test_foreign_host_header_is_refused_when_hosts_are_pinned(loaded_runs):
    runs, names = loaded_runs
    app = create_app(runs, names, allowed_hosts=["127.0.0.1", "localhost"])
    with TestClient(app, base_url="http://127.0.0.1") as ok:
        assert ok.get("/api/health").status_code == 200
    with TestClient(app, base_url="http://evil.example") as bad:
        assert bad.get("/api/health").status_code == 400


# ------------------------------------------------------------------------------------------ dispatch to tasks


def _fake_run(task_name: str, task: object) -> SimpleNamespace:
    return SimpleNamespace(
        path=Path(task_name), recipe=SimpleNamespace(task=task_name, arch="x"), task=task, model=None
    )


def test_task_without_explain_is_422():
    with TestClient(create_app([_fake_run("classification", object())])) as c:
        msg = _error_only(c.post("/api/explain", json={"text": "a fine film"}), 422)
    assert msg == "task classification has no explorer view yet"


def test_task_explain_is_used_and_checked():
    class Sentiment:
        def explain(self, model, text, **opts):
            toks = text.split()
            w = [1.0 / len(toks)] * len(toks)
            return {
                "task": "classification",
                "input": text,
                "result": {"label": "positive", "probability": 0.9, "tokens": toks, "weights": w},
                "attention": [
                    {"name": "pooling", "layers": [[[w]]], "q_tokens": ["<pooled>"], "k_tokens": toks}
                ],
            }

    class Broken(Sentiment):
        def explain(self, model, text, **opts):
            out = super().explain(model, text)
            out["attention"][0]["k_tokens"].append("extra")  # shape no longer matches the tokens
            return out

    with TestClient(create_app([_fake_run("classification", Sentiment())])) as c:
        data = c.post("/api/explain", json={"text": "a fine film"}).json()
        assert data["result"]["label"] == "positive" and data["attention"][0]["name"] == "pooling"
    with TestClient(create_app([_fake_run("classification", Broken())]), raise_server_exceptions=False) as c:
        assert _error_only(c.post("/api/explain", json={"text": "a fine film"}), 500) == "internal error"


def test_run_names_are_unique():
    assert run_names([Path("a/run"), Path("b/run"), Path("c/run"), Path("x")]) == [
        "run",
        "run-2",
        "run-3",
        "x",
    ]
