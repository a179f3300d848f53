"""Seq2seq speed: what precomputed attention keys and the Transformer KV cache buy (not a test).

    python bench/bench_seq2seq_speed.py [--threads 1] [--repeats 7]

(a) Training tokens/s (forward + backward + Adam step) of the Bahdanau GRU at three sizes: the
    recipe's (recipes/translate-spa-eng-bahdanau.yaml: embed 256, GRU 512, batch 64, 12 + 12 tokens), the
    TensorFlow tutorial's of seeds 000/001 (GRU and attention units 1024, 16 + 16), and seed 002's
    (bidirectional GRU 512 with the tanh bridge, decoder 512, output layer over [s_t; c_t; emb], batch 128).
    attnlab's decoder (W_k·H once per batch, one output projection after the loop) against two reference
    formulations with the same weights (checked to give the same logits before timing):
      * "recompute W_k·H": every encoder state projected again at every decoder step;
      * "seed 002": its attention's energy, one Linear on [s_{t-1} repeated S times; H] at every step, and
        the output layer inside the loop (its decoder returns one step's prediction per call).
(b) Generating 64 tokens with the Transformer (seed 003 sizes: d_model 256, 2+2 layers, 8 heads, d_ff 512,
    8k vocabulary, 20 source tokens) with the KV cache (`start`/`step`: self-attention keys appended,
    cross-attention keys projected once) against the fair reference without a cache: the decoder stack
    recomputed over the whole prefix at every step, but only the last position projected onto the
    vocabulary (what a decoder without a cache needs; the encoder runs once in both, and neither returns
    attention maps). The row "every position projected" is the naive loop earlier versions compared with.

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
import torch.nn.functional as F

from attnlab.models.seq2seq import RNNSeq2Seq, RNNSeq2SeqConfig
from attnlab.models.transformer import TransformerSeq2Seq, TransformerSeq2SeqConfig
from attnlab.sysinfo import cpu_model


class RecomputeKeys(RNNSeq2Seq):
    """The reference formulation: W_k·H projected again at every decoder step (no `keys` kept in the state).
    Everything else (bridge, deep output, one output projection after the loop) is attnlab's own path."""

    def start(self, src, src_len):
        state = super().start(src, src_len)
        state.pop("keys", None)
        return state

    def _features(self, emb, state):
        feats, state, weights = super()._features(emb, {**state, "keys": self.attention.w_k(state["memory"])})
        state.pop("keys")
        return feats, state, weights


class Seed002(RecomputeKeys):
    """Seed 002's decoder: the attention energy is one Linear on [s_{t-1} repeated S times; H] at every step
    (W_a = [W_q  W_k], the same weights side by side, so the numbers are the same), and the output layer
    runs inside the loop, one step's logits per call."""

    def _features(self, emb, state):
        s_prev, memory, attn = state["h"][-1], state["memory"], self.attention
        both = torch.cat([s_prev.unsqueeze(1).expand(-1, memory.size(1), -1), memory], -1)
        w_a = torch.cat([attn.w_q.weight, attn.w_k.weight], 1)
        scores = attn.v(torch.tanh(F.linear(both, w_a, attn.w_k.bias))).squeeze(-1)
        weights = torch.softmax(scores.masked_fill(~state["mask"], float("-inf")), -1)
        context = torch.bmm(weights.unsqueeze(1), memory).squeeze(1)
        out, state = self._rnn(torch.cat([emb, context], -1).unsqueeze(1), state)
        feats = out.squeeze(1)
        if self.cfg.deep_output:
            feats = torch.cat([feats, context, emb], -1)
        return feats, state, weights

    def forward(self, src, src_len, tgt_in):
        state = self.start(src, src_len)
        emb = self.dropout(self.tgt_embed(tgt_in))
        logits = []
        for t in range(tgt_in.size(1)):
            feats, state, _ = self._features(emb[:, t], state)
            logits.append(self.out(self.dropout(feats)))
        return torch.stack(logits, 1), None


def interleaved(fns: dict[str, Callable[[], object]], repeats: int, warmup: int) -> dict[str, float]:
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


