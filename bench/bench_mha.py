"""Forward+backward time of attnlab's MultiHeadAttention vs torch.nn.MultiheadAttention (not a test).

    python bench/bench_mha.py [--threads 2] [--repeats 30]

Self-attention at batch 32, length 64, d_model 256, 8 heads, same weights. The variants are timed
interleaved (one repeat of each in turn) so drift in machine load hits them all alike; the table reports
medians and the ratio to torch's matching call.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from attnlab.nn import MultiHeadAttention
from attnlab.sysinfo import cpu_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    b, t, d, h = args.batch, args.length, args.d_model, args.heads
    ref = nn.MultiheadAttention(d, h, batch_first=True)
    ours = MultiHeadAttention(h, d // h).load_from_torch(ref)
    x = torch.randn(b, t, d, requires_grad=True)

    def step(fn: Callable[[], torch.Tensor]) -> Callable[[], None]:
        def run() -> None:
            fn().sum().backward()
            x.grad = None

        return run

    variants: dict[str, Callable[[], None]] = {
        "torch MHA, need_weights=False": step(lambda: ref(x, x, x, need_weights=False)[0]),
        "attnlab MHA": step(lambda: ours(x, x)),
        "torch MHA, per-head weights": step(lambda: ref(x, x, x, average_attn_weights=False)[0]),
        "attnlab MHA, return_attention_scores": step(lambda: ours(x, x, return_attention_scores=True)[0]),
    }
    baseline = {
        "attnlab MHA": "torch MHA, need_weights=False",
        "attnlab MHA, return_attention_scores": "torch MHA, per-head weights",
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.warmup):
        for run in variants.values():
            run()
    for _ in range(args.repeats):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)

    med = {name: statistics.median(ts) * 1e3 for name, ts in times.items()}
    print(f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"machine: {platform.platform()}; cpu: {cpu_model()}")
    print(f"torch {torch.__version__}; threads {torch.get_num_threads()}; python {platform.python_version()}")
    print(f"shape: batch {b}, length {t}, d_model {d}, heads {h}; forward+backward, "
          f"median of {args.repeats} interleaved repeats after {args.warmup} warmup\n")  # fmt: skip
    print("| variant | median ms | ratio vs torch |")
    print("| --- | ---: | ---: |")
    for name, ms in med.items():
        ratio = f"{ms / med[baseline[name]]:.2f}x" if name in baseline else "1.00x (baseline)"
        print(f"| {name} | {ms:.2f} | {ratio} |")


if __name__ == "__main__":
    main()
