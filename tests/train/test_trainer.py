"""The training loop on a small real slice of spa-eng: it learns, stops for the right reasons, keeps good
checkpoints, and resumes exactly."""

import json
import os
import signal
import threading

import pytest
import torch
from tests.conftest import REPO
from tests.train.helpers import make_trainer

from attnlab.errors import UserError
from attnlab.recipe import load_recipe
from attnlab.tasks import get_task
from attnlab.train import checkpoint as ckpt
from attnlab.train.trainer import build_optimizer, describe_stop

RECIPE = REPO / "recipes" / "translate-spa-eng-bahdanau.yaml"
TINY = [
    "data.limit=400",
    "model.hidden=32",
    "model.embed_dim=16",
    "train.batch_size=16",
    "data.valid_bleu_sentences=20",
    "train.max_minutes=null",
    "train.log_every=1",
]


@pytest.fixture(scope="module")
def task(tmp_path_factory, data_root):
    os.environ.setdefault("ATTNLAB_DATA", str(data_root))
    recipe = load_recipe(RECIPE, [*TINY, "model.dropout=0.3", "model.teacher_forcing=0.5"])
    t = get_task("translation")(recipe, tmp_path_factory.mktemp("codecs"))
    t.prepare(write=True)
    return t


_trainer = make_trainer


def _records(run_dir, split="train"):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["split"] == split]


def test_loss_falls(task, tmp_path):
    result = _trainer(task, tmp_path, max_steps=30, lr=3e-3, metric="loss").fit()
    losses = [r["loss"] for r in _records(tmp_path)]
    assert result.stopped == "max-steps" and result.state.step == 30 and len(losses) == 30
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.5, losses
    assert (tmp_path / "checkpoints" / "latest").read_text().strip() == "step-00000030"
    assert "reached train.max_steps after 30 steps" in describe_stop(result)


def test_overfits_one_batch(task, tmp_path, monkeypatch):
    batch = task.train_batches(0)[0]
    monkeypatch.setattr(task, "train_batches", lambda epoch: [batch] * 80)
    monkeypatch.setattr(task, "evaluate", lambda model, split="valid": {"loss": 0.0})
    trainer = _trainer(task, tmp_path, epochs=1, lr=1e-2, metric="loss", log_every=10)
    trainer.model.cfg.dropout = 0.0
    trainer.model.dropout.p = 0.0
    trainer.model.cfg.teacher_forcing = 1.0
    trainer.fit()
    losses = [r["loss"] for r in _records(tmp_path)]
    assert losses[-1] < 0.5, losses


def test_early_stopping_with_patience(task, tmp_path, monkeypatch):
    values = iter([3.0, 2.0, 2.5, 2.1, 2.0, 1.0, 0.5])  # best at the 2nd evaluation, then 3 bad ones
    monkeypatch.setattr(task, "evaluate", lambda model, split="valid": {"loss": next(values)})
    result = _trainer(task, tmp_path, eval_every=2, patience=3, metric="loss").fit()
    assert result.stopped == "early-stop"
    assert result.state.step == 10 and result.state.best == 2.0 and result.state.best_step == 4
    assert len(_records(tmp_path, "valid")) == 5
    root = tmp_path / "checkpoints"
    assert (root / "best").read_text().strip() == "step-00000004"
    assert ckpt.load_checkpoint(tmp_path, "best").meta["state"]["step"] == 4
    # Resuming a run that stopped early takes no further step.
    again = _trainer(task, tmp_path, eval_every=2, patience=3, metric="loss")
    again.resume()
    assert again.fit().stopped == "early-stop" and again.state.step == 10