SIZES = {  # label -> (model config, batch, source = target length)
    "recipe: GRU 512, batch 64, 12+12 tokens": (dict(hidden=512), 64, 12),
    "seeds 000/001 (TF tutorial): GRU 1024, batch 64, 16+16": (dict(hidden=1024), 64, 16),
    "seed 002: BiGRU 512 + bridge, deep output, batch 128, 16+16": (
        dict(hidden=512, bidirectional=True, deep_output=True),
        128,
        16,
    ),
}


def bench_training(args, label: str) -> list[tuple[str, float, float]]:
    kw, b, length = SIZES[label]
    s, t, vs, vt = length, length, 8000, 6000
    cfg = RNNSeq2SeqConfig(cell="gru", embed_dim=256, attention="bahdanau", dropout=0.1, **kw)
    models = {}
    for name, cls in (
        ("ours (W_k·H once per batch)", RNNSeq2Seq),
        ("recompute W_k·H each step", RecomputeKeys),
        ("seed 002 (energy on [s; H] each step + per-step output)", Seed002),
    ):
        torch.manual_seed(0)
        models[name] = cls(cfg, vs, vt).train()
    g = torch.Generator().manual_seed(0)
    src = torch.randint(4, vs, (b, s), generator=g)
    src_len = torch.full((b,), s)
    tgt_in = torch.randint(4, vt, (b, t), generator=g)
    tgt_out = torch.randint(4, vt, (b, t), generator=g)
    tokens = b * (s + t)
    with torch.no_grad():  # same weights, same numbers: the formulations differ in cost only
        ref = [m.eval()(src, src_len, tgt_in)[0] for m in models.values()]
        assert all(torch.allclose(r, ref[0], atol=1e-4) for r in ref), "formulations disagree"
    for m in models.values():
        m.train()

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
        out = [tok]
        for _ in range(n):
            logits, state, _ = model.step(tok, state, attention=False)
            tok = logits.argmax(-1)
            out.append(tok)
        return torch.stack(out, 1)  # (B, 1 + n), <bos> first, like the prefixes below

    def recompute_last():
        memory, mask = model.encode(src, src_len)
        prefix = torch.full((batch, 1), 2)
        for _ in range(n):
            h = model.decoder(model.tgt_pos(model.tgt_embed(prefix)), memory, None, mask)  # (B, t, d)
            tok = model.out(h[:, -1]).argmax(-1)  # only the position that is decoded next
            prefix = torch.cat([prefix, tok[:, None]], 1)
        return prefix

    def recompute_all():
        memory, mask = model.encode(src, src_len)
        prefix = torch.full((batch, 1), 2)
        for _ in range(n):
            tok = model.decode(memory, mask, prefix)[:, -1].argmax(-1)  # (B, t, V): every position projected
            prefix = torch.cat([prefix, tok[:, None]], 1)
        return prefix

    # The same tokens each way (greedy from the same weights), checked before timing.
    first = cached()
    assert all(torch.equal(first, fn()) for fn in (recompute_last, recompute_all)), "decoders disagree"
    med = interleaved(
        {"KV cache": cached, "no cache (last position projected)": recompute_last,
         "no cache, every position projected": recompute_all},
        args.repeats,
        1,
    )  # fmt: skip
    return [(k, batch * n / v, med[k] / med["KV cache"]) for k, v in med.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--part", choices=("all", "training", "generation"), default="all")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(
        f"machine: {cpu_model()} ({platform.machine()}), torch {torch.__version__}, threads {args.threads}, "
        f"repeats {args.repeats} (median)"
    )
    if args.part in ("all", "training"):
        print("\n(a) Bahdanau GRU training step (embed 256, vocab 8000 -> 6000)\n")
        print("| sizes | formulation | tokens/s | time vs ours |")
        print("| --- | --- | ---: | ---: |")
        for label in SIZES:
            for name, tps, ratio in bench_training(args, label):
                print(f"| {label} | {name} | {tps:,.0f} | {ratio:.2f}× |")
    if args.part == "training":
        return
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
