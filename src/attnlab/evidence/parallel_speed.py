"""Training throughput of a GRU language model and a GPT-style Transformer as sequences get longer.

Both are the project's own LMs (attnlab.models.lm) with (nearly) the same number of parameters: the
Transformer keeps a fixed size and the GRU's hidden size is searched to match it. The data are random
token ids, because the claim is about the computation, not about what is learnt.

Every training step sees the same number of tokens (`tokens_per_step`), arranged as B = tokens / T
sequences of length T. So as T grows the GRU has fewer rows to batch and more steps to take one after
the other (h_t needs h_{t-1}), while the Transformer still multiplies all B·T positions at once and only
pays more in attention (its cost per token grows with T).

A step is forward + cross-entropy + backward + AdamW update. After warm-up steps, `repeats` steps are
timed one by one and the median kept (robust to other processes on the machine). The measurement runs
with torch.set_num_threads(1), recorded in the numbers: "parallel" here means one large matrix product
over all positions instead of T small ones, on one core; a GPU or more threads would widen the gap.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from attnlab.models.lm import GPTConfig, GPTLanguageModel, RNNLanguageModel, RNNLMConfig, count_parameters
from attnlab.viz import plots

TITLE = "The Transformer trains faster than an RNN because it is parallel over positions"
CLAIM = (
    "An RNN must process a sequence one position after another (h_t needs h_{t-1}), so it cannot use "
    "parallel hardware across positions; the Transformer computes all positions at once and trains faster."
)
SEED = 0
THREADS = 1
VOCAB = 65  # tinyshakespeare's characters


def _settings(quick: bool) -> dict:
    if quick:
        return {"lengths": [16, 32, 64], "tokens_per_step": 512, "repeats": 5, "warmup": 1,
                "gpt": GPTConfig(d_model=32, heads=2, layers=1), "embed_dim": 32}  # fmt: skip
    # nanoGPT's CPU "baby" Shakespeare size (the LM recipes' default), 4096 tokens a step.
    return {"lengths": [32, 64, 128, 256, 512], "tokens_per_step": 4096, "repeats": 7, "warmup": 2,
            "gpt": GPTConfig(d_model=128, heads=4, layers=4), "embed_dim": 128}  # fmt: skip


def _matched_gru(target: int, embed_dim: int) -> tuple[RNNLanguageModel, int]:
    """The GRU LM whose parameter count is closest to `target` (count grows monotonically with hidden)."""

    def size(hidden: int) -> int:
        return count_parameters(RNNLanguageModel(RNNLMConfig("gru", embed_dim, hidden), VOCAB))

    lo, hi = 1, 4096
    while lo < hi:  # smallest hidden with size >= target
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if size(mid) < target else (lo, mid)
    hidden = min((lo - 1, lo), key=lambda h: abs(size(h) - target)) if lo > 1 else lo
    torch.manual_seed(SEED)
    return RNNLanguageModel(RNNLMConfig("gru", embed_dim, hidden), VOCAB), hidden


def _tokens_per_second(model, length: int, cfg: dict) -> tuple[float, list[float]]:
    """Median training throughput at sequence length `length`; also every timed step's seconds."""
    batch = cfg["tokens_per_step"] // length
    gen = torch.Generator().manual_seed(SEED)
    ids = torch.randint(0, VOCAB, (batch, length + 1), generator=gen)  # one fixed batch: no data cost
    x, y = ids[:, :-1], ids[:, 1:]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    times = []
    for step in range(cfg["warmup"] + cfg["repeats"]):
        started = time.perf_counter()
        logits, _ = model(x)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step >= cfg["warmup"]:
            times.append(time.perf_counter() - started)
    return batch * length / statistics.median(times), times


