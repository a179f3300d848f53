"""Leak-free splits: whole groups per part, on hand-made rows, random rows and the real Tatoeba/Chatbot files."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import REPO

from attnlab.data import splits
from attnlab.errors import UserError
from attnlab.recipe import load_recipe
from attnlab.tasks import get_task


def test_group_key_ignores_case_accents_punctuation_and_spacing():
    assert splits.group_key("¿Todavía   están en casa?") == "todavia estan en casa"
    assert splits.group_key("todavia estan en casa") == "todavia estan en casa"
    assert splits.group_key("ＡＢＣ!") == "abc"  # NFKC: full-width letters are plain ones
    assert splits.group_key("Ça va.") == splits.group_key("ca va")
    assert splits.group_key("영화 볼래?") == "영화 볼래"  # Hangul syllables are letters, not marks
    assert splits.group_key("Go.") != splits.group_key("Go away.")


def test_components_chain_through_either_side():
    rows = [("Go.", "Ve."), ("Go!", "Vete."), ("Leave.", "Vete"), ("Run.", "Corre."), ("Hi.", "Hola.")]
    comp = splits.components(rows, (0, 1))
    # Go.~Go! by source, Go!~Leave. by target (Vete.~Vete): one group of three; the others alone.
    assert comp[0] == comp[1] == comp[2] and len({comp[0], comp[3], comp[4]}) == 3
    assert len(set(splits.components(rows, (0,)))) == 4  # by source only, Leave. is its own group
    # The same text in the other column is another sentence ("no" in English and in Spanish).
    assert len(set(splits.components([("no", "si"), ("yes", "no")], (0, 1)))) == 2


rows_strategy = st.lists(
    st.tuples(st.sampled_from(["a", "A.", "b", "c!", "d", "e", "f"]), st.sampled_from(["x", "y", "Z", "w?"])),
    min_size=1,
    max_size=60,
)


@settings(max_examples=80, deadline=None)
@given(rows=rows_strategy, seed=st.integers(0, 10_000))
def test_grouped_split_never_shares_a_key_between_parts(rows, seed):
    parts = splits.grouped_split(rows, (0, 1), [0.6, 0.2, 0.2], seed=seed)
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(len(rows)))
    keys = {
        name: {(c, splits.group_key(rows[i][c])) for i in idx for c in (0, 1)} for name, idx in parts.items()
    }
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["valid"]
    assert not keys["valid"] & keys["test"]
    again = splits.grouped_split(rows, (0, 1), [0.6, 0.2, 0.2], seed=seed)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)


def test_grouped_split_sizes_follow_the_fractions_for_many_small_groups():
    rows = [(f"s{i // 2}", f"t{i}") for i in range(10_000)]  # groups of two
    parts = splits.grouped_split(rows, (0, 1), [0.9, 0.05, 0.05], seed=3)
    assert [len(parts[k]) for k in ("train", "valid", "test")] == pytest.approx([9000, 500, 500], abs=4)
    with pytest.raises(UserError, match="sum to 1"):
        splits.grouped_split(rows, (0,), [0.9, 0.2, 0.05], seed=3)


def test_sample_indices_spread_over_the_whole_split():
    pick = splits.sample_indices(10_000, 500, seed=1)
    assert len(set(pick.tolist())) == 500 and list(pick) == sorted(pick)
    assert pick.min() < 500 and pick.max() > 9500  # not the first 500 (the shortest, in spa.txt)
    assert np.array_equal(splits.sample_indices(10, 500, seed=1), np.arange(10))


def _task(recipe: str, tmp_path, *overrides: str):
    rec = load_recipe(REPO / "recipes" / recipe, list(overrides))
    return get_task(rec.task)(rec, tmp_path)


@pytest.mark.parametrize(
    "recipe", ["translate-spa-eng-bahdanau.yaml", "translate-fra-eng-bigru.yaml", "chat-ko-transformer.yaml"]
)
def test_real_files_split_with_no_source_in_training(recipe, tmp_path, data_root):
    """The whole real file, as the recipe splits it: no normalised test (or valid) source is a training
    source, and for translation no reference is a training target either. Checked here independently of
    the split code's own overlap counts, which split.json records."""
    task = _task(recipe, tmp_path)
    parts = task._splits()
    train_src = {splits.group_key(s) for s, _ in parts["train"]}
    train_tgt = {splits.group_key(t) for _, t in parts["train"]}
    for name in ("valid", "test"):
        assert len(parts[name]) > 0.04 * sum(len(p) for p in parts.values())
        assert not any(splits.group_key(s) in train_src for s, _ in parts[name])
        record = task.split_record["overlap"][name]
        assert record["source"] == 0
        if task.name == "translation":
            assert not any(splits.group_key(t) in train_tgt for _, t in parts[name])
            assert record["target"] == 0
        else:  # chat groups by question only: known answers may recur, and split.json counts them
            assert record["target"] == sum(splits.group_key(t) in train_tgt for _, t in parts[name]) > 0


def test_one_test_set_for_both_directions_and_both_casings(tmp_path, data_root):
    """The grouping key ignores case and direction, so every recipe of a dataset shares one test set."""
    base = _task("translate-fra-eng-bigru.yaml", tmp_path / "a")._splits()["test"]
    flipped = _task("translate-fra-eng-bigru.yaml", tmp_path / "b", "data.src=fr", "data.tgt=en")._splits()
    cased = _task("translate-fra-eng-bigru.yaml", tmp_path / "c", "data.lowercase=false")._splits()
    assert [(t, s) for s, t in flipped["test"]] == base
    assert cased["test"] == base


def test_eval_uses_the_recorded_split_and_refuses_an_old_one(tmp_path, data_root):
    task = _task("translate-spa-eng-bahdanau.yaml", tmp_path, "data.limit=2000")
    parts = task._splits()
    (tmp_path / "split.json").write_text(json.dumps(task.split_record))
    again = _task("translate-spa-eng-bahdanau.yaml", tmp_path, "data.limit=2000")._splits()
    assert again["test"] == parts["test"] and again["valid"] == parts["valid"]

    record = dict(task.split_record, fingerprint="0" * 64)
    (tmp_path / "split.json").write_text(json.dumps(record))
    with pytest.raises(UserError, match="data differ from those .* was split from"):
        _task("translate-spa-eng-bahdanau.yaml", tmp_path, "data.limit=2000")._splits()

    old = {k: v for k, v in task.split_record.items() if k not in ("version", "fingerprint")}
    (tmp_path / "split.json").write_text(json.dumps(old))
    with pytest.raises(UserError, match=r"older attnlab .*attnlab train .*config.yaml --out NEW_DIR"):
        _task("translate-spa-eng-bahdanau.yaml", tmp_path, "data.limit=2000")._splits()
