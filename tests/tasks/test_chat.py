"""Korean chat: the shared subword tokenizer, a tiny training end to end through the CLI, and input checks."""

import csv
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from attnlab.data.corpora import load_dialogue
from attnlab.data.splits import group_key
from attnlab.data.text import SubwordTokenizer

REPO = Path(__file__).resolve().parents[2]


def _env(data_root) -> dict:
    return {**os.environ, "ATTNLAB_DATA": str(data_root), "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"}


def _attnlab(args, data_root, *, stdin: str | None = None, timeout: int = 240):
    return subprocess.run(
        [sys.executable, "-m", "attnlab", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=_env(data_root),
        cwd=REPO,
        timeout=timeout,
    )


def test_subword_tokenizer_round_trips_korean(data_root):
    rows = load_dialogue("chatbot-ko", limit=3000)
    texts = [t for q, a, _ in rows for t in (q, a)]
    tok = SubwordTokenizer.train(texts, vocab_size=2000)
    for text in [*texts[:200], "영화 볼래?", "  오늘   날씨가  좋네요!  "]:
        pieces = tok.tokenize(text)
        assert pieces and "<unk>" not in pieces
        assert tok.detokenize(pieces) == tok.prepare(text)
    assert tok.detokenize(tok.tokenize("  오늘   날씨가  좋네요!  ")) == "오늘 날씨가 좋네요!"
    restored = SubwordTokenizer.from_dict(tok.to_dict())
    assert restored.tokenize("영화 볼래?") == tok.tokenize("영화 볼래?")


TINY = [
    "--set",
    "data.limit=400",
    "--set",
    "data.subword_vocab=600",
    "--set",
    "data.valid_bleu_sentences=4",
    "--set",
    "model.d_model=32",
    "--set",
    "model.heads=4",
    "--set",
    "model.d_ff=64",
    "--set",
    "train.max_steps=6",
    "--set",
    "train.batch_size=32",
    "--set",
    "train.warmup=10",
    "--set",
    "train.eval_every=6",
    "--set",
    "train.threads=1",
    "--set",
    "train.max_minutes=null",
]


def _main(args, monkeypatch, capsys, stdin: str = ""):
    """The CLI in-process (cheaper than a subprocess): (exit code, stdout, stderr)."""
    from attnlab.cli import main

    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    capsys.readouterr()
    try:
        main(args)
        code = 0
    except SystemExit as e:
        code = e.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def chat_run(data_root, tmp_path_factory):
    run = tmp_path_factory.mktemp("chat") / "run"
    res = _attnlab(["train", "recipes/chat-ko-transformer.yaml", "--out", str(run), *TINY], data_root)
    assert res.returncode == 0, res.stderr[-2000:]
    return run


@pytest.mark.slow
def test_train_then_chat_through_the_cli(chat_run, data_root):
    for name in ("config.yaml", "codec-src.json", "codec-tgt.json", "split.json", "summary.json"):
        assert (chat_run / name).is_file(), name
    assert (chat_run / "codec-src.json").read_bytes() == (chat_run / "codec-tgt.json").read_bytes()
    res = _attnlab(["chat", str(chat_run)], data_root, stdin="영화 볼래?\n\n안녕하세요\n")
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.splitlines()) == 2  # one reply per non-empty line


@pytest.mark.slow
def test_sampling_is_seeded_and_beam_works(chat_run, monkeypatch, capsys):
    args = ["chat", str(chat_run), "--temperature", "0.8", "--top-p", "0.9", "--seed", "7", "영화 볼래?"]
    first, second = (_main(args, monkeypatch, capsys) for _ in range(2))
    assert first[0] == 0 and first[1].strip() and first == second  # seeded sampling is reproducible
    code, out, _ = _main(["chat", str(chat_run), "--beam", "3", "영화 볼래?", "안녕"], monkeypatch, capsys)
    assert code == 0 and len(out.splitlines()) == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["   "], None, "empty message"),
        ([], "   \n\t\n", "no non-empty lines"),
        ([], "영화 " * 300 + "\n", "message too long"),
        (["--temperature", "0", "안녕"], None, "--temperature must be positive"),
        (["--beam", "3", "--temperature", "0.7", "안녕"], None, "not both"),
    ],
    ids=["blank-argument", "blank-stdin", "too-long", "bad-temperature", "beam-and-sampling"],
)
def test_bad_input_is_one_line_exit_2(chat_run, monkeypatch, capsys, args, stdin, message):
    code, _, err = _main(["chat", str(chat_run), *args], monkeypatch, capsys, stdin or "")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], err


