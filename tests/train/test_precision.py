"""Precision chosen by measurement (train.amp=auto), kept on resume, exact within a mode; fp32 statistics
under CPU autocast; the thread count a training takes."""

import json
import os

import pytest
import torch
import torch.nn.functional as F
from tests.conftest import REPO
from tests.train.helpers import make_trainer

from attnlab.errors import UserError
from attnlab.nn import LayerNorm, masked_softmax
from attnlab.recipe import load_recipe
from attnlab.tasks import get_task
from attnlab.train import precision

RECIPE = REPO / "recipes" / "lm-shakespeare-char-baby.yaml"
TINY = ["data.limit_chars=20000", "model.layers=1", "model.d_model=32", "model.heads=2",
        "data.block_size=32", "train.batch_size=8", "model.dropout=0.2", "train.log_every=1"]  # fmt: skip


@pytest.fixture
def task(tmp_path, data_root, monkeypatch):
    monkeypatch.setenv("ATTNLAB_DATA", str(data_root))
    monkeypatch.setenv("ATTNLAB_CACHE", str(tmp_path / "cache"))  # the probe's cache: this test's own
    t = get_task("lm")(load_recipe(RECIPE, TINY), tmp_path / "codecs")
    t.prepare(write=True)
    return t


def _trainer(task, run_dir, **train):
    return make_trainer(task, run_dir, **{"eval_every": 4, **train})


def test_forced_modes_and_fp16_on_a_cpu():
    cpu = torch.device("cpu")
    assert precision.choose("none", cpu).mode == "fp32" and precision.choose("none", cpu).dtype is None
    assert precision.choose("bf16", cpu).dtype == torch.bfloat16
    with pytest.raises(UserError, match="fp16 needs a CUDA GPU"):
        precision.choose("fp16", cpu)


def test_probe_times_the_real_model_and_leaves_it_untouched(task):
    model = task.build_model()
    batch = task.train_batches(0)[0]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    figures = precision.probe(task, model, batch, torch.device("cpu"))
    assert figures["fp32_ms"] > 0 and figures["bf16_ms"] > 0
    assert figures["speedup"] == pytest.approx(figures["fp32_ms"] / figures["bf16_ms"], rel=0.02)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters()) and torch.equal(rng, torch.get_rng_state())


def test_auto_decides_by_the_measured_speedup_and_caches_it(task, monkeypatch):
    model, batch, cpu = task.build_model(), task.train_batches(0)[0], torch.device("cpu")
    for speedup, mode in ((1.49, "fp32"), (1.5, "bf16"), (3.0, "bf16")):
        monkeypatch.setattr(
            precision, "probe", lambda *a, s=speedup: {"fp32_ms": s, "bf16_ms": 1.0, "speedup": s}
        )
        chosen = precision.choose("auto", cpu, task=task, model=model, batch=batch, use_cache=False)
        assert chosen.mode == mode and f"{speedup:.2f}×" in chosen.reason
    # Cached per machine and shape: a second decision does not probe again.
    monkeypatch.setattr(precision, "probe", lambda *a: {"fp32_ms": 2.0, "bf16_ms": 1.0, "speedup": 2.0})
    first = precision.choose("auto", cpu, task=task, model=model, batch=batch)
    monkeypatch.setattr(precision, "probe", lambda *a: pytest.fail("probed again"))
    again = precision.choose("auto", cpu, task=task, model=model, batch=batch)
    assert (first.mode, first.probe["cached"], again.mode, again.probe["cached"]) == (
        "bf16",
        False,
        "bf16",
        True,
    )


def test_a_resumed_run_keeps_its_recorded_precision(task, tmp_path, monkeypatch):
    """Trained in fp32 (the probe said so); on resume the probe would say bf16 — the run stays fp32."""
    monkeypatch.setattr(precision, "probe", lambda *a: {"fp32_ms": 1.0, "bf16_ms": 1.0, "speedup": 1.0})
    a = _trainer(task, tmp_path, max_steps=4)
    a.fit()
    assert a.state.precision == "fp32" and a.precision.probe["speedup"] == 1.0
    monkeypatch.setattr(precision, "probe", lambda *a: pytest.fail("a resumed run must not probe"))
    b = _trainer(task, tmp_path, max_steps=8)
    b.resume()
    b.fit()
    assert b.state.precision == "fp32" and b.amp_dtype is None and "recorded" in b.precision.reason


def test_bf16_resume_is_bitwise_exact(task, tmp_path):
    """Stop at step 5 under forced bf16 autocast with dropout on, resume to 10: the same weights as 10
    steps straight in bf16."""
    a = _trainer(task, tmp_path / "a", max_steps=10, amp="bf16")
    a.fit()
    _trainer(task, tmp_path / "b", max_steps=5, amp="bf16", checkpoint_every=5).fit()
    torch.rand(7)
    b = _trainer(task, tmp_path / "b", max_steps=10, amp="bf16")
    b.resume()
    b.fit()
    assert a.amp_dtype == b.amp_dtype == torch.bfloat16
    for (k, x), y in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
        assert x.dtype == torch.float32 and torch.equal(x, y), k  # parameters stay fp32 under autocast


def test_summary_records_the_precision_and_probe(tmp_path, cli):
    proc = cli("train", RECIPE, "--out", tmp_path / "run", *[a for kv in [*TINY, "train.max_steps=3",
               "train.eval_every=3"] for a in ("--set", kv)], env={"ATTNLAB_CACHE": str(tmp_path / "c")})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["precision"] in ("fp32", "bf16") and "auto:" in summary["precision_reason"]
    probe = summary["precision_probe"]
    assert (summary["precision"] == "bf16") == (probe["speedup"] >= precision.MIN_SPEEDUP)
    assert "precision: " in proc.stderr


def test_layernorm_returns_fp32_and_softmax_keeps_fp32_statistics_under_cpu_autocast():
    """CPU autocast leaves nn.LayerNorm's output in bf16 (a post-norm residual stream would then be bf16
    from layer to layer); attnlab's LayerNorm gives the fp32 result of the same input."""
    torch.manual_seed(0)
    x = (torch.randn(4, 512) * 30 + 100).bfloat16()
    ours, ref = LayerNorm(512), torch.nn.LayerNorm(512)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, naive = ours(x), ref(x)
    assert y.dtype == torch.float32 and naive.dtype == torch.bfloat16
    torch.testing.assert_close(y, F.layer_norm(x.float(), (512,)), rtol=0, atol=1e-6)
    assert (naive.float() - y).abs().max() > 1e-3  # what the bf16 output loses
    scores = torch.randn(3, 1000).bfloat16() * 4
    w = masked_softmax(scores, torch.ones(3, 1000, dtype=torch.bool))
    assert w.dtype == torch.bfloat16
    torch.testing.assert_close(w.float(), scores.float().softmax(-1), atol=1e-4, rtol=1e-2)
    x64 = torch.randn(2, 8, dtype=torch.float64)  # float64 (gradient checks) is never downcast
    assert LayerNorm(8).double()(x64).dtype == masked_softmax(x64).dtype == torch.float64


def test_threads_follow_the_recipe_then_omp_then_affinity_over_local_ranks(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert precision.resolve_threads(None) == 2
    monkeypatch.delenv("LOCAL_WORLD_SIZE")
    assert precision.resolve_threads(None) == 4
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert precision.resolve_threads(None) == 3 and precision.resolve_threads(1) == 1
