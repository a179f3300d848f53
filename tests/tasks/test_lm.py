"""Language models: sampling filters, cached == full generation, windows, and a loss that falls on real text."""

import json
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import REPO

from attnlab.data.windows import RandomWindows, SequentialWindows, scoring_windows
from attnlab.decode import filter_logits, sample_next
from attnlab.errors import UserError
from attnlab.models.lm import GPTConfig, GPTLanguageModel, RNNLanguageModel, RNNLMConfig
from attnlab.recipe import build_recipe
from attnlab.tasks.lm import LanguageModelTask, segments

# ------------------------------------------------------------------------------------------ sampling


def test_temperature_to_zero_is_greedy():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 50, generator=g) * 3
    for t in (1e-6, 1e-5):
        assert torch.equal(sample_next(logits, temperature=t, generator=g), logits.argmax(-1))
    # Just above the argmax shortcut, a tiny temperature still concentrates all mass on the argmax.
    spread = torch.arange(50.0).repeat(64, 1) + torch.rand(64, 50, generator=g) * 0.5
    picked = sample_next(spread, temperature=1e-3, generator=g)
    assert torch.equal(picked, spread.argmax(-1))


def test_top_k_never_leaves_the_k_best():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(8, 30, generator=g)
    allowed = logits.topk(5, dim=-1).indices
    for _ in range(200):
        tok = sample_next(logits, temperature=1.5, top_k=5, generator=g)
        assert bool((allowed == tok[:, None]).any(-1).all())


def test_top_p_never_leaves_the_nucleus():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(8, 30, generator=g) * 2
    p = 0.7
    probs = logits.softmax(-1)
    sorted_p, order = probs.sort(-1, descending=True)
    keep = (sorted_p.cumsum(-1) - sorted_p) < p  # the smallest prefix whose mass reaches p
    allowed = [set(order[i][keep[i]].tolist()) for i in range(8)]
    filtered = filter_logits(logits, top_p=p)
    for i in range(8):
        assert set(torch.isfinite(filtered[i]).nonzero().flatten().tolist()) == allowed[i]
    for _ in range(200):
        tok = sample_next(logits, top_p=p, generator=g)
        assert all(int(tok[i]) in allowed[i] for i in range(8))


# ------------------------------------------------------------------------------------------ caches


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_cached_transformer_equals_full_recomputation(positions):
    torch.manual_seed(0)
    model = GPTLanguageModel(
        GPTConfig(d_model=32, heads=4, layers=2, positional=positions, bias=True),
        vocab=40,
        block_size=24,
    ).eval()
    ids = torch.randint(4, 40, (2, 20))
    with torch.no_grad():
        full, _ = model(ids)
        state = model.init_state()
        out, state = model(ids[:, :7], state)  # prompt prefill, then one token at a time
        steps = [out]
        for t in range(7, 20):
            out, state = model(ids[:, t : t + 1], state)
            steps.append(out)
    cached = torch.cat(steps, 1)
    assert state[0].length == 20
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=1e-5)
    # Greedy continuation token for token: cached decoding vs recomputing the whole prefix every step.
    with torch.no_grad():
        seq = ids[:1, :5]
        logits, st = model(seq, model.init_state())
        cached_tokens, recomputed = [], []
        for _ in range(15):
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            cached_tokens.append(int(nxt))
            full_logits, _ = model(seq)
            recomputed.append(int(full_logits[:, -1].argmax(-1)))
            torch.testing.assert_close(logits[:, -1], full_logits[:, -1], atol=1e-5, rtol=1e-5)
            seq = torch.cat([seq, nxt], 1)
            logits, st = model(nxt, st)
    assert cached_tokens == recomputed


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_carried_rnn_state_equals_full_recomputation(cell):
    torch.manual_seed(0)
    model = RNNLanguageModel(RNNLMConfig(cell=cell, embed_dim=16, hidden=24, layers=2), vocab=30).eval()
    ids = torch.randint(4, 30, (3, 25))
    with torch.no_grad():
        full, _ = model(ids)
        out, state = model(ids[:, :10])
        parts = [out]
        for t in range(10, 25):
            out, state = model(ids[:, t : t + 1], state)
            parts.append(out)
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=1e-5, rtol=1e-5)


def test_transformer_refuses_positions_past_its_context():
    model = GPTLanguageModel(GPTConfig(d_model=16, heads=2, layers=1), vocab=10, block_size=8)
    with pytest.raises(ValueError, match="context"):
        model(torch.zeros(1, 9, dtype=torch.long))


# ------------------------------------------------------------------------------------------ data


def test_random_windows_are_fixed_by_seed_and_step():
    data = torch.arange(1000)
    a, b = RandomWindows(data, 16, 4, 10, seed=3, epoch=2), RandomWindows(data, 16, 4, 10, seed=3, epoch=2)
    assert torch.equal(a[7]["x"], b[7]["x"])
    assert not torch.equal(a[7]["x"], a[8]["x"])
    x, y = a[0]["x"], a[0]["y"]
    assert torch.equal(y[:, :-1], x[:, 1:]) and torch.equal(y[:, -1], x[:, -1] + 1)
    assert int(x.max()) < 1000 and int(y.max()) <= 999


