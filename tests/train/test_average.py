"""Checkpoint averaging: the mean of the last K checkpoints' weights, in a new run that every command uses."""

import json

import pytest
import torch
from tests.e2e.conftest import REPO, assert_user_error

from attnlab import runs
from attnlab.average import average_run, average_state
from attnlab.errors import UserError
from attnlab.recipe import load_recipe
from attnlab.train import checkpoint as ckpt

TINY = [
    "data.limit=600",
    "model.hidden=16",
    "model.embed_dim=8",
    "train.batch_size=32",
    "train.max_steps=8",
    "train.eval_every=2",
    "train.keep_checkpoints=3",
    "data.valid_bleu_sentences=0",
    "train.metric=loss",
    "train.threads=1",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data_root):
    import os

    os.environ.setdefault("ATTNLAB_DATA", str(data_root))
    out = tmp_path_factory.mktemp("avg") / "run"
    runs.train(load_recipe(REPO / "recipes" / "translate-spa-eng-bahdanau.yaml", TINY), out, progress=False)
    return out


def test_average_state_is_the_elementwise_mean_and_keeps_integer_buffers():
    a = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor([3])}
    b = {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor([5])}
    mean = average_state([a, b])
    assert mean["w"].tolist() == [2.0, 4.0] and mean["w"].dtype == torch.float32
    assert mean["n"].tolist() == [3]  # the newest one's
    with pytest.raises(UserError, match="different weights"):
        average_state([a, {"w": torch.zeros(3), "n": torch.tensor([1])}])


def test_averaged_run_holds_the_mean_of_the_newest_checkpoints(run_dir, tmp_path):
    kept = ckpt.list_checkpoints(run_dir / "checkpoints")
    assert [p.name for p in kept[:3]] == ["step-00000008", "step-00000006", "step-00000004"]
    dest, names = average_run(run_dir, tmp_path / "avg", last=3)
    assert names == [p.name for p in kept[:3]]
    states = [ckpt.load_checkpoint(p, trainer_state=False).model for p in kept[:3]]
    got = ckpt.load_checkpoint(dest, "best", trainer_state=False).model
    for name, value in got.items():
        expected = (states[0][name].double() + states[1][name].double() + states[2][name].double()) / 3
        torch.testing.assert_close(value, expected.float(), rtol=0, atol=1e-7)
    assert any(not torch.equal(got[k], states[0][k]) for k in got)  # really averaged, not copied
    # The new run is a complete run: same config and codecs, the model loads and evaluates; the original
    # run is untouched.
    assert (dest / "config.yaml").read_text() == (run_dir / "config.yaml").read_text()
    assert json.loads((dest / "averaged.json").read_text())["checkpoints"] == names
    loaded = runs.load_run(dest, with_data=True)
    assert loaded.task.evaluate(loaded.model, "valid")["loss"] > 0
    assert len(ckpt.list_checkpoints(run_dir / "checkpoints")) == len(kept)


def test_cli_average_and_its_user_errors(cli, run_dir, tmp_path):
    proc = cli("average", run_dir, "--last", "2", "--out", tmp_path / "two")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "mean of 2 checkpoints (step-00000008, step-00000006)" in proc.stdout
    proc = cli("translate", tmp_path / "two", "hola.")
    assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr[-2000:]
    assert_user_error(
        cli("average", run_dir, "--last", "2", "--out", tmp_path / "two"), "not an empty directory"
    )
    (tmp_path / "file").write_text("x")
    assert_user_error(
        cli("average", run_dir, "--last", "2", "--out", tmp_path / "file"), "not an empty directory"
    )
    assert_user_error(cli("average", run_dir, "--last", "1"), "at least 2")
    assert_user_error(cli("average", tmp_path / "nowhere"), "does not exist")
    assert_user_error(cli("average", run_dir, "--last", "5"), "keeps 3 recent", "keep_checkpoints=5")
    untrained = tmp_path / "untrained"
    untrained.mkdir()
    (untrained / "config.yaml").write_text((run_dir / "config.yaml").read_text())
    assert_user_error(cli("average", untrained), "no checkpoint to average")


def test_tied_transformer_averages_and_resumes_from_the_mean(tmp_path, data_root, monkeypatch):
    """Tied embeddings are stored once and must stay one tensor; --resume continues from the mean."""
    monkeypatch.setenv("ATTNLAB_DATA", str(data_root))
    recipe = REPO / "recipes" / "translate-spa-eng-transformer.yaml"
    tiny = [*TINY, "model.d_model=16", "model.heads=2", "model.d_ff=32", "model.layers=1", "train.warmup=2"]
    tiny = [t for t in tiny if not t.startswith(("model.hidden", "model.embed_dim"))]
    runs.train(load_recipe(recipe, tiny), tmp_path / "run", progress=False)
    dest, names = average_run(tmp_path / "run", tmp_path / "avg", last=2)
    model = runs.load_run(dest).model
    assert model.out.weight is model.tgt_embed.embedding.weight  # still one tensor
    stored = [
        ckpt.load_checkpoint(tmp_path / "run" / "checkpoints" / n, trainer_state=False).model for n in names
    ]
    (key,) = [k for k in stored[0] if k in ("out.weight", "tgt_embed.embedding.weight")]
    torch.testing.assert_close(model.out.weight.detach(), (stored[0][key] + stored[1][key]) / 2)
    result = runs.train(load_recipe(recipe, [*tiny, "train.max_steps=10"]), dest, resume=True, progress=False)
    assert result.state.step == 10 and names == ["step-00000008", "step-00000006"]