def test_time_budget_stops_with_a_checkpoint_and_resumes(task, tmp_path):
    result = _trainer(task, tmp_path, max_minutes=1e-9, metric="loss").fit()
    assert result.stopped == "budget" and result.state.step == 1
    assert "time budget" in describe_stop(result)
    loaded = ckpt.load_checkpoint(tmp_path)
    assert loaded.path.name == "step-00000001" and loaded.meta["state"]["position"] == 1
    more = _trainer(task, tmp_path, max_steps=3, metric="loss")
    more.resume()
    assert more.state.step == 1
    assert more.fit().stopped == "max-steps" and more.state.step == 3


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_nan_loss_is_a_user_error_and_the_last_checkpoint_survives(task, tmp_path, monkeypatch, bad):
    real, calls = task.loss, []

    def loss(model, batch):
        calls.append(1)
        value = real(model, batch)
        return value * float(bad) if len(calls) == 5 else value  # the loss is positive: * inf is inf

    monkeypatch.setattr(task, "loss", loss)
    trainer = _trainer(task, tmp_path, checkpoint_every=2, metric="loss")
    with pytest.raises(UserError) as err:
        trainer.fit()
    msg = str(err.value)
    assert f"{bad} at step 5" in msg and str(tmp_path / "checkpoints") in msg and "--resume" in msg
    loaded = ckpt.load_checkpoint(tmp_path)
    assert loaded.path.name == "step-00000004"
    # The bad step touched neither the checkpoint nor the weights in memory.
    own = trainer.model.state_dict()
    assert all(torch.isfinite(v).all() for v in own.values())
    assert all(torch.equal(own[k], v) for k, v in loaded.model.items())
    model = task.build_model()
    ckpt.load_weights(model, loaded.model, loaded.path)


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals need the main thread"
)
def test_ctrl_c_stops_cleanly_with_a_checkpoint(task, tmp_path, monkeypatch):
    real, calls = task.loss, []

    def loss(model, batch):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return real(model, batch)

    monkeypatch.setattr(task, "loss", loss)
    before = signal.getsignal(signal.SIGINT)
    result = _trainer(task, tmp_path, metric="loss").fit()
    assert result.stopped == "interrupted" and result.state.step == 3
    assert ckpt.load_checkpoint(tmp_path).path.name == "step-00000003"
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize("decay", [0.0, 0.01], ids=["one-group", "decay-groups"])
def test_resume_in_process_is_exact(task, tmp_path, decay):
    """Stop at step 7 (mid-epoch, between checkpoints), resume to 20: same weights as 20 steps straight
    (with weight decay the optimizer has two parameter groups; both round-trip)."""
    kw = dict(checkpoint_every=3, metric="loss", log_every=2, optimizer="adamw", weight_decay=decay)
    a = _trainer(task, tmp_path / "a", max_steps=20, **kw)
    a.fit()
    b = _trainer(task, tmp_path / "b", max_steps=7, **kw)
    b.fit()
    torch.rand(10)  # whatever happens in between must not matter
    b2 = _trainer(task, tmp_path / "b", max_steps=20, **kw)
    b2.resume()
    assert (b2.state.step, b2.state.position) == (7, 7)
    b2.fit()
    assert b2.state.step == 20 and b2.state.epoch == a.state.epoch and b2.state.position == a.state.position
    for (k, x), y in zip(a.model.state_dict().items(), b2.model.state_dict().values(), strict=True):
        assert torch.equal(x, y), k
    assert [r["loss"] for r in _records(tmp_path / "a")] == [r["loss"] for r in _records(tmp_path / "b")]


def test_weight_decay_skips_biases_and_layernorm_gains():
    """AdamW with decay 0.1 and a zero gradient: matrices shrink by lr * decay, vectors stay as they were."""
    from attnlab.config import TrainConfig

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = build_optimizer(model.parameters(), TrainConfig(optimizer="adamw", lr=0.5, weight_decay=0.1))
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for name, p in model.named_parameters():
        expected = before[name] * (1 - 0.5 * 0.1) if p.dim() >= 2 else before[name]
        torch.testing.assert_close(p.detach(), expected, msg=name)
    one_group = build_optimizer(model.parameters(), TrainConfig(optimizer="adam", weight_decay=0.0))
    assert len(one_group.param_groups) == 1  # no decay: the optimizer state keeps its simple layout


@pytest.mark.parametrize(
    "cuda, mps, rank, expected",
    [(True, True, "1", "cuda:1"), (False, True, "0", "mps"), (False, False, "0", "cpu")],
)
def test_device_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, rank, expected):
    """--device auto: CUDA (this process's LOCAL_RANK under torchrun), else Apple's MPS, else the CPU; an
    explicit device that is not there is a one-line error."""
    from attnlab.train.trainer import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    monkeypatch.setenv("LOCAL_RANK", rank)
    assert str(resolve_device("auto")) == expected
    if not cuda:
        with pytest.raises(UserError, match="no CUDA GPU"):
            resolve_device("cuda")
    if not mps:
        with pytest.raises(UserError, match="MPS is not available"):
            resolve_device("mps")


def test_resume_with_other_parameter_groups_is_a_user_error(task, tmp_path):
    """Resuming a weight-decay run without decay (two optimizer groups -> one) says what to do."""
    _trainer(task, tmp_path, max_steps=3, checkpoint_every=3, metric="loss", weight_decay=0.01).fit()
    other = _trainer(task, tmp_path, max_steps=6, metric="loss", weight_decay=0.0)
    with pytest.raises(UserError, match="other optimizer parameter groups.*train.weight_decay"):
        other.resume()
    changed = _trainer(task, tmp_path, max_steps=6, metric="loss", weight_decay=0.05)
    changed.resume()  # same layout, new value: the recipe's value is the one used from here on
    assert [g["weight_decay"] for g in changed.optimizer.param_groups] == [0.05, 0.0]


def test_token_loss_is_masked_and_label_smoothed(task, monkeypatch):
    """The translation loss: summed over real target tokens only (padding id 0 ignored), each token's
    cross-entropy mixed with the uniform distribution by train.label_smoothing (Szegedy et al., 2016)."""
    torch.manual_seed(0)
    model = task.build_model().eval()
    batch = task.train_batches(0)[0]
    eps = 0.1
    monkeypatch.setattr(task.recipe.train, "label_smoothing", eps)
    with torch.no_grad():
        got = task.loss(model, batch)
        logits, _ = model(batch["src"], batch["src_len"], batch["tgt_in"])
    logp = logits.float().log_softmax(-1)
    target = batch["tgt_out"]
    real = target != 0
    nll = -logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    expected = ((1 - eps) * nll + eps * -logp.mean(-1))[real].sum()
    assert int((~real).sum()) > 0  # the batch has padding, so the mask is exercised
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-4)
