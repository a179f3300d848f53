"""Vocab: specials at 0..3, deterministic build, encode/decode, JSON round trip, bad files."""

import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attnlab.data.vocab import Vocab
from attnlab.errors import UserError


def test_specials_fixed():
    v = Vocab.build([["a"]])
    assert (Vocab.PAD, Vocab.UNK, Vocab.BOS, Vocab.EOS) == (0, 1, 2, 3)
    assert v.tokens[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert [v.token_to_id(s) for s in Vocab.SPECIALS] == [0, 1, 2, 3]


def test_build_orders_by_freq_then_token_and_cuts():
    lists = [["b", "a", "c", "c"], ["a", "d", "b", "e"], ["c"]]
    v = Vocab.build(lists)
    # c:3, a:2, b:2, d:1, e:1 → ties broken alphabetically
    assert v.tokens[4:] == ["c", "a", "b", "d", "e"]
    assert Vocab.build(lists, min_freq=2).tokens[4:] == ["c", "a", "b"]
    capped = Vocab.build(lists, max_size=6)
    assert len(capped) == 6 and capped.tokens[4:] == ["c", "a"]
    assert Vocab.build(Counter({"x": 2, "y": 5, "<pad>": 9})).tokens[4:] == ["y", "x"]
    with pytest.raises(UserError):
        Vocab.build(lists, max_size=3)


def test_encode_decode():
    v = Vocab.build([["hello", "world"]])
    ids = v.encode(["hello", "nope", "world"], add_bos=True, add_eos=True)
    assert ids[0] == Vocab.BOS and ids[-1] == Vocab.EOS and ids[2] == Vocab.UNK
    assert v.decode(ids) == ["hello", "<unk>", "world"]
    assert v.decode([*ids, 0, 0]) == ["hello", "<unk>", "world"]
    assert v.decode(ids + [v.token_to_id("hello")], stop_at_eos=False) == ["hello", "<unk>", "world", "hello"]
    assert v.decode(ids, strip_specials=False) == ["<bos>", "hello", "<unk>", "world"]
    assert "hello" in v and "nope" not in v
    assert v.id_to_token(v.token_to_id("world")) == "world"


def test_from_tokens_keeps_positions():
    v = Vocab.from_tokens(["<pad>", "<unk>", "<bos>", "<eos>", "x", "y"])
    assert v.token_to_id("y") == 5
    assert Vocab.from_tokens(["x", "y"]).token_to_id("x") == 4
    with pytest.raises(UserError, match="duplicate"):
        Vocab.from_tokens(["x", "x"])


def test_save_load_and_bad_files(tmp_path):
    v = Vocab.build([["añil", "한국어", "x"]])
    p = tmp_path / "sub" / "vocab.json"
    v.save(p)
    assert Vocab.load(p) == v
    assert [f.name for f in p.parent.iterdir()] == ["vocab.json"]  # no temp file left behind
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"tokens": ["a", "<pad>", "<unk>", "<bos>", "<eos>"]}))
    with pytest.raises(UserError, match="0..3"):
        Vocab.load(bad)
    bad.write_text("{not json")
    with pytest.raises(UserError, match="bad.json"):
        Vocab.load(bad)
    with pytest.raises(UserError, match="no such"):
        Vocab.load(tmp_path / "missing.json")


tokens = st.text(min_size=1, max_size=6).filter(lambda t: t not in Vocab.SPECIALS)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(tokens, max_size=8), min_size=1, max_size=8))
def test_roundtrip_property(lists):
    v = Vocab.build(lists)
    for seq in lists:
        ids = v.encode(seq, add_bos=True, add_eos=True)
        assert v.decode(ids) == list(seq)
        assert all(0 <= i < len(v) for i in ids)
    assert Vocab.from_dict(json.loads(json.dumps(v.to_dict()))) == v
