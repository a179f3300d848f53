"""Kneser-Ney trigram: attnlab.ngram vs nltk.lm.KneserNeyInterpolated on tinyshakespeare, and attnlab vs
KenLM querying the same model (its ARPA export).

Same text, same run, same padding for both (n-1 <s> on the left, one </s> on the right):
lowercased whitespace tokens, one sentence per non-empty line, first 90% of lines train, last 10% test.
NLTK scores one token in ~0.1 s (each lower-order query scans every context), so it is timed on the
first `--nltk-sentences` test sentences; throughputs are per token and the ratio is per-token speed.

Query speed: the trigram is written with `write_arpa`, loaded by `kenlm.Model`, and both score every test
sentence (attnlab one `score_sentence` call per sentence, and all at once with `evaluate`; KenLM one
`Model.score` call per sentence on the pre-joined string): median of `--repeat-query` interleaved repeats
under `threadpool_limits(--threads)` (KenLM itself is single-threaded), plus the largest per-sentence
log10 difference between the two.

    .venv/bin/python bench/bench_ngram.py [--data PATH] [--nltk-sentences 30] [--threads 1]

Needs `pip install nltk` (no corpora download) and kenlm (both in attnlab's extras: bench, dev).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from attnlab.ngram import NGramLM, write_arpa
from attnlab.sysinfo import cpu_model

ORDER = 3
D = 0.75  # NLTK's KneserNeyInterpolated takes one fixed discount; ours is run with the same one


def best_of(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def median_interleaved(fns: dict, repeat: int) -> tuple[dict, dict]:
    """Median seconds of each function over `repeat` rounds that run every function once, in turn."""
    times: dict = {k: [] for k in fns}
    outs: dict = {}
    for _ in range(repeat):
        for k, fn in fns.items():
            t = time.perf_counter()
            outs[k] = fn()
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}, outs


def kenlm_query(lm: NGramLM, test: list[list[str]], repeat: int) -> None:
    """attnlab and KenLM scoring the same test sentences with the same model (its ARPA file)."""
    import importlib.metadata

    import kenlm

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.arpa"
        t0 = time.perf_counter()
        write_arpa(lm, path)
        t_write = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
        t0 = time.perf_counter()
        km = kenlm.Model(str(path))
        t_load = time.perf_counter() - t0
    lines = [" ".join(s) for s in test]  # each side gets its native input: token lists / strings
    t, out = median_interleaved(
        {
            "ours_loop": lambda: [lm.score_sentence(s).log_prob / math.log(10) for s in test],
            "ours_batch": lambda: lm.evaluate(test),
            "kenlm": lambda: [km.score(line, bos=True, eos=True) for line in lines],
        },
        repeat,
    )
    ours, theirs = np.array(out["ours_loop"]), np.array(out["kenlm"])
    n_tok = n_events(test)
    n = len(test)
    print(
        f"\n## Query speed: attnlab vs KenLM (kenlm {importlib.metadata.version('kenlm')}) on the same model "
        "(its ARPA export)\n"
    )
    print(
        f"- the KN trigram above (D = {D}) written by `write_arpa` in {t_write:.2f} s "
        f"({size_mb:.1f} MB, {lm.order} orders), loaded by kenlm.Model in {t_load:.2f} s"
    )
    print(
        f"- {n} test sentences ({n_tok} tokens incl. </s>); median of {repeat} interleaved repeats; "
        f"max |log10 P(sentence)| difference attnlab − KenLM {np.abs(ours - theirs).max():.2e}; perplexity "
        f"attnlab {out['ours_batch'].perplexity:.3f}, KenLM {10 ** (-theirs.sum() / n_tok):.3f}\n"
    )
    print("| scorer | total time | sentences/s | tokens/s | time vs KenLM |")
    print("| --- | ---: | ---: | ---: | ---: |")
    rows = [
        ("attnlab `score_sentence`, one call per sentence", "ours_loop"),
        ("attnlab `evaluate`, all sentences in one call", "ours_batch"),
        ("KenLM `Model.score`, one call per sentence", "kenlm"),
    ]
    for label, key in rows:
        print(
            f"| {label} | {t[key] * 1e3:,.1f} ms | {n / t[key]:,.0f} | {n_tok / t[key]:,.0f} "
            f"| {t[key] / t['kenlm']:.2f}× |"
        )


def load(path: Path) -> tuple[list[list[str]], list[list[str]]]:
    lines = [ln.lower().split() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    cut = int(len(lines) * 0.9)
    return lines[:cut], lines[cut:]


def n_events(sents) -> int:
    return sum(len(s) + 1 for s in sents)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("ATTNLAB_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--data", type=Path, default=default / "tinyshakespeare" / "input.txt")
    ap.add_argument("--nltk-sentences", type=int, default=30, help="test sentences NLTK scores (it is slow)")
    ap.add_argument("--repeat", type=int, default=3, help="best-of for our timings")
    ap.add_argument("--repeat-query", type=int, default=5, help="median-of for the KenLM query comparison")
    ap.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads (threadpoolctl)")
    args = ap.parse_args()
    with threadpool_limits(limits=args.threads):
        run(args)


def run(args) -> None:
    import nltk
    from nltk.lm import KneserNeyInterpolated
    from nltk.util import everygrams, ngrams

    train, test = load(args.data)
    sub = test[: args.nltk_sentences]
    n_train, n_test, n_sub = n_events(train), n_events(test), n_events(sub)

    # -- ours ------------------------------------------------------------------------------------
    t_fit, lm = best_of(lambda: NGramLM(ORDER, "kneser-ney", discount=D).fit(train), args.repeat)
    t_score, ours_test = best_of(lambda: lm.evaluate(test), args.repeat)
    lm_est = NGramLM(ORDER, "kneser-ney").fit(train)
    lm_mkn = NGramLM(ORDER, "modified-kneser-ney").fit(train)

    # -- NLTK (same padding: n-1 <s> left, one </s> right) -----------------------------------------
    def pad(s):
        return ["<s>"] * (ORDER - 1) + s + ["</s>"]

    t0 = time.perf_counter()
    nl = KneserNeyInterpolated(ORDER, discount=D)
    nl.fit((everygrams(pad(s), max_len=ORDER) for s in train), (w for s in train for w in pad(s)))
    t_nfit = time.perf_counter() - t0
    sub_grams = [g for s in sub for g in ngrams(pad(s), ORDER)]
    assert len(sub_grams) == n_sub
    t0 = time.perf_counter()
    nltk_scores = np.array([nl.score(g[-1], g[:-1]) for g in sub_grams])
    t_nscore = time.perf_counter() - t0
    with np.errstate(divide="ignore"):
        nltk_ppl = float(np.exp(-np.log(nltk_scores).mean()))
    n_zero = int((nltk_scores == 0).sum())
    # Sentences of the subset whose words NLTK's vocabulary knows: NLTK's perplexity is finite there.
    sub_known = [s for s in sub if all(w in nl.vocab for w in s)]
    known_grams = [g for s in sub_known for g in ngrams(pad(s), ORDER)]
    nltk_known_ppl = nl.perplexity(known_grams) if known_grams else math.nan

    ours_sub = lm.perplexity(sub)
    ours_known = lm.perplexity(sub_known) if sub_known else math.nan
    r_fit = (n_train / t_fit) / (n_train / t_nfit)
    r_score = (n_test / t_score) / (n_sub / t_nscore)
    nltk_total_est = t_nfit + t_nscore / n_sub * n_test
    r_total = nltk_total_est / (t_fit + t_score)

    print("# n-gram LM benchmark: Kneser-Ney trigram, attnlab.ngram vs nltk.lm.KneserNeyInterpolated\n")
    print(f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}")
    print(
        f"- machine: {cpu_model()}, {os.cpu_count()} hardware threads, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"- python {platform.python_version()}, numpy {np.__version__}, nltk {nltk.__version__}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, threadpool limit {args.threads}"
    )
    print(
        f"- data: {args.data.name}, lowercased whitespace tokens per line, 90/10 split: "
        f"{len(train)} train sentences ({n_train} tokens incl. </s>), {len(test)} test ({n_test} tokens, "
        f"{ours_test.n_oov} out of vocabulary)"
    )
    print(
        f"- both use D = {D} at every order; NLTK scored on the first {len(sub)} test sentences ({n_sub} tokens)\n"
    )
    print("| step | attnlab.ngram | nltk | speed-up (per token) |")
    print("| --- | --- | --- | --- |")
    print(
        f"| fit ({n_train} tokens) | {t_fit:.3f} s ({n_train / t_fit / 1e3:,.0f} k tok/s) "
        f"| {t_nfit:.2f} s ({n_train / t_nfit / 1e3:,.1f} k tok/s) | {r_fit:,.0f}× |"
    )
    print(
        f"| score (ours: {n_test} tokens, nltk: {n_sub}) | {t_score:.3f} s ({n_test / t_score / 1e3:,.0f} k tok/s) "
        f"| {t_nscore:.2f} s ({n_sub / t_nscore:,.1f} tok/s) | {r_score:,.0f}× |"
    )
    print(
        f"| fit + score full test | {t_fit + t_score:.3f} s | {nltk_total_est:,.0f} s (extrapolated) | {r_total:,.0f}× |"
    )
    print()
    print("| perplexity on | attnlab KN D=0.75 | nltk KN D=0.75 |")
    print("| --- | --- | --- |")
    print(
        f"| NLTK subset ({len(sub)} sentences, {n_sub} tokens) | {ours_sub:.1f} | {nltk_ppl:.1f} ({n_zero} tokens P=0) |"
    )
    print(
        f"| subset sentences without unseen words ({len(sub_known)}) | {ours_known:.3f} | {nltk_known_ppl:.3f} |"
    )
    print(
        f"| full test set ({n_test} tokens) | {ours_test.perplexity:.1f} | not run (inf once any unseen word appears) |"
    )
    print(
        f"\nattnlab full test perplexity with estimated discounts: kneser-ney {lm_est.perplexity(test):.1f}, "
        f"modified-kneser-ney {lm_mkn.perplexity(test):.1f}"
    )
    kenlm_query(lm, test, args.repeat_query)


if __name__ == "__main__":
    main()
