"""TensorBoard scalars from the one trainer, read back with TensorBoard's own EventAccumulator: the values of
metrics.jsonl at its steps, for an RNN seq2seq and a Transformer LM; the gradient norm is the one before
clipping; off with train.tensorboard=false; a resumed run continues the same steps (the interrupted run's
steps past the checkpoint hidden); a directory that cannot be written costs one warning, not the run."""

import json
import os

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tests.conftest import REPO
from tests.train.helpers import make_trainer

from attnlab.recipe import load_recipe
from attnlab.tasks import get_task
from attnlab.train import checkpoint as ckpt

RNN = REPO / "recipes" / "translate-spa-eng-bahdanau.yaml"
BABY = REPO / "recipes" / "lm-shakespeare-char-baby.yaml"
TINY = [
    "data.limit=400",
    "model.hidden=32",
    "model.embed_dim=16",
    "train.batch_size=16",
    "data.valid_bleu_sentences=10",
    "train.max_minutes=null",
    "train.amp=none",
    # Deterministic forward passes, so a step's gradient can be recomputed by hand below.
    "model.dropout=0.0",
    "model.teacher_forcing=1.0",
]
TRAIN_TAGS = {"train/loss", "train/lr", "train/tokens_per_s", "train/grad_norm"}


@pytest.fixture(scope="module")
def task(tmp_path_factory, data_root):
    os.environ.setdefault("ATTNLAB_DATA", str(data_root))
    recipe = load_recipe(RNN, TINY)
    t = get_task("translation")(recipe, tmp_path_factory.mktemp("codecs"))
    t.prepare(write=True)
    return t


_trainer = make_trainer


def _scalars(run_dir) -> dict[str, list[tuple[int, float]]]:
    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0})  # 0: keep every event
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _records(run_dir, split):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["split"] == split]


def _assert_matches_metrics(run_dir, scalars):
    """Every train/* and valid/* scalar is metrics.jsonl's value at the same step (float32 in the file)."""
    train, valid = _records(run_dir, "train"), _records(run_dir, "valid")
    assert train and valid
    for name in ("loss", "lr", "tokens_per_s", "grad_norm"):
        assert [s for s, _ in scalars[f"train/{name}"]] == [r["step"] for r in train], name
        for (_, got), r in zip(scalars[f"train/{name}"], train, strict=True):
            assert got == pytest.approx(r[name], rel=1e-6), (name, r["step"])
    metric_names = set(valid[0]) - {"step", "epoch", "split", "seconds"}
    assert {t for t in scalars if t.startswith("valid/")} == {f"valid/{m}" for m in metric_names}
    for name in metric_names:
        assert [s for s, _ in scalars[f"valid/{name}"]] == [r["step"] for r in valid], name
        for (_, got), r in zip(scalars[f"valid/{name}"], valid, strict=True):
            assert got == pytest.approx(r[name], rel=1e-6), (name, r["step"])


def test_rnn_run_writes_the_metrics_of_metrics_jsonl(task, tmp_path):
    result = _trainer(task, tmp_path, max_steps=6, log_every=2, eval_every=3, metric="bleu").fit()
    assert result.state.step == 6
    scalars = _scalars(tmp_path)
    assert set(scalars) >= TRAIN_TAGS and {"valid/loss", "valid/bleu", "valid/chrf"} <= set(scalars)
    assert [s for s, _ in scalars["train/loss"]] == [2, 4, 6]
    assert [s for s, _ in scalars["valid/bleu"]] == [3, 6]
    _assert_matches_metrics(tmp_path, scalars)
    assert all(r["seconds"] > 0 for r in _records(tmp_path, "train") + _records(tmp_path, "valid"))


def _first_step_norm(task, cfg_seed) -> float:
    """The global gradient norm of step 1, recomputed outside the trainer."""
    torch.manual_seed(cfg_seed)
    model = task.build_model()
    model.train()
    batch = task.train_batches(0)[0]
    (task.loss(model, batch) / batch.units).backward()
    grads = [p.grad.flatten() for p in model.parameters() if p.grad is not None]
    return float(torch.cat(grads).norm())


@pytest.mark.parametrize("clip", [1e-3, None], ids=["clipped", "no-clip"])
def test_grad_norm_is_the_norm_before_clipping(task, tmp_path, clip):
    expected = _first_step_norm(task, task.recipe.train.seed)
    assert expected > 1e-2  # so clip=1e-3 really clips: the logged norm must be the one before it
    _trainer(task, tmp_path, max_steps=1, log_every=1, eval_every=1, clip=clip, metric="loss").fit()
    ((step, logged),) = _scalars(tmp_path)["train/grad_norm"]
    assert step == 1 and logged == pytest.approx(expected, rel=1e-4)
    assert _records(tmp_path, "train")[0]["grad_norm"] == pytest.approx(expected, rel=1e-4)


