"""Distributed data parallel on CPU (gloo): 2 processes follow the 1-process loss curve exactly."""

import json
import os
import subprocess
import sys

import pytest
from tests.e2e.conftest import REPO

RECIPE = REPO / "recipes" / "translate-spa-eng-bahdanau.yaml"
SETTINGS = [
    "--set",
    "data.limit=1200",
    "--set",
    "model.hidden=24",
    "--set",
    "model.embed_dim=12",
    "--set",
    "model.dropout=0.0",
    "--set",
    "train.batch_size=16",
    "--set",
    "train.max_steps=8",
    "--set",
    "train.log_every=1",
    "--set",
    "train.eval_every=8",
    "--set",
    "data.valid_bleu_sentences=0",
    "--set",
    "train.metric=loss",
]


def _losses(run):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if r["split"] == "train"]


@pytest.mark.slow
def test_two_processes_match_one_process(tmp_path, data_root):
    env = {**os.environ, "ATTNLAB_DATA": str(data_root), "OMP_NUM_THREADS": "1"}
    one = subprocess.run(
        [sys.executable, "-m", "attnlab", "train", RECIPE, "--out", tmp_path / "one", *SETTINGS],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run(
        [
            sys.executable,
            "-m",
            "attnlab",
            "train",
            RECIPE,
            "--out",
            tmp_path / "two",
            "--nproc",
            "2",
            *SETTINGS,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(a) == len(b) == 8
    assert a[-1] < a[0]  # it trains
    for x, y in zip(a, b, strict=True):
        assert abs(x - y) < 1e-5, (a, b)
    # Only rank 0 wrote: one metrics line per step, one checkpoint directory.
    assert len((tmp_path / "two" / "metrics.jsonl").read_text().splitlines()) == len(
        (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()
    )
