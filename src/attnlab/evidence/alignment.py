"""Alignment: a trained Bahdanau model's attention picks out the source word each output word translates.

The maps of a few sentences are drawn for the trained model and, on the same output tokens, for the same
architecture at random initialisation. How peaked they are is measured on held-out sentences, teacher-forced
on the reference so both models are scored on exactly the same rows: mean row entropy (nats) against the
uniform map's log S, and the share of rows whose argmax sits on the length-scaled diagonal (spa→en order is
mostly monotone) against what a random argmax would score.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from attnlab import decode
from attnlab.data.batching import pad_batch
from attnlab.data.vocab import Vocab
from attnlab.errors import UserError
from attnlab.evidence import QUICK_TRAINING, scratch_dir
from attnlab.recipe import load_recipe
from attnlab.runs import load_run, train
from attnlab.viz import plots

TITLE = "Attention maps are soft alignments"
CLAIM = (
    "After training, each output word's attention concentrates on the source word(s) it translates, so the "
    "attention map reads as a word alignment; an untrained model's attention is spread almost evenly."
)

RECIPE = Path(__file__).resolve().parents[3] / "recipes" / "translate-spa-eng-bahdanau.yaml"
SENTENCES = ["hace mucho frío aquí.", "esta es mi vida.", "¿todavía están en casa?", "trata de averiguarlo."]
SHARED = "runs-attention-vs-length"  # attention_vs_length.py trains a Bahdanau model here


def _model_run(quick: bool, out: Path) -> tuple[Path, bool]:
    """Reuse the full attention-vs-length Bahdanau run when one exists in `out`; else train our own."""
    shared = out / SHARED
    done = shared / "done.json"  # written only after all four of its models trained and were scored
    if not quick and done.is_file() and json.loads(done.read_text()).get("quick") is False:
        return shared / "bahdanau", True
    run_dir = out / "runs-alignment" / "bahdanau"
    scratch_dir(run_dir.parent)
    common = list(QUICK_TRAINING)
    if quick:
        extra = ["data.limit=1500", "data.min_freq=1", "model.embed_dim=32", "model.hidden=64"]
        extra += ["train.max_steps=60", "train.batch_size=32", "train.lr=0.003"]
    else:
        extra = ["model.hidden=256", "train.epochs=100", "train.max_minutes=6"]
    train(load_recipe(RECIPE, [*common, *extra]), run_dir, progress=False)
    return run_dir, False


@torch.no_grad()
def _forced(model, src: list[list[int]], out: list[list[int]]) -> list[np.ndarray]:
    """Attention (T+1, S) of each pair when the decoder is fed <bos> + `out` (last row: predicting </s>)."""
    maps = []
    for start in range(0, len(src), 128):  # chunks: the test split has a few very long sentences
        s, s_len = pad_batch(src[start : start + 128])
        t_in, t_len = pad_batch([[Vocab.BOS, *o] for o in out[start : start + 128]])
        _, weights = model(s, s_len, t_in)
        maps += [weights[b, : int(t_len[b]), : int(s_len[b])].double().numpy() for b in range(len(s))]
    return maps


def _peakedness(maps: list[np.ndarray]) -> dict:
    ent, uni, diag, chance, err = [], [], [], [], 0.0
    for w in maps:
        rows, n = w.shape
        err = max(err, float(np.abs(w.sum(1) - 1).max()))
        ent += (-(w * np.log(np.clip(w, 1e-12, None))).sum(1)).tolist()
        uni += [float(np.log(n))] * rows
        # The length-scaled diagonal: output row t of T "should" look near source position t·(S-1)/(T-1).
        expect = np.arange(rows) * (n - 1) / max(rows - 1, 1)
        diag += (np.abs(w.argmax(1) - expect) <= 1).tolist()
        chance += [float((np.abs(np.arange(n)[None] - expect[:, None]) <= 1).sum(1).mean()) / n] * rows
    return {
        "rows": len(ent),
        "entropy": float(np.mean(ent)),
        "uniform_entropy": float(np.mean(uni)),
        "diagonal_share": float(np.mean(diag)),
        "diagonal_chance": float(np.mean(chance)),
        "row_sum_max_error": err,
    }


def run(quick: bool, out: Path) -> dict:
    run_dir, reused = _model_run(quick, out)
    loaded = load_run(run_dir, with_data=True)
    task, trained = loaded.task, loaded.model
    torch.manual_seed(1)  # the untrained twin: same architecture and vocabulary, random weights
    untrained = task.build_model().eval()
    test = task.data["test"]
    pick = [i for i in range(len(test.src)) if len(test.src[i]) >= 2][: 60 if quick else 1000]
    src, ref = [test.src[i] for i in pick], [test.tgt[i] for i in pick]
    stats = {
        "trained": _peakedness(_forced(trained, src, ref)),
        "untrained": _peakedness(_forced(untrained, src, ref)),
    }

    panels, examples = [], []
    for text in SENTENCES:
        try:
            (ids,), (toks,) = task.encode_source([text])
        except UserError:  # every word unknown (quick mode's small vocabulary): nothing to align
            continue
        s, s_len = pad_batch([ids])
        (hyp,) = decode.greedy(trained, s, s_len)
        ended = hyp.attention is not None and len(hyp.attention) > len(hyp.tokens)
        words = task.tgt_codec.vocab.decode(hyp.tokens, strip_specials=False, stop_at_eos=True)
        labels = [*words, "</s>"] if ended else words
        a_trained, a_untrained = (
            _forced(m, [ids], [hyp.tokens])[0][: len(labels)] for m in (trained, untrained)
        )
        panels.append((a_trained, toks, labels, f"trained: {' '.join(toks)}"))
        panels.append((a_untrained, toks, labels, "same words, untrained model"))
        examples.append({"src": text, "hyp": " ".join(words)})
    # Column k holds sentence k: trained on top, untrained below.
    grid = [p for row in (panels[0::2], panels[1::2]) for p in row]
    plots.attention_panels(
        grid,
        out / "alignment.png",
        cols=max(1, len(examples)),
        title="Bahdanau attention: rows output tokens, columns source tokens; colour 0 (dark) to 1 (yellow)",
    )
    return {
        "quick": quick,
        "model": {
            "run": "attention-vs-length's Bahdanau run" if reused else "trained here",
            "hidden": loaded.recipe.model.hidden,
            "params": sum(p.numel() for p in trained.parameters()),
            "steps": json.loads((run_dir / "summary.json").read_text())["steps"],
        },
        "test_sentences": len(pick),
        "examples": examples,
        **stats,
    }


def reading(numbers: dict) -> str:
    t, u = numbers["trained"], numbers["untrained"]
    uniform = t["uniform_entropy"]
    parts = [
        f"On {numbers['test_sentences']} held-out sentences ({t['rows']} output rows, teacher-forced on the "
        f"reference), the trained model's attention has mean row entropy {t['entropy']:.2f} nats against "
        f"{u['entropy']:.2f} for the untrained model and {uniform:.2f} for a uniform map "
        f"({100 * t['entropy'] / uniform:.0f}% and {100 * u['entropy'] / uniform:.0f}% of uniform).",
    ]
    if t["entropy"] < u["entropy"]:
        parts.append(
            "Training makes the maps markedly more peaked; random initial weights give near-even maps."
        )
    else:
        parts.append("Here training has not made the maps more peaked than random weights do.")
    parts.append(
        f"The argmax lies within one position of the length-scaled diagonal for {100 * t['diagonal_share']:.0f}% "
        f"of trained rows vs {100 * u['diagonal_share']:.0f}% untrained ({100 * t['diagonal_chance']:.0f}% "
        "for a random position)."
    )
    if numbers["quick"]:
        parts.append(
            f"Quick run: the model trained for only {numbers['model']['steps']} steps on a small subset, so "
            "this checks the pipeline more than the claim."
        )
    parts.append(
        "What this does not show: low entropy means focused, not correct — the diagonal share is only a proxy "
        "for alignment quality (no gold word alignments exist for this corpus), spa→en is mostly monotone so a "
        "diagonal map is expected, and attention weights are not an explanation of which input caused the "
        "output."
    )
    return " ".join(parts)