def run(quick: bool, out: Path) -> dict:
    cfg = _settings(quick)
    lengths = cfg["lengths"]
    previous = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        torch.manual_seed(SEED)
        gpt = GPTLanguageModel(cfg["gpt"], VOCAB, block_size=max(lengths))
        gru, hidden = _matched_gru(count_parameters(gpt), cfg["embed_dim"])
        models = {"GRU": gru, "Transformer": gpt}
        speed = {name: {"tokens_per_s": [], "step_seconds": []} for name in models}
        for length in lengths:
            for name, model in models.items():
                tps, times = _tokens_per_second(model, length, cfg)
                speed[name]["tokens_per_s"].append(round(tps, 1))
                speed[name]["step_seconds"].append([round(t, 4) for t in times])
    finally:
        torch.set_num_threads(previous)

    g = cfg["gpt"]
    numbers = {
        "threads": THREADS,
        "seed": SEED,
        "lengths": lengths,
        "tokens_per_step": cfg["tokens_per_step"],
        "batch_sizes": [cfg["tokens_per_step"] // t for t in lengths],
        "repeats": cfg["repeats"],
        "warmup": cfg["warmup"],
        "vocab": VOCAB,
        "models": {
            "GRU": {
                "parameters": count_parameters(gru),
                "embed_dim": cfg["embed_dim"],
                "hidden": hidden,
                "sequential_steps_per_layer": "T",
            },
            "Transformer": {
                "parameters": count_parameters(gpt),
                "d_model": g.d_model,
                "layers": g.layers,
                "heads": g.heads,
                "block_size": max(lengths),
                "sequential_steps_per_layer": 1,
            },
        },  # fmt: skip
        "speed": speed,
    }
    plots.curves(
        {
            f"{name} ({numbers['models'][name]['parameters']:,} params)": (lengths, s["tokens_per_s"])
            for name, s in speed.items()
        },  # fmt: skip
        out / "parallel-speed.png",
        xlabel=f"sequence length T ({cfg['tokens_per_step']:,} tokens per step: batch = tokens / T)",
        ylabel=f"training tokens/s ({THREADS} thread, median of {cfg['repeats']})",
        title="Training throughput vs sequence length",
        logx=True,
    )
    return numbers


def reading(numbers: dict) -> str:
    lengths, m = numbers["lengths"], numbers["models"]
    gru, tr = (numbers["speed"][k]["tokens_per_s"] for k in ("GRU", "Transformer"))
    ratios = [t / r for t, r in zip(tr, gru, strict=True)]
    faster = [n for n, x in zip(lengths, ratios, strict=True) if x > 1]
    verdict = (
        "at every length"
        if len(faster) == len(lengths)
        else (f"only at T = {', '.join(map(str, faster))}" if faster else "at no length")
    )
    peak = max(range(len(tr)), key=tr.__getitem__)
    gru_falls = gru[-1] < gru[0]
    gru_how = (
        "since its T steps run one after another on fewer rows"
        if gru_falls
        else "so its sequential steps did not slow it down here"
    )
    tr_how = (
        f"peaking at T = {lengths[peak]} and then falling as attention's cost per token grows with T"
        if peak < len(tr) - 1
        else "rising throughout: attention's cost per token, which grows with T, does not dominate yet"
    )
    # Where the slowest Transformer step is slower than the fastest GRU step (or the reverse), the two
    # ranges of timed steps overlap: the median difference there is within this machine's noise.
    steps = numbers["speed"]
    overlap = [n for n, a, b in zip(lengths, steps["GRU"]["step_seconds"], steps["Transformer"]["step_seconds"],
                                   strict=True) if max(b) >= min(a) and max(a) >= min(b)]  # fmt: skip
    noise = (
        f" The timed steps of the two overlap at T = {', '.join(map(str, overlap))}, so the difference there "
        "is within the run-to-run spread."
        if overlap
        else ""
    )
    return (
        f"At matched size ({m['Transformer']['parameters']:,} vs {m['GRU']['parameters']:,} parameters, "
        f"{numbers['threads']} thread, {numbers['tokens_per_step']:,} tokens per step) the Transformer has the higher "
        f"median training throughput {verdict}: {ratios[0]:.1f}× the GRU's tokens/s at T = {lengths[0]} and {ratios[-1]:.1f}× at "
        f"T = {lengths[-1]}. The GRU goes from {gru[0]:,.0f} to {gru[-1]:,.0f} tokens/s as the same tokens "
        f"come in fewer, longer sequences, {gru_how}; the Transformer goes from {tr[0]:,.0f} to "
        f"{tr[-1]:,.0f} tokens/s, {tr_how}.{noise} This is throughput on one CPU core with random tokens, median "
        "of a few steps on a shared machine: it does not measure how much each model learns per token, and "
        "on a GPU the gap from parallelism would be larger."
    )
