"""Offline HTML views and the bertviz-layout JSON export (viz/html.py), and the `serve` command's guards."""

import json
import os
import re
import subprocess
import sys

import numpy as np

from attnlab.serve.explain import export_attention_json, write_attention_html
from attnlab.viz.html import bertviz_layout, render_html
from tests.serve.conftest import HEADS, LAYERS, SENTENCE


def _embedded(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="attnlab-data">(.*?)</script>', html, re.S)
    assert m
    return json.loads(m.group(1))


def test_html_is_self_contained(loaded_runs, tmp_path):
    runs, _ = loaded_runs
    path = write_attention_html(runs[1], SENTENCE, tmp_path / "view.html", beam=2, n_best=2)
    html = path.read_text()
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert not re.search(r'(?:src|href)="', html)  # nothing to fetch: every asset is inline
    assert "https://" not in html
    data = _embedded(html)
    assert data["task"] == "translation" and [m["name"] for m in data["attention"]] == [
        "encoder",
        "decoder",
        "cross",
    ]
    # a run directory works as well as a loaded run
    again = write_attention_html(runs[0].path, SENTENCE, tmp_path / "rnn.html")
    assert [m["name"] for m in _embedded(again.read_text())["attention"]] == ["rnn"]


def test_embedded_json_cannot_close_the_script_element():
    data = {
        "task": "t",
        "input": "</script><script>alert(1)</script> & \u2028",
        "result": {},
        "attention": [],
    }
    html = render_html(data)
    assert "<script>alert(1)" not in html and html.count("</script>") == 2
    assert _embedded(html)["input"] == data["input"]


def test_bertviz_layout_of_a_transformer(loaded_runs, tmp_path):
    runs, _ = loaded_runs
    out = json.loads(export_attention_json(runs[1], SENTENCE, tmp_path / "a.json").read_text())
    assert {
        "encoder_attention",
        "decoder_attention",
        "cross_attention",
        "encoder_tokens",
        "decoder_tokens",
    } <= set(out)
    S, T = len(out["encoder_tokens"]), len(out["decoder_tokens"])
    assert out["decoder_tokens"][0] == "<bos>"
    for key, (q, k) in {
        "encoder_attention": (S, S),
        "decoder_attention": (T, T),
        "cross_attention": (T, S),
    }.items():
        assert len(out[key]) == LAYERS  # a list over layers ...
        assert all(
            np.asarray(layer).shape == (1, HEADS, q, k) for layer in out[key]
        )  # ... of (1, heads, T_q, T_k)
    assert out["attnlab"]["input"] == SENTENCE


def test_bertviz_layout_of_an_rnn_and_of_self_attention(loaded_runs, tmp_path):
    runs, _ = loaded_runs
    out = json.loads(export_attention_json(runs[0], SENTENCE, tmp_path / "r.json").read_text())
    assert set(out) == {"cross_attention", "encoder_tokens", "decoder_tokens", "attnlab"}
    [layer] = out["cross_attention"]
    assert np.asarray(layer).shape == (1, 1, len(out["decoder_tokens"]), len(out["encoder_tokens"]))
    toks = ["a", "b", "c"]
    lm = {
        "task": "lm",
        "input": "a b c",
        "result": {},
        "attention": [
            {
                "name": "decoder",
                "layers": np.full((2, 4, 3, 3), 1 / 3).tolist(),
                "q_tokens": toks,
                "k_tokens": toks,
            }
        ],
    }
    out = bertviz_layout(lm)
    assert out["tokens"] == toks and len(out["attention"]) == 2
    assert np.asarray(out["attention"][0]).shape == (1, 4, 3, 3)


def _cli(*args, data_root, timeout=120):
    env = {**os.environ, "ATTNLAB_DATA": str(data_root), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "attnlab", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_serve_command_help_and_bad_runs(tmp_path, data_root):
    proc = _cli("serve", "--help", data_root=data_root)
    assert proc.returncode == 0 and "--port" in proc.stdout and "127.0.0.1" in proc.stdout
    proc = _cli("serve", tmp_path / "missing", data_root=data_root)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
