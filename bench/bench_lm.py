"""Language-model benchmarks: attnlab's recipes against the targets they are meant to hit.

| recipe | reference | target |
| --- | --- | --- |
| lm-shakespeare-char-baby | nanoGPT's CPU "baby" config (README): 4 layers, 4 heads, 128 wide, block 64, batch 12, 2000 iters; peak lr 3e-3 | val loss <= 1.88 |
| baby-lr1e-3: the same recipe at nanoGPT's own peak lr 1e-3 | its exact configuration, for the side-by-side with nanoGPT | val loss <= 1.88 |
| lm-shakespeare-char-fast | attnlab's own char Transformer for a 5-minute budget | val loss <= 1.75 in 5 min |
| lm-nietzsche-char-lstm | the seed's Keras char LSTM (window 40, LSTM 128, RMSprop 0.01, batch 128) | val loss <= 1.30 in 15 min |
| lm-nietzsche-char-lstm-large | the same model at LSTM 512, window 100, for the 15-minute budget | val loss <= 1.30 in 15 min |

Each recipe is trained from scratch into `--out/<recipe>` (or, with `--summarize`, runs already trained
there are only read) and reported as a markdown table: steps, wall time, time per iteration, tokens/s,
best validation loss (nats/token on the last 10% of the text) and bits per character.

    .venv/bin/python bench/bench_lm.py [--out bench/runs-lm] [--threads 2] [--only baby,fast] [--summarize]
                                       [--seeds 1337,1,2]

`--seeds` trains each recipe once per seed (`train.seed`) and adds the mean and spread of the best
validation losses: nanoGPT's own 1.88 is one run, scored on 20 random batches.

Times depend on the machine and on whatever else runs on it: compare numbers from one machine only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path

from attnlab.sysinfo import cpu_model

REPO = Path(__file__).resolve().parents[1]
# key: (recipe, target val loss, minutes budget or None, --set overrides, run label)
RECIPES = {
    "baby": ("lm-shakespeare-char-baby", 1.88, None, [], None),
    "baby-lr1e-3": (
        "lm-shakespeare-char-baby",
        1.88,
        None,
        ["train.lr=0.001"],
        "lm-shakespeare-char-baby-lr1e-3",
    ),
    "fast": ("lm-shakespeare-char-fast", 1.75, 5.0, [], None),
    "lstm": ("lm-nietzsche-char-lstm", 1.30, 15.0, [], None),
    "lstm-large": ("lm-nietzsche-char-lstm-large", 1.30, 15.0, [], None),
}


def read_run(run: Path) -> dict:
    summary = json.loads((run / "summary.json").read_text())
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    valid = [r for r in records if r.get("split") == "valid"]
    best = min(valid, key=lambda r: r["loss"]) if valid else {}
    return {"summary": summary, "valid": valid, "best": best}


def every_position_loss(run: Path) -> float | None:
    """For a recipe that scores validation in sliding windows (data.eval_stride), the best checkpoint's loss
    over every position of consecutive windows as well (the default measure, nanoGPT's)."""
    from attnlab.runs import load_run

    loaded = load_run(run, with_data=True)
    if loaded.recipe.data.eval_stride is None:
        return None
    loaded.recipe.data.eval_stride = None
    return loaded.task.evaluate(loaded.model)["loss"]


def train(
    name: str, out: Path, threads: int, seed: int | None = None, extra: tuple[str, ...] | list[str] = ()
) -> float:
    from attnlab import runs
    from attnlab.config import load_recipe

    overrides = [f"train.threads={threads}", "train.device=cpu", *extra] + (
        [] if seed is None else [f"train.seed={seed}"]
    )
    recipe = load_recipe(REPO / "recipes" / f"{name}.yaml", overrides)
    if out.exists():
        shutil.rmtree(out)
    started = time.perf_counter()
    runs.train(recipe, out, progress=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "runs-lm")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", 2)))
    parser.add_argument(
        "--only", default=",".join(RECIPES), help=f"comma-separated subset of: {', '.join(RECIPES)}"
    )
    parser.add_argument("--summarize", action="store_true", help="only read runs already in --out")
    parser.add_argument(
        "--seeds", default="", help="comma-separated train.seed values (default: the recipe's)"
    )
    args = parser.parse_args()
    seeds = [int(x) for x in args.seeds.split(",") if x.strip()] or [None]
    import torch

    torch.set_num_threads(args.threads)
    print(
        f"# attnlab language-model benchmarks\n\n{dt.datetime.now().isoformat(timespec='seconds')} · "
        f"CPU {cpu_model()} ({os.cpu_count()} logical) · torch {torch.__version__} · "
        f"{args.threads} torch threads · load average {os.getloadavg()[0]:.1f} at start\n"
    )
    rows = []
    for key in args.only.split(","):
        name, target, minutes, extra, tag = RECIPES[key.strip()]
        tag = tag or name
        losses = []
        for seed in seeds:
            label = tag if seed is None else f"{tag} (seed {seed})"
            run = args.out / (tag if seed is None else f"{tag}-seed{seed}")
            wall = None if args.summarize else train(name, run, args.threads, seed, extra)
            if not (run / "summary.json").is_file():
                rows.append(f"| {label} | not trained | | | | | | {target} | — |")
                continue
            info = read_run(run)
            s, best = info["summary"], info["best"]
            ms = 1000 * s["train_seconds"] / max(s["steps"], 1)
            in_time = minutes is None or s["train_seconds"] <= minutes * 60 * 1.02
            ok = best.get("loss", 99) <= target and in_time
            losses.append(best.get("loss", float("nan")))
            wall_s = f"{wall:.0f}" if wall is not None else "—"
            every = every_position_loss(run)
            also = "" if every is None else f"; every position: {every:.4f}"
            rows.append(
                f"| {label} | {s['steps']} | {s['train_seconds']:.0f} | {wall_s} | {ms:.0f} | "
                f"{s['tokens_per_second']:,.0f} | {best.get('loss', float('nan')):.4f} "
                f"({best.get('bpc', float('nan')):.3f} bpc, step {best.get('step')}{also}) | <= {target}"
                f"{f' in {minutes:g} min' if minutes else ''} | {'yes' if ok else 'no'} |"
            )
        if len(losses) > 1:
            mean = sum(losses) / len(losses)
            rows.append(
                f"| {tag}: mean of {len(losses)} seeds | | | | | | {mean:.4f} (min {min(losses):.4f}, "
                f"max {max(losses):.4f}) | <= {target} | {'yes' if mean <= target else 'no'} |"
            )
    print("| recipe | steps | train s | wall s | ms/iter | tokens/s | best val loss | target | met |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |")
    print("\n".join(rows))
    print("\ntrain s: optimisation steps only (the trainer's clock); wall s: including validation and data.")


if __name__ == "__main__":
    main()