def test_sequential_windows_cover_the_text_with_the_stride():
    data = torch.arange(101)
    w = SequentialWindows(data, 10, 3, 10, seed=0, epoch=0)
    starts = sorted(int(w[i]["x"][r, 0]) for i in range(len(w)) for r in range(w[i]["x"].size(0)))
    assert starts == list(range(0, 91, 10))


@given(st.integers(0, 300), st.integers(1, 40), st.integers(1, 50))
def test_scoring_windows_score_every_target_once_with_the_promised_context(n, block, stride):
    seen = []
    for i, (start, length, keep) in enumerate(scoring_windows(n, block, stride)):
        assert 1 <= keep <= length <= block and start >= 0 and start + length <= n
        scored = range(start + length - keep, start + length)
        seen += scored
        if i > 0:  # every target after the first window has >= block - stride tokens before it
            assert scored[0] - start >= block - min(stride, block)
    assert seen == list(range(n))


def test_sliding_evaluation_equals_scoring_each_token_after_its_own_context(tmp_path, data_root):
    """eval_stride 1 scores target j from exactly the block_size tokens before it: check one by one."""
    torch.manual_seed(0)
    task = _task(tmp_path, "lstm", block_size=12, eval_stride=1)
    model = task.build_model().eval()
    ids = task.ids["valid"][:80]
    total, count = task.nats(model, ids)
    expected = 0.0
    with torch.no_grad():
        for j in range(len(ids) - 1):  # target ids[j + 1] given ids[max(0, j - 11) : j + 1]
            x = ids[max(0, j - 11) : j + 1][None]
            logits, _ = model(x)
            expected -= float(torch.log_softmax(logits[0, -1], -1)[ids[j + 1]])
    assert count == len(ids) - 1 and total == pytest.approx(expected, rel=1e-5)
    task.recipe.data.eval_stride = None  # consecutive windows: the first token of each has no context
    consecutive, same_count = task.nats(model, ids)
    assert same_count == count and consecutive > total


def test_segments():
    assert segments("One. Two!\nThree?  Four", "sentence") == ["One.", "Two!", "Three?", "Four"]
    assert segments("a b\n\n c \n", "line") == ["a b", "c"]


# ------------------------------------------------------------------------------------------ task


def _task(tmp_path, arch="transformer", **data):
    raw = {
        "task": "lm",
        "data": {
            "dataset": "tinyshakespeare",
            "limit_chars": 30000,
            "block_size": 32,
            "eval_batch_size": 32,
            **data,
        },
        "model": {
            "arch": arch,
            **(
                {"d_model": 48, "heads": 4, "layers": 2}
                if arch == "transformer"
                else {}
                if arch == "ngram"
                else {"hidden": 64, "embed_dim": 32}
            ),
        },
        "train": {"batch_size": 16, "lr": 3e-3, "optimizer": "adamw", "threads": 1, "device": "cpu"},
    }
    task = LanguageModelTask(build_recipe(raw), tmp_path)
    task.prepare(write=True)
    return task


def test_split_is_train_then_valid_then_test(tmp_path, data_root):
    """nanoGPT's first 90% trains; the last 10% is cut in two: valid chooses, test (the end) reports."""
    task = _task(tmp_path)
    t = task.texts
    assert len(t["valid"]) == len(t["test"]) == 1500 and len(t["train"]) == 27000
    assert (
        t["train"] + t["valid"] + t["test"] == (data_root / "tinyshakespeare/input.txt").read_text()[:30000]
    )
    record = json.loads((tmp_path / "split.json").read_text())
    assert record["valid"] == [27000, 28500] and record["test"] == [28500, 30000]
    assert (tmp_path / "codec.json").is_file()


def test_a_run_split_by_an_older_attnlab_is_refused(tmp_path, data_root):
    """A split.json without the current version (test = valid before) must not be scored as a test."""
    _task(tmp_path)
    record = json.loads((tmp_path / "split.json").read_text())
    del record["version"]
    (tmp_path / "split.json").write_text(json.dumps(record))
    with pytest.raises(UserError, match="older attnlab.*attnlab train .*config.yaml --out"):
        _task(tmp_path)


@pytest.mark.parametrize("arch", ["transformer", "lstm"])
def test_tiny_char_lm_loss_falls_on_real_text(tmp_path, data_root, arch):
    from attnlab.train.trainer import Trainer

    torch.manual_seed(0)
    task = _task(tmp_path, arch)
    model = task.build_model()
    before = task.evaluate(model)["loss"]
    task.recipe.train.max_steps = 80
    task.recipe.train.eval_every = 80
    Trainer(task, model, task.recipe.train, tmp_path, progress=False).fit()
    after = task.evaluate(model)
    assert after["loss"] < before - 0.8, (before, after)
    assert after["bpc"] == pytest.approx(after["loss"] / math.log(2), rel=1e-6)
    assert after["ppl"] == pytest.approx(math.exp(after["loss"]), rel=1e-6)


