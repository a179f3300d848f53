"""Language models end to end through the real command: n-gram (train → score → eval → generate) and a
neural char Transformer (train a few steps → generate → eval), plus the user mistakes."""

import json

import pytest

from tests.e2e.conftest import REPO, assert_user_error

NGRAM = REPO / "recipes" / "ngram-nietzsche-kn3.yaml"
BABY = REPO / "recipes" / "lm-shakespeare-char-baby.yaml"


@pytest.fixture(scope="module")
def ngram_run(tmp_path_factory, data_root):
    import os
    import subprocess
    import sys

    run = tmp_path_factory.mktemp("e2e-lm") / "ngram"
    env = {**os.environ, "ATTNLAB_DATA": str(data_root), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "attnlab",
            "train",
            str(NGRAM),
            "--out",
            str(run),
            "--set",
            "data.limit_chars=150000",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run


def test_ngram_run_layout(ngram_run):
    for name in ("config.yaml", "codec.json", "split.json", "ngram.json", "summary.json"):
        assert (ngram_run / name).is_file(), name
    summary = json.loads((ngram_run / "summary.json").read_text())
    assert summary["metric"] == "ppl" and summary["valid"]["ppl"] > 1 and summary["valid"]["order"] == 3


def test_ngram_score_prints_every_factor(cli, ngram_run):
    proc = cli("score", ngram_run, "I am a student")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("P(i | <s> <s>) = ") and lines[1].startswith("P(am | <s> i) = ")
    assert lines[-2].startswith("P(</s> | ") and lines[-1].startswith("log P = -")
    total = sum(__import__("math").log(float(line.rsplit("= ", 1)[1])) for line in lines[:-1])
    assert float(lines[-1].split()[3]) == pytest.approx(total, abs=1e-3)


def test_ngram_eval_file_and_generate(cli, ngram_run, tmp_path):
    text = tmp_path / "held.txt"
    text.write_text("The philosopher is a man of truth. He seeks it everywhere.\n", encoding="utf-8")
    proc = cli("eval", ngram_run, "--file", text)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["tokens"] == 15 and result["ppl"] > 1 and result["sentences"] == 2
    assert (ngram_run / "eval-held.json").is_file()
    valid = json.loads(cli("eval", ngram_run, "--split", "valid").stdout)
    assert valid["ppl"] == pytest.approx(json.loads((ngram_run / "summary.json").read_text())["valid"]["ppl"])
    a = cli("generate", ngram_run, "--length", "30", "--seed", "5", "--prompt", "the will to")
    assert a.returncode == 0 and a.stdout.startswith("the will to ")
    temps = cli("generate", ngram_run, "--length", "10", "--temperature", "0.2,1.0", "--seed", "1")
    assert temps.stdout.count("----- temperature") == 2


def test_neural_lm_trains_and_generates(cli, tmp_path):
    run = tmp_path / "baby"
    proc = cli(
        "train",
        BABY,
        "--out",
        run,
        "--set",
        "train.max_steps=12",
        "--set",
        "train.eval_every=6",
        "--set",
        "data.eval_tokens=2000",
        "--set",
        "model.layers=1",
        "--set",
        "model.d_model=32",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["split"] == "valid"] == [6, 12]
    assert all({"loss", "ppl", "bpc"} <= set(r) for r in records if r["split"] == "valid")
    split = json.loads((run / "split.json").read_text())
    n = split["characters"]
    assert split["valid"] == [n - 2 * 55769, n - 55769] and split["test"] == [n - 55769, n]
    gen = cli("generate", run, "--prompt", "ROMEO:", "--length", "100", "--seed", "3", "--top-k", "20")
    assert gen.returncode == 0, gen.stderr
    assert gen.stdout.startswith("ROMEO:") and len(gen.stdout.rstrip("\n")) >= 100
    many = cli("generate", run, "--length", "20", "--temperature", "0.2,0.5,1.0,1.2", "--top-p", "0.9")
    assert many.returncode == 0 and many.stdout.count("----- temperature") == 4
    long = cli("generate", run, "--prompt", "a" * 100, "--length", "5")
    assert long.returncode == 0 and "only its last 64" in long.stderr
    assert_user_error(cli("generate", run, "--prompt", "жжж"), "vocabulary")
    assert_user_error(cli("generate", run, "--temperature", "hot"), "--temperature")
    proc = cli("eval", run, "--split", "valid")
    assert proc.returncode == 0 and json.loads(proc.stdout)["bpc"] > 0


def test_lm_misuse(cli, tmp_path, ngram_run):
    assert_user_error(cli("train", NGRAM, "--out", ngram_run), "already holds")
    assert_user_error(cli("train", BABY, "--set", "data.tokenizer=bytes"), "data.tokenizer")
    assert_user_error(cli("train", BABY, "--set", "model.heads=5"), "divisible")
