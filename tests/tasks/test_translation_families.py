"""Every seq2seq family the translation recipes use can memorise 64 real spa-eng pairs (BLEU >= 95).

A model that cannot overfit a single batch has a bug (a mask, a shift, a state that is not carried), so
this is the cheapest end-to-end check of each family through the task's own loss and `translate`
(greedy search, sacreBLEU on detokenised text): no-attention LSTM, Bahdanau GRU, BiGRU + bridge,
Luong dot / general / concat, and the Transformer.
"""

import time

import numpy as np
import pytest
import torch

from attnlab import metrics
from attnlab.data.codec import Codec
from attnlab.data.corpora import load_translation
from attnlab.recipe import build_recipe
from attnlab.tasks.translation import TranslationTask

RNN = {"arch": "rnn", "embed_dim": 48, "hidden": 96, "dropout": 0.0}
FAMILIES = {
    "noattn-lstm": {**RNN, "cell": "lstm", "attention": "none"},
    "bahdanau-gru": {**RNN, "cell": "gru", "attention": "bahdanau"},
    "bigru-bridge": {
        **RNN,
        "cell": "gru",
        "bidirectional": True,
        "attention": "bahdanau",
        "deep_output": True,
    },
    "luong-dot": {**RNN, "cell": "lstm", "attention": "luong-dot"},
    "luong-general": {**RNN, "cell": "lstm", "attention": "luong-general"},
    "luong-concat": {**RNN, "cell": "lstm", "attention": "luong-concat", "input_feeding": False},
    "transformer": {
        "arch": "transformer",
        "d_model": 64,
        "layers": 2,
        "heads": 4,
        "d_ff": 128,
        "dropout": 0.0,
    },
}
LR = {"transformer": 3e-3}


@pytest.fixture(scope="module")
def pairs(data_root):
    """64 real pairs, 4-8 words, with distinct sources (one source with two references cannot be memorised)."""
    corpus = load_translation("spa-eng", "es", "en")
    rows = corpus.get("all") or corpus["train"]
    rng = np.random.default_rng(0)
    seen, out = set(), []
    for i in rng.permutation(len(rows)):
        s, t = rows[i]
        key = s.lower()
        if 4 <= len(s.split()) <= 8 and len(t.split()) <= 8 and key not in seen:
            seen.add(key)
            out.append((s, t))
        if len(out) == 64:
            break
    return out


def _task(model: dict, tmp_path, pairs) -> TranslationTask:
    recipe = build_recipe(
        {
            "task": "translation",
            "data": {"dataset": "spa-eng", "src": "es", "tgt": "en"},
            "model": model,
            "train": {"clip": 1.0},
        }
    )
    task = TranslationTask(recipe, tmp_path)
    task.src_codec = Codec.build([s for s, _ in pairs], strip_accents=True)
    task.tgt_codec = Codec.build([t for _, t in pairs], strip_accents=True)
    task.data = {"train": task._encode(pairs, train=True)}
    return task


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_overfits_64_pairs(family, pairs, tmp_path):
    torch.manual_seed(0)
    task = _task(FAMILIES[family], tmp_path, pairs)
    assert len(task.data["train"].src) == 64
    model = task.build_model()
    batch = task._batch(task.data["train"], range(64))
    opt = torch.optim.Adam(model.parameters(), lr=LR.get(family, 1e-2))
    started = time.perf_counter()
    model.train()
    for step in range(600):
        loss = task.loss(model, batch) / batch.units
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if loss.item() < 0.01 and step % 10 == 0:
            break
    srcs = [s for s, _ in pairs]
    hyps = [n[0].text for n in task.translate(model, srcs)]
    bleu = metrics.bleu(hyps, [task.reference(t) for _, t in pairs])
    print(
        f"{family}: {step + 1} steps, loss {loss.item():.4f}, BLEU {bleu:.1f}, {time.perf_counter() - started:.1f}s"
    )
    assert bleu >= 95.0, list(zip(hyps, [task.reference(t) for _, t in pairs], strict=True))[:5]
