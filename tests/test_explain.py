"""attnlab/explain.py: the one attention extraction of every model family, below tasks/ in the layering.

Tiny models: what is checked is that the maps are the weights the models used, with the right shapes and
labels, not what a well-trained model attends to."""

import ast
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnlab import explain as ex
from attnlab.data.batching import pad_batch
from attnlab.data.codec import Codec
from attnlab.data.vocab import Vocab
from attnlab.errors import UserError
from attnlab.models.classifier import TransformerClassifier, TransformerClassifierConfig
from attnlab.models.lm import GPTConfig, GPTLanguageModel
from attnlab.recipe import build_recipe
from attnlab.tasks.base import Task
from attnlab.tasks.translation import TranslationTask
from tests.conftest import REPO

PAIRS = [
    ("hola mundo", "hello world"),
    ("esta es mi vida", "this is my life"),
    ("hace mucho frio aqui", "it is very cold here"),
    ("mi casa es tu casa", "my house is your house"),
]


def _shape(m: dict) -> tuple[int, ...]:
    return np.asarray(m["layers"]).shape


@pytest.fixture(scope="module")
def translation(tmp_path_factory):
    """A TranslationTask with codecs of PAIRS and a 2-layer, 2-head Transformer fitted to them for 40 steps
    (an untrained one repeats one token, which would hide a map shifted by one step)."""
    recipe = build_recipe(
        {"task": "translation", "data": {"max_output_ratio": 1.0},
         "model": {"arch": "transformer", "d_model": 16, "layers": 2, "heads": 2, "d_ff": 32, "dropout": 0.0}}
    )  # fmt: skip
    task = TranslationTask(recipe, tmp_path_factory.mktemp("tf"))
    task.src_codec = Codec.build([s for s, _ in PAIRS])
    task.tgt_codec = Codec.build([t for _, t in PAIRS])
    torch.manual_seed(0)
    model = task.build_model()
    src, src_len = pad_batch([task.src_codec.encode(s) for s, _ in PAIRS])
    tgt = [task.tgt_codec.encode(t) for _, t in PAIRS]
    tgt_in, _ = pad_batch([[Vocab.BOS, *t] for t in tgt])
    tgt_out, _ = pad_batch([[*t, Vocab.EOS] for t in tgt])
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(40):
        logits, _ = model(src, src_len, tgt_in)
        loss = F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=Vocab.PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return task, model.eval()


@pytest.mark.parametrize("beam, hypothesis", [(1, 0), (3, 2)])
def test_transformer_maps_are_the_weights_the_search_used(translation, beam, hypothesis):
    """The cross-attention of the teacher-forced pass equals the rows the decoder computed while searching
    (Translation.attention, (T_out, layers, heads, S)), for greedy search and a beam's third hypothesis."""
    task, model = translation
    text = "esta es mi vida"
    t = task.translate(model, [text], beam=beam, n_best=hypothesis + 1)[0][hypothesis]
    data = ex.check_explained(
        task.explain(model, text, beam=beam, n_best=hypothesis + 1, hypothesis=hypothesis)
    )
    maps = {m["name"]: m for m in data["attention"]}
    assert list(maps) == ["encoder", "decoder", "cross"]
    searched = t.attention.permute(1, 2, 0, 3).numpy()  # (layers, heads, T_out, S)
    np.testing.assert_allclose(np.asarray(maps["cross"]["layers"]), searched, atol=1e-4)
    S, T = len(t.src_tokens), len(t.tgt_tokens)
    assert _shape(maps["encoder"]) == (2, 2, S, S) and _shape(maps["decoder"]) == (2, 2, T, T)
    assert maps["cross"]["q_tokens"] == t.tgt_tokens and maps["cross"]["k_tokens"] == t.src_tokens
    assert maps["decoder"]["k_tokens"] == [Vocab.SPECIALS[Vocab.BOS], *t.tgt_tokens[:-1]]
    assert np.allclose(np.triu(np.asarray(maps["decoder"]["layers"]), 1), 0)  # causal


