"""Language-model benchmarks: attnlab's recipes against the targets they are meant to hit, over seeds.

| recipe | reference | target |
| --- | --- | --- |
| lm-shakespeare-char-baby | nanoGPT's CPU "baby" config (README): 4 layers, 4 heads, 128 wide, block 64, batch 12, 2000 iters; peak lr 3e-3 | loss <= 1.88 |
| baby-lr1e-3: the same recipe at nanoGPT's own peak lr 1e-3 | its exact configuration, for the side-by-side with nanoGPT | loss <= 1.88 |
| lm-shakespeare-char-fast | attnlab's own char Transformer for a 5-minute budget | loss <= 1.75 in 5 min |
| lm-nietzsche-char-lstm | the seed's Keras char LSTM (window 40, LSTM 128, RMSprop 0.01, batch 128) | loss <= 1.30 in 15 min |
| lm-nietzsche-char-lstm-large | the same model at LSTM 512, window 100, for the 15-minute budget | loss <= 1.30 in 15 min |

Every recipe runs through the seeds protocol (`attnlab.seeds.run_seed`): one training per seed into
`--runs/<label>/seed<k>`, evaluated on valid (which chose the checkpoint) and test (reported), one results
file per seed in `--results/<label>/seed<k>.json`. Losses are nats per token over *every* position of the
part (consecutive windows). The table gives valid and test as mean (min–max) over the seeds, and a target
is met when the test mean meets it. Two extra columns keep the old comparisons honest:

* "nanoGPT's val": the loss on nanoGPT's own validation text (the last 10% of the file = valid + test here),
  for the side-by-side with nanoGPT's reported 1.88;
* "after 40 chars": the test loss scored only after at least 40 characters of context (`data.eval_stride`),
  seed 001's measure, beside — never instead of — the headline.

    .venv/bin/python bench/bench_lm.py [--only baby,fast] [--seeds 1,2,3] [--threads 2]
                                       [--runs bench/runs-lm] [--results bench/results/seeds]

Times depend on the machine and on whatever else runs on it: compare numbers from one machine only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from pathlib import Path

from attnlab.fileio import atomic_write_json
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


def extra_losses(run: Path, results: Path) -> dict:
    """nanoGPT's validation text (valid + test, the last 10%) and the test loss after >= 40 characters of
    context, for the best checkpoint; added to the seed's results file."""
    import torch

    from attnlab.runs import load_run

    loaded = load_run(run, with_data=True)
    task, model = loaded.task, loaded.model
    with torch.no_grad():
        ids = task.encode_text(task.texts["valid"] + task.texts["test"])
        nats, count = task.nats(model, ids)
        task.recipe.data.eval_stride = max(1, task.recipe.data.block_size - 40)
        context = task.evaluate(model, "test")["loss"]
    out = {"nanogpt_val_loss": nats / count, "test_loss_after_40": context}
    record = json.loads(results.read_text())
    record["extra"] = out
    atomic_write_json(results, record)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, default=REPO / "bench" / "runs-lm")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results" / "seeds")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", 2)))
    parser.add_argument(
        "--only", default=",".join(RECIPES), help=f"comma-separated subset of: {', '.join(RECIPES)}"
    )
    parser.add_argument("--seeds", default="1,2,3", help="training seeds (train.seed)")
    args = parser.parse_args()
    import torch

    from attnlab.seeds import load_results, parse_seeds, run_seed, spread

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
        overrides = [f"train.threads={args.threads}", "train.device=cpu", *extra]
        for seed in parse_seeds(args.seeds):
            path = run_seed(REPO / "recipes" / f"{name}.yaml", seed, overrides, args.runs, args.results, label=tag,
                            command=f"python bench/bench_lm.py --only {key} --seeds {args.seeds}")  # fmt: skip
            extra_losses(args.runs / tag / f"seed{seed}", path)
        results = load_results(args.results / tag)
        valid, test = (
            spread([r["valid"]["loss"] for r in results]),
            spread([r["test"]["loss"] for r in results]),
        )
        nano = spread([r["extra"]["nanogpt_val_loss"] for r in results])
        ctx = spread([r["extra"]["test_loss_after_40"] for r in results])
        secs = spread([r["train"]["train_seconds"] for r in results])
        steps = spread([r["train"]["steps"] for r in results])
        in_time = minutes is None or secs.hi <= minutes * 60 * 1.02
        met = test.mean <= target and in_time
        rows.append(f"| {tag} | {', '.join(str(r['seed']) for r in results)} | {steps.mean:.0f} | {secs.mean / 60:.1f} | "
                    f"{valid} | **{test}** | {nano} | {ctx} | <= {target}{f' in {minutes:g} min' if minutes else ''} | "
                    f"{'yes' if met else 'no'} |")  # fmt: skip
    print("| recipe | seeds | steps | train min | valid loss | test loss | nanoGPT's val (last 10%) | test, after 40 chars | target | met |")  # fmt: skip
    print("| --- | --- | ---: | ---: | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print(
        "\nlosses: nats/token, mean (min–max) over the seeds; train min: optimisation steps only (the trainer's clock)."
    )


if __name__ == "__main__":
    main()