def test_grad_norm_is_averaged_since_the_last_log_line(task, tmp_path):
    _trainer(task, tmp_path / "every", max_steps=4, log_every=1, eval_every=4, metric="loss").fit()
    _trainer(task, tmp_path / "pairs", max_steps=4, log_every=2, eval_every=4, metric="loss").fit()
    each = [v for _, v in _scalars(tmp_path / "every")["train/grad_norm"]]
    pairs = _scalars(tmp_path / "pairs")["train/grad_norm"]
    assert [s for s, _ in pairs] == [2, 4]
    assert [v for _, v in pairs] == pytest.approx([(each[0] + each[1]) / 2, (each[2] + each[3]) / 2])


def test_tensorboard_false_writes_no_tb(task, tmp_path):
    _trainer(task, tmp_path, max_steps=2, log_every=1, eval_every=2, metric="loss", tensorboard=False).fit()
    assert not (tmp_path / "tb").exists()
    assert len(_records(tmp_path, "train")) == 2  # the rest of the logging is unchanged


def test_resumed_run_continues_the_same_steps(task, tmp_path):
    """Steps 1-8 with checkpoints at 4 and 8, then a resume from step 4 (as if the run had died after
    logging step 8 but only checkpointed step 4) with another learning rate, to step 10: TensorBoard holds
    each step once, the resumed run's values from step 5 on, in two event files of the one folder."""
    first = _trainer(task, tmp_path, max_steps=8, log_every=1, eval_every=4, lr=1e-3, metric="loss")
    first.fit()
    resumed = _trainer(task, tmp_path, max_steps=10, log_every=1, eval_every=4, lr=5e-4, metric="loss")
    at4 = tmp_path / "checkpoints" / "step-00000004"
    assert at4 in ckpt.list_checkpoints(tmp_path / "checkpoints")
    resumed.resume(at4)
    assert resumed.state.step == 4
    resumed.fit()
    assert len(list((tmp_path / "tb").glob("events.out.tfevents.*"))) == 2
    scalars = _scalars(tmp_path)
    assert [s for s, _ in scalars["train/loss"]] == list(range(1, 11))
    assert [v for _, v in scalars["train/lr"]] == pytest.approx([1e-3] * 4 + [5e-4] * 6)
    assert [s for s, _ in scalars["valid/loss"]] == [4, 8, 10]  # 10: the validation at max_steps
    _assert_matches_metrics(tmp_path, scalars)  # metrics.jsonl was cut back to step 4 the same way
    seconds = [r["seconds"] for r in _records(tmp_path, "train")]
    assert seconds == sorted(seconds)  # training time continues too


def test_unwritable_tb_costs_one_warning_not_the_run(task, tmp_path, capsys):
    (tmp_path / "tb").write_text("a file where the folder belongs")  # root ignores chmod; this stops it
    result = _trainer(task, tmp_path, max_steps=2, log_every=1, eval_every=2, metric="loss").fit()
    assert result.stopped == "max-steps" and len(_records(tmp_path, "train")) == 2
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "TensorBoard" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: TensorBoard logging is off"), err
    assert str(tmp_path / "tb") in warnings[0] and "Traceback" not in err


def test_a_write_failing_mid_run_stops_only_the_logging(task, tmp_path, capsys, monkeypatch):
    from torch.utils.tensorboard import SummaryWriter

    calls = []

    def failing(self, *args, **kwargs):
        calls.append(args[0])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(SummaryWriter, "add_scalar", failing)
    result = _trainer(task, tmp_path, max_steps=4, log_every=1, eval_every=2, metric="loss").fit()
    assert result.stopped == "max-steps" and len(_records(tmp_path, "train")) == 4
    assert len(calls) == 1  # after the first failure the logger is off: no retry at every step
    err = capsys.readouterr().err
    assert err.count("warning: TensorBoard logging is off") == 1 and "No space left" in err, err


def test_transformer_lm_run_through_the_cli(cli, tmp_path):
    """A char Transformer trained by `attnlab train` (TensorBoard on by default, the cosine schedule's lr
    changing every step)."""
    run = tmp_path / "baby"
    settings = [
        "train.max_steps=8",
        "train.eval_every=4",
        "train.log_every=2",
        "train.warmup=2",
        "data.eval_tokens=2000",
        "model.layers=1",
        "model.d_model=32",
    ]
    proc = cli("train", BABY, "--out", run, *[a for s in settings for a in ("--set", s)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    scalars = _scalars(run)
    assert set(scalars) >= TRAIN_TAGS and {"valid/loss", "valid/ppl", "valid/bpc"} <= set(scalars)
    assert [s for s, _ in scalars["train/loss"]] == [2, 4, 6, 8]
    assert [s for s, _ in scalars["valid/loss"]] == [4, 8]
    assert len({v for _, v in scalars["train/lr"]}) == 4  # warm-up then cosine: a new rate at every line
    _assert_matches_metrics(run, scalars)
