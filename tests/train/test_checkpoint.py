"""Checkpoints: exact round trip, tied weights, corruption and interrupted writes, and no unpickling ever."""

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from attnlab.errors import UserError
from attnlab.train import checkpoint as ckpt


class Tied(nn.Module):
    """An embedding and an output layer sharing one Parameter (weight tying)."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(11, 6)
        self.mid = nn.Linear(6, 6)
        self.out = nn.Linear(6, 11, bias=False)
        self.out.weight = self.emb.weight

    def forward(self, x):
        return self.out(torch.tanh(self.mid(self.emb(x))))


def _trained(steps=3):
    model = Tied()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = model(torch.randint(0, 11, (4, 5))).logsumexp(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, opt


def _save(root, step, model, opt, **kw):
    tensors, opt_meta = ckpt.optimizer_state_to_flat(opt.state_dict())
    tensors.update(ckpt.rng_state())
    meta = {"state": {"step": step, "epoch": 0, "position": step}, "optimizer": opt_meta}
    return ckpt.save_checkpoint(root, step, model, tensors=tensors, meta=meta, **kw)


def _restore(path):
    loaded = ckpt.load_checkpoint(path)
    model = Tied()
    ckpt.load_weights(model, loaded.model, loaded.path)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    opt.load_state_dict(ckpt.optimizer_state_from_flat(loaded.tensors, loaded.meta["optimizer"]))
    return loaded, model, opt


@pytest.fixture
def no_unpickling(monkeypatch):
    """Fail loudly if anything tries to unpickle while loading."""

    def refuse(*a, **k):
        raise AssertionError("a checkpoint load tried to unpickle")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)


def test_round_trip_is_exact(tmp_path, no_unpickling):
    model, opt = _trained()
    path = _save(tmp_path, 7, model, opt)
    expected_next = torch.rand(5)  # what the generator yields right after the save
    torch.rand(100)  # move it on
    loaded, model2, opt2 = _restore(tmp_path)
    assert loaded.path == path and path.name == "step-00000007"
    assert (tmp_path / "latest").read_text().strip() == "step-00000007"
    for (k, a), (k2, b) in zip(model.state_dict().items(), model2.state_dict().items(), strict=True):
        assert k == k2 and a.dtype == b.dtype and torch.equal(a, b), k
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    assert s1["state"].keys() == s2["state"].keys()
    for pid in s1["state"]:
        for key, value in s1["state"][pid].items():
            assert torch.equal(value, s2["state"][pid][key]), (pid, key)
    ckpt.set_rng_state(loaded.tensors)
    assert torch.equal(torch.rand(5), expected_next)
    assert loaded.meta["state"] == {"step": 7, "epoch": 0, "position": 7}
    # The restored optimizer continues exactly like the original.
    x = torch.randint(0, 11, (4, 5))
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        m(x).logsumexp(-1).mean().backward()
        o.step()
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), model2.parameters(), strict=True))


def test_tied_weights_are_saved_once_and_stay_tied(tmp_path):
    model, opt = _trained()
    _save(tmp_path, 1, model, opt)
    loaded = ckpt.load_checkpoint(tmp_path)
    assert len({"emb.weight", "out.weight"} & set(loaded.model)) == 1  # stored once
    fresh = Tied()
    ckpt.load_weights(fresh, loaded.model, loaded.path)
    assert fresh.out.weight is fresh.emb.weight
    assert torch.equal(fresh.emb.weight, model.emb.weight) and torch.equal(fresh.mid.bias, model.mid.bias)


def test_wrong_model_is_a_user_error(tmp_path):
    model, opt = _trained()
    _save(tmp_path, 1, model, opt)
    loaded = ckpt.load_checkpoint(tmp_path)
    with pytest.raises(UserError, match="does not match the model"):
        ckpt.load_weights(nn.Linear(6, 6), loaded.model, loaded.path)
    other = Tied()
    other.mid = nn.Linear(6, 6, bias=True)
    other.emb = nn.Embedding(12, 6)
    other.out.weight = other.emb.weight
    with pytest.raises(UserError, match="wrong shape"):
        ckpt.load_weights(other, dict(loaded.model), loaded.path)


@pytest.mark.parametrize("name", ["model.safetensors", "trainer.safetensors", "trainer.json"])
@pytest.mark.parametrize("damage", ["truncate", "bitflip"])
def test_corrupt_file_is_refused_naming_file_and_previous(tmp_path, name, damage, no_unpickling):
    model, opt = _trained()
    _save(tmp_path, 5, model, opt)
    good = {k: v.clone() for k, v in model.state_dict().items()}
    _trained(1)
    latest = _save(tmp_path, 10, model, opt)
    target = latest / name
    data = bytearray(target.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(UserError) as err:
        ckpt.load_checkpoint(tmp_path)
    msg = str(err.value)
    assert "\n" not in msg
    assert str(target) in msg
    assert ("truncated" if damage == "truncate" else "corrupt") in msg
    assert "previous checkpoint" in msg and "step-00000005" in msg
    # The previous checkpoint named in the message still loads.
    loaded, restored, _ = _restore(tmp_path / "step-00000005")
    assert all(torch.equal(good[k], v) for k, v in restored.state_dict().items())
    assert loaded.meta["state"]["step"] == 5


def test_corrupt_only_checkpoint_says_none_is_left(tmp_path):
    model, opt = _trained()
    path = _save(tmp_path, 3, model, opt)
    (path / "model.safetensors").write_bytes(b"")
    with pytest.raises(UserError, match="no older checkpoint"):
        ckpt.load_checkpoint(tmp_path)
    (path / "manifest.json").write_text("{not json")
    with pytest.raises(UserError, match="manifest.json is corrupt"):
        ckpt.load_checkpoint(tmp_path)
    (path / "manifest.json").write_text(json.dumps({"format": "other/9"}))
    with pytest.raises(UserError, match="unknown format"):
        ckpt.load_checkpoint(tmp_path)
    (path / "manifest.json").unlink()
    with pytest.raises(UserError, match="no manifest.json"):
        ckpt.load_checkpoint(tmp_path)
    with pytest.raises(UserError, match="no checkpoint in"):
        ckpt.load_checkpoint(tmp_path / "empty")


def _fails_midway(monkeypatch, target):
    """Make the checkpoint writer die at `target`: 'weights' (while writing model.safetensors) or 'rename'."""
    if target == "weights":
        real = ckpt.st_save_model

        def half_then_die(model, filename, *a, **k):
            real(model, filename, *a, **k)
            Path(filename).write_bytes(Path(filename).read_bytes()[:100])
            raise OSError("disk full")

        monkeypatch.setattr(ckpt, "st_save_model", half_then_die)
    else:
        real_replace = os.replace

        def replace(src, dst):
            if Path(src).is_dir():
                raise OSError("killed before the rename")
            return real_replace(src, dst)

        monkeypatch.setattr(ckpt.os, "replace", replace)


@pytest.mark.parametrize("target", ["weights", "rename"])
def test_interrupted_write_keeps_latest_on_previous(tmp_path, monkeypatch, target):
    model, opt = _trained()
    _save(tmp_path, 4, model, opt)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    _trained(1)
    with monkeypatch.context() as m:
        _fails_midway(m, target)
        with pytest.raises(OSError):
            _save(tmp_path, 8, model, opt)
    assert (tmp_path / "latest").read_text().strip() == "step-00000004"
    assert not (tmp_path / "step-00000008").exists()
    assert not list(tmp_path.glob(".tmp-*"))  # the half directory was removed
    loaded, restored, _ = _restore(tmp_path)
    assert loaded.path.name == "step-00000004"
    assert all(torch.equal(before[k], v) for k, v in restored.state_dict().items())


def test_killed_write_leftovers_are_never_accepted_and_cleaned_up(tmp_path):
    model, opt = _trained()
    _save(tmp_path, 4, model, opt)
    # A SIGKILL mid-write leaves a hidden temporary directory with a half file and no manifest ...
    half = tmp_path / ".tmp-abc123"
    half.mkdir()
    (half / "model.safetensors").write_bytes(b"\x00" * 10)
    # ... and a step directory without a manifest is not a checkpoint either.
    (tmp_path / "step-00000009").mkdir()
    assert ckpt.load_checkpoint(tmp_path).path.name == "step-00000004"
    with pytest.raises(UserError, match="no manifest.json"):
        ckpt.load_checkpoint(tmp_path / "step-00000009")
    _save(tmp_path, 12, model, opt)
    assert not half.exists()
    assert ckpt.load_checkpoint(tmp_path).path.name == "step-00000012"


def test_resaving_a_step_replaces_it(tmp_path):
    model, opt = _trained()
    _save(tmp_path, 4, model, opt)
    _trained(1)
    model2, opt2 = _trained(2)
    _save(tmp_path, 4, model2, opt2)
    _, restored, _ = _restore(tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(restored.parameters(), model2.parameters(), strict=True))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


class _Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _plant(ckpt_dir: Path, name: str, data: bytes) -> None:
    (ckpt_dir / name).write_bytes(data)
    manifest = json.loads((ckpt_dir / "manifest.json").read_text())
    manifest["files"][name] = {"sha256": ckpt.sha256_bytes(data), "size": len(data)}
    (ckpt_dir / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("name", ["model.safetensors", "trainer.safetensors", "trainer.json"])
@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_malicious_pickle_is_refused_and_never_run(tmp_path, name, kind):
    marker = tmp_path / "pwned"
    payload = _Evil(marker)
    assert pickle.loads(pickle.dumps(payload)) is None and marker.exists()  # the payload does work ...
    marker.unlink()
    model, opt = _trained()
    path = _save(tmp_path / "run", 2, model, opt)
    if kind == "pickle":
        data = pickle.dumps(payload)
    else:
        torch.save({"w": torch.zeros(2), "x": payload}, tmp_path / "evil.pt")
        data = (tmp_path / "evil.pt").read_bytes()
    _plant(path, name, data)  # ... and its checksum matches the manifest
    with pytest.raises(UserError) as err:
        ckpt.load_checkpoint(tmp_path / "run")
    assert str(path / name) in str(err.value) and "\n" not in str(err.value)
    assert not marker.exists()  # ... but it was never unpickled
    shutil.rmtree(tmp_path / "run")


def test_pruning_keeps_recent_and_best(tmp_path):
    model, opt = _trained()
    for step in range(1, 8):
        _save(tmp_path, step, model, opt, best=step == 2, keep=2)
    names = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert names == ["step-00000002", "step-00000006", "step-00000007"]
    assert (tmp_path / "best").read_text().strip() == "step-00000002"
    assert ckpt.load_checkpoint(tmp_path, "best").path.name == "step-00000002"
    assert ckpt.load_checkpoint(tmp_path).path.name == "step-00000007"
    _save(tmp_path, 8, model, opt, best=True, keep=3)  # a new best frees the old one
    names = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert names == ["step-00000006", "step-00000007", "step-00000008"]


def test_optimizer_flattening_keeps_scalars_and_tuples():
    p = nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = torch.ones(3)
    opt.step()
    tensors, meta = ckpt.optimizer_state_to_flat(opt.state_dict())
    json.dumps(meta)  # plain JSON
    back = ckpt.optimizer_state_from_flat(tensors, json.loads(json.dumps(meta)))
    assert torch.equal(back["state"][0]["momentum_buffer"], opt.state_dict()["state"][0]["momentum_buffer"])
    adam = torch.optim.Adam([p], betas=(0.8, 0.9))
    _, meta = ckpt.optimizer_state_to_flat(adam.state_dict())
    assert ckpt.optimizer_state_from_flat({}, json.loads(json.dumps(meta)))["param_groups"][0]["betas"] == (
        0.8,
        0.9,
    )


FITTED = {
    "ngram": (
        "ngram-nietzsche-kn3.yaml",
        ["data.limit_chars=30000"],
        "ngram.json",
    ),
    "classic": (
        "sentiment-imdb-tfidf-lr.yaml",
        ["data.limit=600", "data.test_limit=100"],
        "model/vocabulary.json",
    ),
}


@pytest.mark.parametrize("kind", sorted(FITTED))
def test_fitted_model_files_carry_checksums(tmp_path, data_root, monkeypatch, kind, no_unpickling):
    """An n-gram or bag-of-words run has no checkpoints/, but its model files are sealed the same way: a
    flipped bit, a truncation or a missing manifest is a one-line error naming the file, never a model that
    silently loads with other numbers."""
    from tests.conftest import REPO

    from attnlab import runs
    from attnlab.recipe import load_recipe

    monkeypatch.setenv("ATTNLAB_DATA", str(data_root))
    recipe, sets, target = FITTED[kind]
    run = tmp_path / kind
    runs.train(load_recipe(REPO / "recipes" / recipe, sets), run, progress=False)
    sealed = json.loads((run / ckpt.FITTED_MANIFEST).read_text())["files"]
    assert target in sealed and all((run / name).is_file() for name in sealed)
    assert ("codec.json" in sealed) == (kind == "ngram")  # the n-gram run's vocabulary is sealed with it
    runs.load_run(run)  # intact: loads

    good = (run / target).read_bytes()
    flipped = bytearray(good)
    flipped[len(flipped) // 2] ^= 0x01  # still valid JSON more often than not: only the checksum sees it
    for damaged, word in ((bytes(flipped), "corrupt"), (good[: len(good) // 2], "truncated")):
        (run / target).write_bytes(damaged)
        with pytest.raises(UserError) as err:
            runs.load_run(run)
        assert word in str(err.value) and str(run / target) in str(err.value) and "\n" not in str(err.value)
    (run / target).write_bytes(good)
    (run / ckpt.FITTED_MANIFEST).unlink()  # as after a fit killed before it finished
    with pytest.raises(UserError, match="did not finish"):
        runs.load_run(run)
