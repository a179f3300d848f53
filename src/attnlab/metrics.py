"""Metrics: sacreBLEU BLEU and chrF on detokenised text, accuracy / F1, perplexity.

BLEU is always computed by sacreBLEU on plain detokenised strings (its own 13a tokenisation), never on
our tokens or subword pieces, so numbers are comparable with published ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import sacrebleu

# One reference per hypothesis, or a list of them (Tatoeba has several translations of one sentence).
References = Sequence[str] | Sequence[Sequence[str]]


def reference_streams(references: References) -> list[list[str | None]]:
    """sacreBLEU's layout: one stream per reference slot; a hypothesis with fewer references than the most
    any has gets None in the slots it lacks (sacreBLEU skips those)."""
    if all(isinstance(r, str) for r in references):
        return [list(references)]  # type: ignore[arg-type]
    k = max((len(r) for r in references), default=1)
    return [[r[j] if j < len(r) else None for r in references] for j in range(k)]


def bleu(hypotheses: Sequence[str], references: References, *, lowercase: bool = False) -> float:
    """Corpus BLEU; `lowercase` is sacreBLEU's -lc (what lower-casing tutorials such as bentrevett's report)."""
    if not hypotheses:
        return 0.0
    streams = reference_streams(references)
    return float(sacrebleu.corpus_bleu(list(hypotheses), streams, lowercase=lowercase).score)


def chrf(hypotheses: Sequence[str], references: References) -> float:
    if not hypotheses:
        return 0.0
    return float(sacrebleu.corpus_chrf(list(hypotheses), reference_streams(references)).score)


def bleu_signature(references: References | None = None) -> str:
    """sacreBLEU's signature string (references, tokeniser, smoothing, version) for reports; `nrefs:var`
    when the hypotheses have different numbers of references."""
    metric = sacrebleu.BLEU()
    refs = ["a"] if references is None else references
    metric.corpus_score(["a"] * len(refs), reference_streams(refs))  # the count is known after one call
    return str(metric.get_signature())


def perplexity(loss_per_token: float) -> float:
    """exp(mean negative log-likelihood), capped to stay JSON-serialisable."""
    return math.exp(min(loss_per_token, 50.0))


def bits_per_token(loss_per_token: float) -> float:
    return loss_per_token / math.log(2)


def accuracy(predictions: Sequence[int], labels: Sequence[int]) -> float:
    if not labels:
        return 0.0
    return sum(int(p == y) for p, y in zip(predictions, labels, strict=True)) / len(labels)


def length_buckets(lengths: Sequence[int], edges: Sequence[int] = (5, 10, 15, 20, 30)) -> list[str]:
    """Name each length's bucket: '1-5', '6-10', ..., '31+'."""
    names, lo = [], 1
    bounds = [(lo, edges[0])]
    for a, b in zip(edges, edges[1:], strict=False):
        bounds.append((a + 1, b))
    for n in lengths:
        for a, b in bounds:
            if a <= n <= b:
                names.append(f"{a}-{b}")
                break
        else:
            names.append(f"{edges[-1] + 1}+")
    return names


def bleu_by_length(
    hypotheses: Sequence[str],
    references: References,
    src_lengths: Sequence[int],
    edges: Sequence[int] = (5, 10, 15, 20, 30),
) -> list[dict]:
    """Corpus BLEU within each source-length bucket: [{bucket, sentences, bleu, chrf}]."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(length_buckets(src_lengths, edges)):
        groups.setdefault(name, []).append(i)

    def key(name: str) -> int:
        return int(name.split("-")[0].rstrip("+"))

    rows = []
    for name in sorted(groups, key=key):
        idx = groups[name]
        hyp = [hypotheses[i] for i in idx]
        ref = [references[i] for i in idx]
        rows.append({"bucket": name, "sentences": len(idx), "bleu": bleu(hyp, ref), "chrf": chrf(hyp, ref)})
    return rows