def test_generation_is_seeded_and_rejects_unknown_prompts(tmp_path, data_root):
    task = _task(tmp_path)
    model = task.build_model().eval()
    a = task.generate(model, "ROMEO:", length=50, seed=4, top_k=10)
    assert a == task.generate(model, "ROMEO:", length=50, seed=4, top_k=10) and len(a) == 50
    assert len(task.generate(model, "", length=40, temperature=0)) == 40  # empty prompt: from a newline
    assert len(task.generate(model, "x" * 100, length=5)) == 5  # longer than the context: truncated
    with pytest.raises(UserError, match="vocabulary"):
        task.generate(model, "жжж", length=5)
    with pytest.raises(UserError, match="temperature"):
        task.generate(model, "a", length=5, temperature=-1)


def test_ngram_task_scores_and_generates(tmp_path, data_root):
    from attnlab.runs import fit

    task = _task(tmp_path, "ngram", tokenizer="word", lowercase=True, segment="line")
    result = fit(task)
    lm, path = task.load_fitted()
    assert path.name == "ngram.json" and result.state.best > 1 and result.stopped == "fitted"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["best"] == result.state.best and summary["metric"] == "ppl" and summary["vocab"] > 100
    factors, logprob = task.score(lm, "I am the zyzzyva")
    assert [f[0] for f in factors] == ["i", "am", "the", "<unk>", "</s>"]
    assert factors[1][1] == "<s> i"  # trigram: the two previous tokens
    assert logprob == pytest.approx(sum(math.log(p) for _, _, p in factors))
    rep = task.report(lm, split="valid")
    assert rep["ppl"] == pytest.approx(math.exp(rep["loss"]))
    text = task.generate(lm, "", length=30, seed=1)
    assert text and text == task.generate(lm, "", length=30, seed=1)


def test_explain_gives_a_causal_map_that_matches_the_cached_generation(tmp_path, data_root):
    """The explorer's LM view: a seeded continuation (the same as `generate`) and per-layer maps that are
    causal (nothing above the diagonal) rows of probabilities over prompt + output."""
    from attnlab.explain import check_explained

    task = _task(tmp_path)
    model = task.build_model().eval()
    data = check_explained(task.explain(model, "ROMEO:", length=20, seed=3, temperature=1.0))
    assert data["result"]["text"] == task.generate(model, "ROMEO:", length=20, seed=3, temperature=1.0)
    (m,) = data["attention"]
    w = torch.tensor(m["layers"])  # (layers, heads, T, T)
    assert w.shape[:2] == (2, 4) and w.shape[2] == w.shape[3] == len(m["k_tokens"]) == 26
    assert torch.allclose(w.sum(-1), torch.ones(w.shape[:3]), atol=1e-3)
    assert torch.triu(w, diagonal=1).abs().max() == 0
    with pytest.raises(UserError, match="unknown option"):
        task.explain(model, "ROMEO:", beam=2)
    with pytest.raises(UserError, match="length"):
        task.explain(model, "ROMEO:", length=10_000)


@pytest.mark.parametrize(
    "recipe, shrink",
    [
        ("lm-nietzsche-word-lstm", ["model.embed_dim=64", "model.hidden=64"]),
        ("lm-nietzsche-char-gpt", ["model.d_model=48", "model.layers=2", "data.block_size=32"]),
        ("lm-shakespeare-subword-gpt", ["model.d_model=48", "model.layers=2", "data.subword_vocab=300"]),
    ],
)
def test_word_char_and_subword_recipes_learn_on_their_corpus(tmp_path, data_root, recipe, shrink):
    """The word LSTM, the Nietzsche GPT and the subword GPT recipes, shrunk: loss falls by over 20%
    within 60 steps on the first 60k characters, and bits per character are computed per character."""
    from attnlab.recipe import load_recipe
    from attnlab.train.trainer import Trainer

    torch.manual_seed(0)
    sets = [*shrink, "data.limit_chars=60000", "data.eval_tokens=null", "train.threads=1", "train.device=cpu"]
    sets += ["train.max_steps=60", "train.eval_every=60", "train.batch_size=16", "train.warmup=10"]
    rec = load_recipe(REPO / "recipes" / f"{recipe}.yaml", sets)
    task = LanguageModelTask(rec, tmp_path)
    task.prepare(write=True)
    model = task.build_model()
    before = task.evaluate(model)["loss"]
    Trainer(task, model, rec.train, tmp_path, progress=False).fit()
    after = task.evaluate(model)
    assert after["loss"] < 0.8 * before, (before, after)  # from ~ln(vocabulary) to well below it
    chars_per_token = after["loss"] / math.log(2) / after["bpc"]
    expected = {"word": (4.0, 8.0), "char": (1.0, 1.0), "subword": (2.0, 6.0)}[rec.data.tokenizer]
    assert expected[0] <= chars_per_token <= expected[1], chars_per_token