class _Recorder(torch.nn.Module):
    """A seq2seq stand-in that records the decoder input and answers uniform maps."""

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))

    def attention_maps(self, src, src_len, tgt_in):
        self.tgt_in = tgt_in.tolist()
        s, t = src.size(1), tgt_in.size(1)
        uniform = lambda q, k: [torch.full((1, 3, q, k), 1.0 / k)]
        return {"encoder": uniform(s, s), "decoder": uniform(t, t), "cross": uniform(t, s)}


def test_the_decoder_starts_from_the_vocabulary_bos(monkeypatch):
    model = _Recorder()
    maps = ex.transformer_seq2seq_maps(model, [5, 6], [7, 8, Vocab.EOS], ["a", "b"], ["x", "y", "<eos>"])
    assert model.tgt_in == [[Vocab.BOS, 7, 8]]
    assert maps[1]["k_tokens"] == ["<bos>", "x", "y"] and [_shape(m) for m in maps] == [
        (1, 3, 2, 2),
        (1, 3, 3, 3),
        (1, 3, 3, 2),
    ]
    monkeypatch.setattr(Vocab, "BOS", 0)  # a vocabulary with another start id: no literal anywhere
    maps = ex.transformer_seq2seq_maps(model, [5, 6], [7], ["a", "b"], ["x"])
    assert model.tgt_in == [[0]] and maps[1]["k_tokens"] == ["<pad>"]


def test_rnn_pooling_encoder_and_causal_maps_match_their_tokens():
    torch.manual_seed(0)
    att = torch.softmax(torch.randn(4, 3), -1)  # RNN search: (T_out, S)
    (rnn,) = ex.rnn_seq2seq_maps(att, ["a", "b", "c"], ["w", "x", "y", "<eos>"])
    assert rnn["name"] == "rnn" and _shape(rnn) == (1, 1, 4, 3)
    assert ex.rnn_seq2seq_maps(None, ["a"], ["x"]) == []  # model.attention: none

    pooled = ex.pooling_map([0.25, 0.75], ["good", "film"])
    assert _shape(pooled) == (1, 1, 1, 2) and pooled["q_tokens"] == ["<pooled>"]
    cls = TransformerClassifier(
        TransformerClassifierConfig(d_model=16, heads=2, layers=3, d_ff=32), 20
    ).eval()
    (enc,) = ex.encoder_maps(cls, [5, 6, 7], ["a", "b", "c"])
    assert _shape(enc) == (3, 2, 4, 4) and enc["q_tokens"] == enc["k_tokens"] == ["<cls>", "a", "b", "c"]

    gpt = GPTLanguageModel(GPTConfig(16, 4, 2), 20, 8)  # d_model, heads, layers.eval()
    (dec,) = ex.causal_maps(gpt, [4, 5, 6, 7, 8], list("abcde"))
    w = np.asarray(dec["layers"])
    assert dec["name"] == "decoder" and w.shape == (2, 4, 5, 5) and np.allclose(np.triu(w, 1), 0)
    for maps in ([rnn], [pooled, enc], [dec]):
        ex.check_explained({"task": "t", "input": "", "result": {}, "attention": maps})
        assert all(np.allclose(np.asarray(m["layers"]).sum(-1), 1, atol=1e-3) for m in maps)


def test_a_task_without_a_view_says_so(tmp_path):
    class Bare(Task):
        name = "bare"

    with pytest.raises(UserError, match="task bare has no explorer view"):
        Bare(None, tmp_path).explain(None, "hello")


def test_explain_sits_below_tasks():
    """attnlab.explain loads nothing from tasks, runs, serve, viz or cli (or models); viz/ and tasks/
    import neither runs nor serve."""
    code = "import sys, attnlab.explain; print(' '.join(m for m in sys.modules if m.startswith('attnlab')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    allowed = ("attnlab.nn", "attnlab.data", "attnlab.decode", "attnlab.errors", "attnlab.fileio")
    assert all(m in ("attnlab", "attnlab.explain") or m.startswith(allowed) for m in loaded.split()), loaded
    for package, banned in (
        ("viz", ("attnlab.runs", "attnlab.serve")),
        ("tasks", ("attnlab.runs", "attnlab.serve")),
    ):
        for path in (REPO / "src" / "attnlab" / package).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
                assert not [n for n in names if n.startswith(banned)], f"{path.name} imports {names}"
