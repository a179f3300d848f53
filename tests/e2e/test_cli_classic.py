"""Classic IMDB recipes end to end through the real command: fit, eval, classify, similar, similar-words,
and word2vec vectors initialising a neural classifier."""

import json

import pytest

from tests.conftest import REPO
from tests.e2e.conftest import assert_user_error

RECIPES = REPO / "recipes"
SLICE = ["--set", "data.limit=1500", "--set", "data.test_limit=400"]


@pytest.fixture
def bow_run(cli, tmp_path):
    proc = cli("train", RECIPES / "sentiment-imdb-tfidf-lr.yaml", *SLICE, "--out", tmp_path / "bow")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "fitted in" in proc.stdout
    return tmp_path / "bow"


def test_bow_fit_eval_classify_similar(cli, bow_run):
    summary = json.loads((bow_run / "summary.json").read_text())
    assert summary["metric"] == "accuracy" and summary["valid"]["reviews"] == 150
    assert 0.70 < summary["best"] <= 1.0  # 1,350 training reviews already separate well above chance

    ev = cli("eval", bow_run)
    assert ev.returncode == 0, ev.stderr[-2000:]
    result = json.loads((bow_run / "eval-test.json").read_text())
    assert result["reviews"] == 400 and result["accuracy"] > 0.70
    assert "precision" in result["classification_report_text"]

    cl = cli("classify", bow_run, "a wonderful, moving film with a brilliant cast",
             "dull, boring and a complete waste of time")  # fmt: skip
    assert cl.returncode == 0, cl.stderr[-2000:]
    labels = [line.split("\t")[0] for line in cl.stdout.splitlines()]
    assert labels == ["positive", "negative"]

    # a training review is its own nearest neighbour (cosine 1): the index really covers the training rows
    train_text = json.loads((bow_run / "model" / "train_texts.json").read_text())[7]
    sim = cli("similar", bow_run, train_text, "-k", "3")
    assert sim.returncode == 0, sim.stderr[-2000:]
    rows = [line.split("\t") for line in sim.stdout.splitlines()]
    assert len(rows) == 3 and rows[0][1] == "#7" and float(rows[0][0]) > 0.999
    assert float(rows[0][0]) >= float(rows[1][0]) >= float(rows[2][0])


def test_classic_user_errors(cli, bow_run):
    assert_user_error(cli("similar-words", bow_run, "good"), "needs a word2vec run")
    assert_user_error(cli("classify", bow_run, "   "), "empty review")
    assert_user_error(cli("train", RECIPES / "sentiment-imdb-tfidf-lr.yaml", *SLICE, "--out", bow_run),
                      "already holds")  # fmt: skip
    assert_user_error(cli("train", RECIPES / "sentiment-imdb-tfidf-lr.yaml", "--set", "model.features=tfidf9k"),
                      "model.features must be one of")  # fmt: skip


def test_word2vec_recipe_neighbours_and_embedding_init(cli, tmp_path):
    w2v = tmp_path / "w2v"
    proc = cli("train", RECIPES / "word2vec-imdb.yaml", "--set", "data.limit=800", "--set", "model.epochs=2",
               "--set", "model.vector_size=16", "--out", w2v)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    header = (w2v / "vectors.txt").read_text().splitlines()[0].split()
    assert int(header[1]) == 16 and int(header[0]) > 500
    near = cli("similar-words", w2v, "good", "-k", "4")
    assert near.returncode == 0, near.stderr[-2000:]
    rows = [line.split("\t") for line in near.stdout.splitlines()]
    assert len(rows) == 4 and "good" not in [w for _, w in rows]
    assert_user_error(cli("similar-words", w2v, "zzzqqq"), "not in the vocabulary")

    clf = cli("train", RECIPES / "sentiment-imdb-avg.yaml", "--set", "data.limit=300", "--set", "data.max_len=64",
              "--set", f"data.init_embeddings={w2v / 'vectors.txt'}", "--set", "model.embed_dim=16",
              "--set", "train.epochs=1", "--out", tmp_path / "avg")  # fmt: skip
    assert clf.returncode == 0, clf.stderr[-2000:]
    info = json.loads((tmp_path / "avg" / "embeddings.json").read_text())
    assert info["dim"] == 16 and info["coverage"] > 0.25  # the classifier keeps rare words w2v drops
