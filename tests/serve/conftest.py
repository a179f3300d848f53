"""Tiny trained runs for the explorer tests: a GRU + Bahdanau run and a 2-layer, 2-head Transformer run,
both trained for 20 steps on 1,500 spa-eng pairs by the real `attnlab train` command (about 10 s each)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RNN_RECIPE = REPO / "recipes" / "translate-spa-eng-bahdanau.yaml"
SETS = (
    "data.limit=1500",
    "model.hidden=32",
    "model.embed_dim=16",
    "train.max_steps=20",
    "data.valid_bleu_sentences=10",
)
TINY_RNN = [arg for kv in SETS for arg in ("--set", kv)]
TRANSFORMER_RECIPE = """\
task: translation
data: {dataset: spa-eng, src: es, tgt: en, tokenizer: word, min_freq: 2, max_len: 16, limit: 1500,
       valid_bleu_sentences: 10}
model: {arch: transformer, d_model: 16, layers: 2, heads: 2, d_ff: 32}
train: {max_steps: 20, batch_size: 64, lr: 0.001, seed: 0}
"""
LAYERS, HEADS = 2, 2
SENTENCE = "esta es mi vida."


def _train(recipe: Path, out: Path, data_root: Path, *extra: str) -> Path:
    env = {**os.environ, "ATTNLAB_DATA": str(data_root), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-m", "attnlab", "train", str(recipe), "--out", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def rnn_run_dir(tmp_path_factory, data_root) -> Path:
    return _train(RNN_RECIPE, tmp_path_factory.mktemp("serve") / "gru-bahdanau", data_root, *TINY_RNN)


@pytest.fixture(scope="session")
def transformer_run_dir(tmp_path_factory, data_root) -> Path:
    base = tmp_path_factory.mktemp("serve")
    recipe = base / "tiny-transformer.yaml"
    recipe.write_text(TRANSFORMER_RECIPE)
    return _train(recipe, base / "tiny-transformer", data_root)


@pytest.fixture(scope="session")
def loaded_runs(rnn_run_dir, transformer_run_dir):
    """Both runs loaded once: (runs, names) with names 'gru-bahdanau' and 'tiny-transformer'."""
    from attnlab.serve.app import load_runs

    return load_runs([rnn_run_dir, transformer_run_dir])


@pytest.fixture
def client(loaded_runs):
    from fastapi.testclient import TestClient

    from attnlab.serve.app import create_app

    runs, names = loaded_runs
    with TestClient(create_app(runs, names), raise_server_exceptions=False) as c:
        yield c