@pytest.mark.slow
def test_interactive_loop_reports_and_continues(chat_run, monkeypatch, capsys):
    """At a terminal: blank and too-long messages get a one-line note and the loop goes on; quit leaves."""
    from attnlab.cli.chat import chat

    class Tty:
        def isatty(self):
            return True

    lines = iter(["   ", "영화 " * 300, "영화 볼래?", "quit", "never read"])
    monkeypatch.setattr(sys, "stdin", Tty())
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    chat(chat_run, None, beam=1, temperature=None, top_p=None, seed=None)
    text = capsys.readouterr().out
    assert "empty message" in text and "message too long" in text
    assert next(lines) == "never read"  # quit stopped the loop
    lines = iter(["안녕"])

    def eof(prompt=""):
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr("builtins.input", eof)
    chat(chat_run, None, beam=1, temperature=None, top_p=None, seed=None)  # Ctrl-D ends it cleanly


@pytest.mark.slow
def test_plot_attention_of_a_korean_chat_run(chat_run, monkeypatch, capsys, tmp_path):
    plot = ["plot", "attention", str(chat_run), "영화 볼래?", "-o"]
    out = tmp_path / "ko.png"
    code, _, err = _main([*plot, str(out)], monkeypatch, capsys)
    assert code == 0, err
    assert out.stat().st_size > 1000
    code, _, err = _main([*plot, str(tmp_path / "all.png"), "--kind", "all"], monkeypatch, capsys)
    assert code == 0, err
    assert {p.name for p in tmp_path.glob("all-*.png")} == {
        "all-cross.png",
        "all-encoder.png",
        "all-decoder.png",
    }
    code, _, err = _main(
        [*plot, str(tmp_path / "one.png"), "--layer", "2", "--head", "1"], monkeypatch, capsys
    )
    assert code == 0, err
    code, _, err = _main(
        [*plot, str(tmp_path / "bad.png"), "--layer", "2", "--head", "9"], monkeypatch, capsys
    )
    assert code == 2 and "--head must be between 1 and 4" in err


@pytest.mark.slow
def test_eval_reports_chrf_bleu_and_perplexity_on_the_held_out_split(chat_run, data_root):
    """`attnlab eval RUN`: sacreBLEU chrF and BLEU on detokenised replies and the teacher-forced loss /
    perplexity, on the test rows recorded in split.json."""
    res = _attnlab(["eval", str(chat_run)], data_root)
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads((chat_run / "eval-test.json").read_text())
    split = json.loads((chat_run / "split.json").read_text())
    rows = [(q, a) for q, a, _ in load_dialogue("chatbot-ko") if q.strip() and a.strip()]
    test = [rows[i] for i in split["test"]]
    # Each distinct question once, against every answer it has in the test part (multi-reference).
    assert report["pairs"] == len(test) and report["sentences"] == len({group_key(q) for q, _ in test}) > 0
    assert report["overlap_with_training"]["source"] == 0
    assert 0 <= report["bleu"] <= 100 and 0 <= report["chrf"] <= 100
    assert report["ppl"] == pytest.approx(math.exp(report["loss"]), rel=1e-4)
    nrefs = "nrefs:1" if report["references"]["max"] == 1 else "nrefs:var"
    assert nrefs in report["signature"] and report["examples"][0]["hyp"] is not None


def test_eval_reads_chatbotdata_csv_layout(chat_run, data_root, tmp_path):
    """A file in ChatbotData's own `Q,A,label` CSV layout is read question → answer; no --columns needed."""
    split = json.loads((chat_run / "split.json").read_text())
    rows = [r for r in load_dialogue("chatbot-ko") if r[0].strip() and r[1].strip()]
    test = [rows[i] for i in split["test"]][:15]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([("Q", "A", "label"), *test])
    (tmp_path / "mine.csv").write_text(buf.getvalue(), encoding="utf-8")
    res = _attnlab(["eval", str(chat_run), "--file", str(tmp_path / "mine.csv")], data_root)
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads((chat_run / "eval-mine.json").read_text())
    assert report["pairs"] == 15 and "chatbot-ko's own CSV layout" in report["layout"]
    assert report["examples"][0]["src"] == test[0][0]
    res = _attnlab(
        ["eval", str(chat_run), "--file", str(tmp_path / "mine.csv"), "--columns", "q,x"], data_root
    )
    assert res.returncode == 2 and res.stderr.startswith("error: --columns 'q,x'"), res.stderr
