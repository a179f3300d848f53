"""`attnlab seeds run|table` end to end: a tiny char LM over two seeds, one results file each, the table's
means and spreads recomputed from those files, and a target judged on the test mean."""

import json
import re
import statistics

import pytest

from attnlab.errors import UserError
from attnlab.seeds import parse_seeds, parse_target, spread
from tests.e2e.conftest import REPO, assert_user_error

TINY = ["data.limit_chars=30000", "model.layers=1", "model.d_model=32", "model.heads=2",
        "train.max_steps=8", "train.eval_every=4", "data.block_size=32", "train.batch_size=8"]  # fmt: skip


def test_seed_lists_ranges_and_targets_parse_or_fail_in_one_line():
    assert parse_seeds("1,2,3") == parse_seeds("1-3") == [1, 2, 3]
    assert parse_seeds("0, 5-6") == [0, 5, 6]
    for bad in ("", "a", "3-1", "1,1", "-1"):
        with pytest.raises(UserError):
            parse_seeds(bad)
    assert parse_target("loss<=1.30") == ("loss", "<=", 1.3)
    with pytest.raises(UserError, match="like loss<=1.30"):
        parse_target("loss=1.3")
    s = spread([1.0, 2.0, 4.0])
    assert (s.mean, s.lo, s.hi, s.n) == (pytest.approx(7 / 3), 1.0, 4.0, 3)


def test_two_seeds_give_two_results_files_and_one_table(cli, tmp_path):
    runs, results = tmp_path / "runs", tmp_path / "results"
    sets = [a for kv in TINY for a in ("--set", kv)]
    args = ["seeds", "run", REPO / "recipes" / "lm-shakespeare-char-baby.yaml", "--seeds", "1,2", *sets,
            "--runs", runs, "--results", results, "--target", "loss<=100"]  # fmt: skip
    proc = cli(*args, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = sorted((results / "lm-shakespeare-char-baby").glob("seed*.json"))
    assert [f.name for f in files] == ["seed1.json", "seed2.json"]
    records = [json.loads(f.read_text()) for f in files]
    assert {r["seed"] for r in records} == {1, 2} and all("torch" in r["machine"] for r in records)
    assert records[0]["test"]["loss"] != records[1]["test"]["loss"]  # the seed changed the model
    assert all(r["train"]["steps"] == 8 and set(r["valid"]) >= {"loss", "bpc"} for r in records)
    # The table's test mean and spread are those of the files.
    row = next(
        line for line in proc.stdout.splitlines() if line.startswith("| lm-shakespeare-char-baby | loss |")
    )
    losses = [r["test"]["loss"] for r in records]
    mean, lo, hi = (
        float(x) for x in re.search(r"\| ([\d.]+) \(([\d.]+)–([\d.]+)\) \| [\d.]+ \|", row).groups()
    )
    assert mean == pytest.approx(statistics.fmean(losses), abs=1e-4) and (lo, hi) == pytest.approx(
        (min(losses), max(losses)), abs=1e-4
    )
    assert row.endswith(" met |")
    # A second call reuses the finished runs (no retraining) and a stricter target is not met.
    proc = cli("seeds", "table", results / "lm-shakespeare-char-baby", "--target", "loss<=0.01")
    assert proc.returncode == 0 and "not met" in proc.stdout
    proc = cli("seeds", "table", results / "lm-shakespeare-char-baby", "--json")
    summary = json.loads(proc.stdout)[0]
    assert summary["seeds"] == [1, 2] and summary["test"]["loss"]["n"] == 2


def test_seeds_misuse_is_one_line(cli, tmp_path):
    assert_user_error(cli("seeds", "table", tmp_path), "no seed*.json results files")
    assert_user_error(
        cli("seeds", "run", REPO / "recipes" / "lm-shakespeare-char-baby.yaml", "--seeds", "2-1"), "backwards"
    )
    assert_user_error(
        cli("seeds", "run", REPO / "recipes" / "lm-shakespeare-char-baby.yaml", "--target", "loss=1"),
        "like loss<=1.30",
    )
