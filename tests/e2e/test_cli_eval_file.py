"""`attnlab eval RUN --file F` through the real command: the dataset's own layout, --columns, and a file
whose columns are swapped refused — for a word model and a subword model, each trained briefly on spa-eng."""

import json

import pytest

from tests.e2e.conftest import REPO, assert_user_error

RECIPE = REPO / "recipes" / "translate-spa-eng-bahdanau.yaml"
COMMON = ["model.hidden=64", "model.embed_dim=32", "train.batch_size=32", "train.lr=0.003",
          "train.max_steps=500", "train.eval_every=500", "data.valid_bleu_sentences=20"]  # fmt: skip
MODELS = {
    "word": ["data.limit=6000"],
    "subword": ["data.limit=6000", "data.tokenizer=subword", "data.subword_vocab=1000", "data.max_len=30"],
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def run_and_files(request, tmp_path_factory, data_root):
    """A trained run, and its own test pairs written three ways: like spa.txt (English<TAB>Spanish, with
    Tatoeba's attribution column), source first, and as the run's split.json names them."""
    import os
    import subprocess
    import sys

    tmp = tmp_path_factory.mktemp(f"evalfile-{request.param}")
    run = tmp / "run"
    sets = [arg for kv in [*COMMON, *MODELS[request.param]] for arg in ("--set", kv)]
    env = {**os.environ, "ATTNLAB_DATA": str(data_root), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "attnlab", "train", str(RECIPE), "--out", str(run), *sets],
                          capture_output=True, text=True, timeout=300, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    split = json.loads((run / "split.json").read_text())
    lines = [
        ln for ln in (data_root / "spa-eng" / "spa.txt").read_text(encoding="utf-8").split("\n") if ln.strip()
    ]
    test = [lines[i].split("\t") for i in split["test"]][:150]
    own = tmp / "own.tsv"
    own.write_text("".join(f"{en}\t{es}\tCC-BY 2.0 (France) Attribution: tatoeba.org\n" for en, es in test))
    src_first = tmp / "src_first.tsv"
    src_first.write_text("".join(f"{es}\t{en}\n" for en, es in test))
    return run, own, src_first


def test_the_datasets_own_layout_is_read_the_runs_way(cli, run_and_files):
    run, own, src_first = run_and_files
    proc = cli("eval", run, "--file", own)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((run / "eval-own.json").read_text())
    assert "spa-eng's own layout" in result["layout"] and result["pairs"] == 150
    assert result["column_check"]["prefer_swapped"] < 0.3  # the model reads Spanish → English
    # The same pairs named by --columns give exactly the same scores, by role or by language.
    for columns in ("src,ref", "es,en"):
        proc = cli("eval", run, "--file", src_first, "--columns", columns)
        assert proc.returncode == 0, proc.stderr[-2000:]
        named = json.loads((run / "eval-src_first.json").read_text())
        assert named["bleu"] == result["bleu"] and named["chrf"] == result["chrf"]
        assert named["examples"] == result["examples"]


def test_a_file_with_swapped_columns_is_refused_with_the_fix(cli, run_and_files):
    run, _, src_first = run_and_files
    before = (run / "eval-src_first.json").read_bytes() if (run / "eval-src_first.json").exists() else None
    proc = cli("eval", run, "--file", src_first)  # read as spa.txt: English taken as the Spanish source
    assert_user_error(proc, "columns look swapped", "--columns")
    after = (run / "eval-src_first.json").read_bytes() if (run / "eval-src_first.json").exists() else None
    assert after == before  # a refused evaluation writes nothing
    proc = cli("eval", run, "--file", src_first, "--columns", "ref,src")  # a wrong --columns is caught too
    assert_user_error(proc, "columns look swapped")


@pytest.mark.parametrize(
    ("columns", "fragment"),
    [("src", "one src and one ref"), ("src,src", "one src and one ref"), ("src,fr", "name each column")],
)
def test_bad_columns_are_one_line_errors(cli, run_and_files, columns, fragment):
    run, own, _ = run_and_files
    assert_user_error(cli("eval", run, "--file", own, "--columns", columns), fragment)


def test_columns_without_a_file_is_an_error(cli, run_and_files):
    run, _, _ = run_and_files
    assert_user_error(cli("eval", run, "--columns", "src,ref"), "--columns describes a --file")
