"""Seq2seq speed: what precomputed attention keys and the Transformer KV cache buy (not a test).

    python bench/bench_seq2seq_speed.py [--threads 1] [--repeats 7]

(a) Training tokens/s (forward + backward + Adam step) of the Bahdanau GRU of
    recipes/translate-spa-eng-bahdanau.yaml (embed 256, GRU 512, batch 64, 12 source / 12 target tokens),
    and at seed 002's sizes (GRU and attention units 1024, 16 + 16 tokens), against two reference formulations with the same weights:
      * "recompute W_k·H": the same decoder, but the additive attention projects every encoder state
        again at every decoder step (`projected_keys=None`);
      * "seed 002": that, plus the output projection applied step by step inside the loop (the TensorFlow
        tutorial's decoder, which returns one step's logits per call).
(b) Generating 64 tokens with the Transformer (seed 003 sizes: d_model 256, 2+2 layers, 8 heads, d_ff 512,
    8k vocabulary, 20 source tokens) with the KV cache (`start`/`step`: self-attention keys appended,
    cross-attention keys projected once) against full recomputation of the decoder over the whole prefix
    at every step (the encoder runs once in both).

Variants are timed interleaved (one repeat of each in turn) so drift in machine load hits them alike;
the table reports medians and ratios.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time
from collections.abc import Callable

import torch

from attnlab.models.seq2seq import RNNSeq2Seq, RNNSeq2SeqConfig
from attnlab.models.transformer import TransformerSeq2Seq, TransformerSeq2SeqConfig
from attnlab.sysinfo import cpu_model


class RecomputeKeys(RNNSeq2Seq):
    """Bahdanau decoding that projects W_k·H again at every step (no `keys` in the state)."""

    def start(self, src, src_len):
        state = super().start(src, src_len)
        state.pop("keys", None)
        return state

    def _features(self, emb, state):
        context, weights = self.attention(state["h"][-1], state["memory"], state["mask"])  # W_k·H again
        out, state = self._rnn(torch.cat([emb, context], -1).unsqueeze(1), state)
        return out.squeeze(1), state, weights


class Seed002(RecomputeKeys):
    """...and the output layer inside the loop, one step at a time (the TF tutorial's decoder call)."""

    def forward(self, src, src_len, tgt_in):
        state = self.start(src, src_len)
        emb = self.dropout(self.tgt_embed(tgt_in))
        logits = []
        for t in range(tgt_in.size(1)):
            feats, state, _ = self._features(emb[:, t], state)
            logits.append(self.out(self.dropout(feats)))
        return torch.stack(logits, 1), None


def interleaved(fns: dict[str, Callable[[], None]], repeats: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def bench_training(args, hidden: int, length: int) -> list[tuple[str, float, float]]:
    b, s, t, vs, vt = 64, length, length, 8000, 6000
    cfg = RNNSeq2SeqConfig(cell="gru", embed_dim=256, hidden=hidden, attention="bahdanau", dropout=0.1)
    models = {}
    for name, cls in (
        ("ours (W_k·H once per batch)", RNNSeq2Seq),
        ("recompute W_k·H each step", RecomputeKeys),
        ("seed 002 (recompute + per-step output)", Seed002),
    ):
        torch.manual_seed(0)
        models[name] = cls(cfg, vs, vt).train()
    g = torch.Generator().manual_seed(0)
    src = torch.randint(4, vs, (b, s), generator=g)
    src_len = torch.full((b,), s)
    tgt_in = torch.randint(4, vt, (b, t), generator=g)
    tgt_out = torch.randint(4, vt, (b, t), generator=g)
    tokens = b * (s + t)

    def step(model):
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)

        def run():
            logits, _ = model(src, src_len, tgt_in)
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), tgt_out.flatten())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return run

    med = interleaved({k: step(m) for k, m in models.items()}, args.repeats, args.warmup)
    base = next(iter(med))
    return [(k, tokens / v, med[k] / med[base]) for k, v in med.items()]


@torch.no_grad()
def bench_generation(args, batch: int) -> list[tuple[str, float, float]]:
    torch.manual_seed(0)
    model = TransformerSeq2Seq(TransformerSeq2SeqConfig(), 8000, 8000).eval()
    g = torch.Generator().manual_seed(1)
    src = torch.randint(4, 8000, (batch, 20), generator=g)
    src_len = torch.full((batch,), 20)
    n = 64

    def cached():
        state = model.start(src, src_len)
        tok = torch.full((batch,), 2)
        for _ in range(n):
            logits, state, _ = model.step(tok, state)
            tok = logits.argmax(-1)

    def full():
        memory, mask = model.encode(src, src_len)
        prefix = torch.full((batch, 1), 2)
        for _ in range(n):
            tok = model.decode(memory, mask, prefix)[:, -1].argmax(-1)
            prefix = torch.cat([prefix, tok[:, None]], 1)

    med = interleaved({"KV cache": cached, "full recomputation": full}, args.repeats, 1)
    return [(k, batch * n / v, med[k] / med["KV cache"]) for k, v in med.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(
        f"machine: {cpu_model()} ({platform.machine()}), torch {torch.__version__}, threads {args.threads}, "
        f"repeats {args.repeats} (median)"
    )
    print("\n(a) Bahdanau GRU training step (embed 256, batch 64, vocab 8000 -> 6000)\n")
    print("| sizes | formulation | tokens/s | time vs ours |")
    print("| --- | --- | ---: | ---: |")
    for label, hidden, length in (
        ("recipe: GRU 512, 12+12 tokens", 512, 12),
        ("seed 002: GRU 1024, 16+16", 1024, 16),
    ):
        for name, tps, ratio in bench_training(args, hidden, length):
            print(f"| {label} | {name} | {tps:,.0f} | {ratio:.2f}× |")
    print(
        "\n(b) Transformer generation of 64 tokens (d_model 256, 2+2 layers, 8 heads, vocab 8000, source 20)\n"
    )
    print("| batch | decoding | tokens/s | time vs KV cache |")
    print("| ---: | --- | ---: | ---: |")
    for batch in (1, 16):
        for name, tps, ratio in bench_generation(args, batch):
            print(f"| {batch} | {name} | {tps:,.0f} | {ratio:.2f}× |")


if __name__ == "__main__":
    main()
