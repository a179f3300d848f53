"""Which precision a training runs in, chosen by measuring the model itself (`train.amp: auto`).

On a GPU bf16 autocast is the norm where the hardware has it. On a CPU it depends on the chip and on the
model: a Xeon with AMX multiplies bf16 matrices ~6× faster than fp32, an older Xeon ~4× slower, and a small
model (d_model 128) gains nothing even on AMX because per-op overhead dominates. A matmul benchmark cannot
tell these apart, so `auto` on a CPU times a few forward + backward passes of the actual model on a real
training batch, in fp32 and in bf16 autocast, and picks bf16 only where it is at least `MIN_SPEEDUP`×
faster. The probe leaves the weights, the gradients and every random generator as it found them (training
is bitwise the same as without it), and its result is cached per machine, torch version, thread count,
model and batch shape, so a rerun decides at once.

Numerically sensitive parts stay fp32 under autocast: losses (`.float()` before cross-entropy), softmax and
LayerNorm statistics (attnlab.nn upcasts them), the optimizer state (the parameters themselves stay fp32).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from attnlab.errors import UserError
from attnlab.fileio import atomic_write_json

MIN_SPEEDUP = 1.5  # bf16 must be at least this much faster than fp32 to be chosen
PROBE_STEPS = 5  # timed forward + backward passes per precision, alternating (after one warm-up each)
PROBE_SECONDS = 8.0  # a slow model stops after two timed pairs once the probe has used this much
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class Precision:
    mode: str  # "fp32", "bf16" or "fp16"
    reason: str  # one line for the log: why this mode
    probe: dict = field(default_factory=dict)  # the probe's figures, when it ran (or was cached)

    @property
    def dtype(self) -> torch.dtype | None:
        return DTYPES.get(self.mode)


def _cache_file() -> Path:
    root = os.environ.get("ATTNLAB_CACHE") or Path.home() / ".cache" / "attnlab"
    return Path(root) / "precision.json"


def _key(model: torch.nn.Module, batch, device: torch.device) -> str:
    from attnlab.sysinfo import cpu_model

    shapes = [(n, tuple(p.shape)) for n, p in model.named_parameters()]
    tensors = sorted((k, tuple(v.shape)) for k, v in batch.tensors.items())
    raw = json.dumps([cpu_model(), str(device), torch.__version__, torch.get_num_threads(),
                      type(model).__name__, shapes, tensors])  # fmt: skip
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def _one_pass(task, model, batch, dtype: torch.dtype | None, device: torch.device) -> float:
    """Seconds of one forward + backward pass (no optimizer step) under `dtype` autocast."""
    t0 = time.perf_counter()
    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        loss = task.loss(model, batch)
    loss.backward()
    model.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def probe(task, model: torch.nn.Module, batch, device: torch.device) -> dict:
    """Time fp32 and bf16 autocast on the real model and batch; returns ms per pass and the speed-up.

    The two precisions alternate pass by pass (after one warm-up pass each), so a change in the machine's
    load hits both alike, and each figure is a median. Weights, gradients and random generators are left
    exactly as they were."""
    cpu_rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if device.type == "cuda" else None
    was_training = model.training
    model.train()
    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    started = time.perf_counter()
    try:
        for i in range(PROBE_STEPS + 1):
            for mode, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
                seconds = _one_pass(task, model, batch, dtype, device)
                if i:  # the first pass of each warms caches and allocators up
                    times[mode].append(seconds)
            if i >= 2 and time.perf_counter() - started > PROBE_SECONDS:
                break  # a slow model: two timed pairs are enough
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
        torch.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
    fp32, bf16 = (statistics.median(times[m]) for m in ("fp32", "bf16"))
    return {
        "fp32_ms": round(fp32 * 1000, 2),
        "bf16_ms": round(bf16 * 1000, 2),
        "speedup": round(fp32 / bf16, 3),
    }


def choose(
    amp: str, device: torch.device, *, task=None, model=None, batch=None, use_cache: bool = True
) -> Precision:
    """The precision for `train.amp` on `device`; `auto` on a CPU measures (see the module docstring)."""
    if amp == "none":
        return Precision("fp32", "train.amp=none")
    if amp in DTYPES:
        if amp == "fp16" and device.type != "cuda":
            raise UserError(
                "train.amp=fp16 needs a CUDA GPU (it relies on a gradient scaler); use bf16 on a CPU"
            )
        return Precision(amp, f"train.amp={amp}")
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return Precision("bf16", f"auto: {torch.cuda.get_device_name(device)} supports bf16")
        return Precision("fp32", f"auto: {torch.cuda.get_device_name(device)} has no bf16")
    if device.type != "cpu":  # MPS: autocast support varies by release; fp32 is the safe choice
        return Precision("fp32", f"auto: fp32 on {device.type}")
    key = _key(model, batch, device)
    cache = _cache_file()
    try:
        known = json.loads(cache.read_text()) if use_cache and cache.is_file() else {}
    except (OSError, json.JSONDecodeError):
        known = {}  # a damaged cache is only a missed shortcut
    figures = known.get(key) if isinstance(known, dict) else None
    cached = isinstance(figures, dict) and {"fp32_ms", "bf16_ms", "speedup"} <= set(figures)
    if not cached:
        figures = probe(task, model, batch, device)
        if use_cache:
            with contextlib.suppress(OSError):  # a read-only home: decide again next time
                atomic_write_json(cache, {**(known if isinstance(known, dict) else {}), key: figures})
    how = "cached probe" if cached else "probe"
    detail = (f"bf16 autocast {figures['speedup']:.2f}× fp32 on this CPU ({figures['bf16_ms']:.1f} vs "
              f"{figures['fp32_ms']:.1f} ms per forward + backward, {how})")  # fmt: skip
    mode = "bf16" if figures["speedup"] >= MIN_SPEEDUP else "fp32"
    return Precision(
        mode, f"auto: {mode}: {detail}; bf16 needs >= {MIN_SPEEDUP}×", {**figures, "cached": cached}
    )


def resolve_threads(threads: int | None) -> int:
    """Torch intra-op threads: the recipe's `train.threads`, else OMP_NUM_THREADS when set, else the cores
    this process may run on (its CPU affinity, not the machine's count) divided by the processes torchrun
    started on this machine, so two ranks on 2 cores take one core each instead of fighting over both."""
    if threads:
        return threads
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    return max(1, cores // max(local, 1))
