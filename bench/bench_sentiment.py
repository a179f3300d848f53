"""IMDB sentiment: every sentiment recipe trained from scratch and scored on the canonical 25k test set,
beside the published number it should reach (not a test).

    .venv/bin/python bench/bench_sentiment.py [--out bench/runs-sentiment] [--only tfidf-lr,lstm] [--summarize]

| recipe | reference | target |
| --- | --- | --- |
| sentiment-imdb-lstm | seed 001: Keras LSTM 128, 20k vocab, 80 tokens, 1 epoch | 84.02 % |
| sentiment-imdb-bilstm-attention | seed 003: 2-layer BiLSTM + Bahdanau pooling, 10k vocab, 500 tokens | 87.93 % |
| sentiment-imdb-transformer | keras.io "Text classification with Transformer" | 87.45 % |
| sentiment-imdb-best (NB-weighted uni/bi/trigrams) | NBSVM-bi (Wang & Manning 2012) | 91.22 % (target 91.5 %) |
| sentiment-imdb-fasttext | fastText-style bag of words + hashed bigrams | — |
| sentiment-imdb-avg | seed 004: averaged embeddings | — |
| sentiment-imdb-tfidf-lr, -count-lgbm | seed 004's bag-of-words baselines | — |
| count-lr, tfidf1k-lgbm, tfidf1k-lr, tfidf-lgbm | the same two recipes with `--set` feature / classifier swaps | — |

Each recipe trains into `--out/<recipe>` (`--summarize` only reads runs already there), then `attnlab eval`
scores the test split. Wall times depend on the machine and its load: compare numbers from one run only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

from attnlab.sysinfo import cpu_model

REPO = Path(__file__).resolve().parents[1]

REFERENCES = {
    "tfidf-lr": ("seed 004 TF-IDF baselines", None),
    "count-lgbm": ("seed 004 Count + LightGBM", None),
    "count-lr": ("seed 004 Count (1k words) + logistic regression", None),
    "tfidf1k-lgbm": ("seed 004 TF-IDF (1k words) + LightGBM", None),
    "tfidf1k-lr": ("seed 004 TF-IDF (1k words) + logistic regression", None),
    "tfidf-lgbm": ("TF-IDF uni+bigrams + LightGBM", None),
    "avg": ("seed 004 averaged embeddings", None),
    "lstm": ("seed 001 Keras LSTM", 84.02),
    "bilstm-attention": ("seed 003 BiLSTM + attention", 87.93),
    "transformer": ("keras.io Transformer classifier", 87.45),
    "best": ("NBSVM-bi, Wang & Manning 2012", 91.22),
    "fasttext": ("fastText-style words + hashed bigrams", None),
}


# The seed 004 feature sets and classifiers not given a recipe of their own: (recipe, --set overrides).
VARIANTS = {
    "count-lr": ("count-lgbm", ["model.classifier=lr"]),
    "tfidf1k-lgbm": ("count-lgbm", ["model.features=tfidf1k"]),
    "tfidf1k-lr": ("count-lgbm", ["model.features=tfidf1k", "model.classifier=lr"]),
    "tfidf-lgbm": ("tfidf-lr", ["model.classifier=lgbm"]),
}


def run_one(name: str, out: Path, summarize: bool) -> dict:
    from attnlab.evaluate import evaluate_run
    from attnlab.recipe import load_recipe
    from attnlab.runs import train

    run_dir = out / f"sentiment-imdb-{name}"
    if not summarize and not (run_dir / "summary.json").exists():
        recipe, overrides = VARIANTS.get(name, (name, []))
        path = REPO / "recipes" / f"sentiment-imdb-{recipe}.yaml"
        train(load_recipe(path, overrides), run_dir, progress=False)
    summary = json.loads((run_dir / "summary.json").read_text())
    started = time.perf_counter()
    result = evaluate_run(run_dir, split="test")
    return {
        "name": name,
        "train_min": summary["train_seconds"] / 60,
        "eval_s": time.perf_counter() - started,
        "accuracy": 100 * result["accuracy"],
        "f1": result["f1"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "runs-sentiment")
    parser.add_argument("--only", default=",".join(REFERENCES))
    parser.add_argument("--summarize", action="store_true")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    unknown = set(names) - set(REFERENCES)
    if unknown:
        parser.error(f"unknown recipe(s) {', '.join(sorted(unknown))}; choose from {', '.join(REFERENCES)}")
    print(f"{datetime.date.today()} · {cpu_model()} · IMDB canonical 25k test set\n")
    print("| recipe | train (min) | test acc | test F1 | reference | reference acc | ratio |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: |")
    for name in names:
        r = run_one(name, args.out, args.summarize)
        ref, ref_acc = REFERENCES[name]
        ratio = f"{r['accuracy'] / ref_acc:.3f}" if ref_acc else "—"
        print(
            f"| {name} | {r['train_min']:.1f} | {r['accuracy']:.2f} % | {r['f1']:.4f} | {ref} | "
            f"{f'{ref_acc:.2f} %' if ref_acc else '—'} | {ratio} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
