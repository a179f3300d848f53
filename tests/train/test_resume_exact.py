"""SIGKILL at random moments, `--resume` each time: the final weights are bitwise those of an uninterrupted run.

Dropout and scheduled sampling (teacher_forcing < 1) draw from the global generator at every step, and the
Transformer's Noam schedule depends on the step, so this fails unless the checkpoint restores the RNG, the
optimizer, the scheduler, the epoch's batch order and the position in it. Both model families are killed
several times (KILLS) at random steps.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
import torch
from safetensors.torch import load_file
from tests.conftest import REPO

MAX_STEPS = 30
KILLS = 3  # aimed at; at least 2 must land before the run ends
COMMON = [
    "data.limit=300",
    "train.batch_size=16",
    f"train.max_steps={MAX_STEPS}",
    "train.checkpoint_every=3",
    "train.log_every=1",
    "train.eval_every=10",
    "data.valid_bleu_sentences=5",
    "train.max_minutes=null",
]
FAMILIES = {
    "rnn": (
        "translate-spa-eng-bahdanau.yaml",
        ["model.hidden=16", "model.embed_dim=8", "model.dropout=0.3", "model.teacher_forcing=0.5"],
    ),
    "transformer": (
        "translate-spa-eng-transformer.yaml",
        ["model.d_model=16", "model.heads=2", "model.layers=1", "model.d_ff=32", "model.dropout=0.3"],
    ),
}


def _command(family, out, resume):
    recipe, settings = FAMILIES[family]
    cmd = [sys.executable, "-m", "attnlab", "train", str(REPO / "recipes" / recipe), "--out", str(out)]
    for s in COMMON + settings:
        cmd += ["--set", s]
    return [*cmd, "--resume"] if resume else cmd


def _latest_step(out) -> int:
    try:
        return int((out / "checkpoints" / "latest").read_text().strip().split("-")[1])
    except (OSError, ValueError, IndexError):
        return 0


def _final_weights(out):
    return load_file(out / "checkpoints" / f"step-{MAX_STEPS:08d}" / "model.safetensors")


def _metrics(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_sigkill_and_resume_is_bitwise_exact(family, tmp_path, data_root):
    env = {**os.environ, "ATTNLAB_DATA": str(data_root), "OMP_NUM_THREADS": "1"}
    seed = int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    straight = subprocess.Popen(
        _command(family, tmp_path / "a", False),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, kills, resume = tmp_path / "b", 0, False
    try:
        while True:
            proc = subprocess.Popen(
                _command(family, out, resume),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            if kills < KILLS:
                # Wait for a checkpoint newer than the one we resumed from, then kill at a random moment.
                start = _latest_step(out)
                deadline = time.monotonic() + 240
                while proc.poll() is None and _latest_step(out) <= start and time.monotonic() < deadline:
                    time.sleep(0.02)
                time.sleep(rng.uniform(0.0, 0.15))  # a step takes tens of ms: this lands mid-interval
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
                    kills += 1
            _, err = proc.communicate(timeout=300)
            if proc.returncode == 0:
                break
            assert proc.returncode == -signal.SIGKILL, f"seed {seed}: exit {proc.returncode}: {err[-3000:]}"
            resume = True
        _, err = straight.communicate(timeout=300)
        assert straight.returncode == 0, err[-3000:]
    finally:
        for p in (straight, proc):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert kills >= 2, f"seed {seed}: the run finished after {kills} kill(s); it must be killed several times"
    a, b = _final_weights(tmp_path / "a"), _final_weights(out)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"seed {seed}, {kills} kills: {key} differs after resuming"
    rows = _metrics(out)
    counts = Counter((r["step"], r["split"]) for r in rows)
    assert not [k for k, n in counts.items() if n > 1], f"seed {seed}: duplicated metrics lines"
    assert sorted(r["step"] for r in rows if r["split"] == "train") == list(range(1, MAX_STEPS + 1))
    # Logged losses (averaged over log_every) and validation results are the uninterrupted run's, exactly.
    ref = _metrics(tmp_path / "a")
    assert [(r["step"], r["split"], r["loss"]) for r in rows] == [
        (r["step"], r["split"], r["loss"]) for r in ref
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == MAX_STEPS and summary["stopped"] == "max-steps"
