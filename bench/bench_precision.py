"""fp32 against bf16 autocast on this machine, for every recipe family, training and decoding (not a test).

    .venv/bin/python bench/bench_precision.py [--threads 2] [--steps 6] [--repeats 3] [--only gpt,rnn]

    .venv/bin/python bench/bench_precision.py --quality RECIPE[,RECIPE] --train-steps 300 --seeds 1,2,3

For each family a real recipe is built on a slice of its real dataset; the same model (same weights) then
runs `--steps` optimisation steps (forward + backward + optimizer, as the trainer does: loss in fp32,
parameters and optimizer state fp32) in fp32 and under bf16 autocast, interleaved `--repeats` times; the
table reports median tokens/s of each and the ratio, and what `train.amp: auto` decides for that recipe on
this machine (its probe is the same measurement, shorter). Decoding: greedy translation / generation of a
batch in each precision. The first lines name the CPU and whether it has AMX / AVX-512 BF16.

`--quality` is the check every recipe that `auto` runs in bf16 must pass: the recipe trained for the same
`--train-steps` in fp32 (train.amp=none) and in bf16 (train.amp=bf16) for each seed, through `attnlab train`,
and the final validation loss of each compared; bf16 passes when its mean is within 1% of fp32's.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import os
import statistics
import time
from pathlib import Path

import torch

from attnlab.recipe import load_recipe
from attnlab.sysinfo import cpu_model
from attnlab.tasks import get_task
from attnlab.train import precision
from attnlab.train.trainer import build_optimizer

REPO = Path(__file__).resolve().parents[1]
# family -> (recipe, overrides that keep data preparation quick; the model is the recipe's own)
FAMILIES = {
    "rnn-seq2seq": ("translate-spa-eng-bahdanau", ["data.limit=6000"]),
    "transformer-seq2seq": ("translate-spa-eng-transformer", ["data.limit=6000"]),
    "chat-transformer": ("chat-ko-transformer", ["data.limit=3000"]),
    "bilstm-attention-classifier": (
        "sentiment-imdb-bilstm-attention",
        ["data.limit=2000", "data.test_limit=10"],
    ),
    "transformer-classifier": ("sentiment-imdb-transformer", ["data.limit=2000", "data.test_limit=10"]),
    "gpt-128 (baby)": ("lm-shakespeare-char-baby", ["data.limit_chars=300000"]),
    "gpt (fast)": ("lm-shakespeare-char-fast", ["data.limit_chars=300000"]),
    "char-lstm-512": ("lm-nietzsche-char-lstm-large", ["data.limit_chars=300000"]),
}


def cpu_flags() -> str:
    try:
        flags = next(
            line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")
        )
    except (OSError, StopIteration):
        return "unknown"
    have = [f for f in ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f") if f" {f}" in flags]
    return ", ".join(have) or "none of amx_bf16 / avx512_bf16 / avx512f"


def timed_steps(task, model, batches, dtype) -> float:
    """Seconds for one optimisation step per batch, as the trainer takes it."""
    opt = build_optimizer(model.parameters(), task.recipe.train)
    model.train()
    t0 = time.perf_counter()
    for b in batches:
        with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
            loss = task.loss(model, b)
        (loss / b.units).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return time.perf_counter() - t0


@torch.no_grad()
def timed_decoding(task, model, dtype) -> tuple[float, int]:
    """Seconds and output tokens of decoding one batch greedily (translation / chat / LM generation)."""
    model.eval()
    with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
        t0 = time.perf_counter()
        if hasattr(task, "translate"):
            srcs = task.data["valid"].src_text[:32]
            outs = task.translate(model, srcs, beam=1, attention=False)
            n = sum(len(task.tgt_codec.tokens(o[0].text)) + 1 for o in outs)
        elif hasattr(task, "generate"):
            task.generate(model, "First Citizen:", length=200, temperature=0.0)
            n = 200
        else:
            return float("nan"), 0
        return time.perf_counter() - t0, n


def bench_family(name: str, args) -> dict:
    recipe_name, overrides = FAMILIES[name]
    recipe = load_recipe(REPO / "recipes" / f"{recipe_name}.yaml", overrides)
    task = get_task(recipe.task)(recipe, Path(args.tmp) / recipe_name)
    task.prepare(write=True)
    torch.manual_seed(0)
    base = task.build_model()
    batches = list(task.train_batches(0))[: args.steps]
    tokens = sum(b.tokens for b in batches)
    auto = precision.choose("auto", torch.device("cpu"), task=task, model=copy.deepcopy(base), batch=batches[0],
                            use_cache=False)  # fmt: skip
    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    decode: dict[str, list[float]] = {"fp32": [], "bf16": []}
    out_tokens = 0
    for _ in range(args.repeats + 1):  # the first round warms up and is not counted
        for mode, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
            model = copy.deepcopy(base)
            t = timed_steps(task, model, batches, dtype)
            d, out_tokens = timed_decoding(task, model, dtype)
            times[mode].append(t)
            decode[mode].append(d)
    med = {m: statistics.median(v[1:]) for m, v in times.items()}
    dmed = {m: statistics.median(v[1:]) for m, v in decode.items()}
    return {
        "family": name,
        "recipe": recipe_name,
        "params": sum(p.numel() for p in base.parameters()),
        "fp32": tokens / med["fp32"],
        "bf16": tokens / med["bf16"],
        "decode_fp32": out_tokens / dmed["fp32"] if out_tokens else None,
        "decode_bf16": out_tokens / dmed["bf16"] if out_tokens else None,
        "auto": auto.mode,
        "probe": auto.probe.get("speedup"),
    }


def quality(recipe_name: str, args) -> None:
    """fp32 against bf16 validation loss after the same number of steps, per seed, and the verdict."""
    import json
    import subprocess
    import sys

    losses: dict[str, list[float]] = {"none": [], "bf16": []}
    for seed in [int(s) for s in args.seeds.split(",")]:
        for amp in losses:
            out = Path(args.tmp) / "quality" / f"{recipe_name}-{amp}-seed{seed}"
            if not (out / "summary.json").is_file():
                cmd = [sys.executable, "-m", "attnlab", "train", str(REPO / "recipes" / f"{recipe_name}.yaml"),
                       "--out", str(out), "--set", f"train.amp={amp}", "--set", f"train.seed={seed}",
                       "--set", f"train.max_steps={args.train_steps}", "--set", "train.max_minutes=null",
                       "--set", f"train.eval_every={args.train_steps}", "--set", "train.patience=null",
                       "--set", "train.metric=loss", "--set", f"train.threads={args.threads}"]  # fmt: skip
                subprocess.run(cmd, check=True, capture_output=True)
            records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
            last = [r for r in records if r.get("split") == "valid"][-1]
            losses[amp].append(last["loss"])
            print(f"| {recipe_name} | {seed} | {'fp32' if amp == 'none' else 'bf16'} | {args.train_steps} | "
                  f"{last['loss']:.4f} |", flush=True)  # fmt: skip
    f32, b16 = statistics.fmean(losses["none"]), statistics.fmean(losses["bf16"])
    rel = (b16 - f32) / f32
    verdict = "bf16 kept" if abs(rel) <= 0.01 else "fails: the recipe keeps fp32"
    print(f"| {recipe_name} | mean | fp32 {f32:.4f} / bf16 {b16:.4f} | | {rel:+.2%}: {verdict} |")


def probe_recipes(args) -> None:
    """What `train.amp: auto` decides for every trained recipe on this machine: its real data and model,
    the probe on its first training batch (no cache), as `attnlab train` would decide."""
    print(
        "| recipe | arch | auto picks | probe: bf16 / fp32 | fp32 ms | bf16 ms |\n| --- | --- | --- | ---: | ---: | ---: |"
    )
    for path in sorted((REPO / "recipes").glob("*.yaml")):
        recipe = load_recipe(path, [f"train.threads={args.threads}"])
        task = get_task(recipe.task)(recipe, Path(args.tmp) / "probe" / path.stem)
        if task.fitted():
            continue  # fitted models (n-grams, classic baselines) have no precision to choose
        task.prepare(write=True)
        torch.manual_seed(0)
        model = task.build_model()
        batch = task.train_batches(0)[0]
        chosen = precision.choose(
            "auto", torch.device("cpu"), task=task, model=model, batch=batch, use_cache=False
        )
        p = chosen.probe
        print(f"| {path.stem} | {recipe.arch} | {chosen.mode} | {p['speedup']:.2f}× | {p['fp32_ms']:.1f} | "
              f"{p['bf16_ms']:.1f} |", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=6, help="optimisation steps per timing")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated families (default: all)")
    parser.add_argument("--tmp", default="/tmp/attnlab-bench-precision")
    parser.add_argument("--quality", default="", help="recipes to train in fp32 and bf16 and compare")
    parser.add_argument("--train-steps", type=int, default=300)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--probe-recipes", action="store_true", help="what auto picks for every recipe")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("ATTNLAB_CACHE", str(Path(args.tmp) / "cache"))
    if args.probe_recipes:
        print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}; machine: {cpu_model()}; "
              f"bf16 hardware flags: {cpu_flags()}; {args.threads} threads\n")  # fmt: skip
        probe_recipes(args)
        return
    if args.quality:
        print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}; machine: {cpu_model()}; "
              f"{args.threads} threads\n")  # fmt: skip
        print("| recipe | seed | precision | steps | final valid loss |\n| --- | --- | --- | ---: | ---: |")
        for name in args.quality.split(","):
            quality(name.strip(), args)
        return
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(FAMILIES)
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine: {cpu_model()}; bf16 hardware flags: {cpu_flags()}; torch {torch.__version__}, "
          f"{args.threads} threads; {args.steps} steps x {args.repeats} interleaved repeats (median)\n")  # fmt: skip
    print("| family | recipe | params | train tok/s fp32 | bf16 | bf16 / fp32 | decode tok/s fp32 | bf16 | "
          "bf16 / fp32 | auto picks (probe) |")  # fmt: skip
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name in names:
        r = bench_family(name, args)
        dec = (f"{r['decode_fp32']:,.0f} | {r['decode_bf16']:,.0f} | {r['decode_bf16'] / r['decode_fp32']:.2f}×"
               if r["decode_fp32"] else "— | — | —")  # fmt: skip
        print(f"| {r['family']} | {r['recipe']} | {r['params'] / 1e6:.2f}M | {r['fp32']:,.0f} | {r['bf16']:,.0f} | "
              f"{r['bf16'] / r['fp32']:.2f}× | {dec} | {r['auto']} ({r['probe']:.2f}×) |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
