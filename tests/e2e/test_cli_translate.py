"""End to end through the real command: train a tiny spa-eng model, translate, plot, evaluate, and misuse."""

import json
import re

import pytest

from tests.e2e.conftest import REPO, assert_user_error

RECIPE = REPO / "recipes" / "translate-spa-eng-bahdanau.yaml"
TINY = [
    "--set",
    "data.limit=1500",
    "--set",
    "model.hidden=32",
    "--set",
    "model.embed_dim=16",
    "--set",
    "train.batch_size=32",
    "--set",
    "train.max_steps=25",
    "--set",
    "train.eval_every=25",
    "--set",
    "data.valid_bleu_sentences=20",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_root):
    import os
    import subprocess
    import sys

    run = tmp_path_factory.mktemp("e2e") / "run"
    env = {**os.environ, "ATTNLAB_DATA": str(data_root), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "attnlab", "train", str(RECIPE), "--out", str(run), *TINY],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run / "train.stderr").write_text(proc.stderr)  # the progress lines, for the test below
    return run


def test_train_writes_a_complete_run(trained):
    for name in (
        "config.yaml",
        "codec-src.json",
        "codec-tgt.json",
        "split.json",
        "metrics.jsonl",
        "summary.json",
    ):
        assert (trained / name).is_file(), name
    summary = json.loads((trained / "summary.json").read_text())
    assert summary["steps"] == 25 and summary["stopped"] == "max-steps"
    split = json.loads((trained / "split.json").read_text())
    assert set(split["valid"]).isdisjoint(split["test"])
    records = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    assert any(r["split"] == "valid" and "bleu" in r for r in records)


def test_progress_shows_loss_throughput_and_eta(trained):
    """Without a terminal the progress bar is plain lines (the first step, every 15 s, the last): step/total,
    epoch, loss, tokens/s and ETA."""
    progress = re.findall(
        r"^step (\d+)/25 epoch \d+ loss [\d.]+ [\d,]+ tok/s ETA [\d.]+ min$",
        (trained / "train.stderr").read_text(),
        re.M,
    )
    steps = [int(s) for s in progress]
    assert steps[0] == 1 and steps[-1] == 25 and steps == sorted(set(steps)), steps


def test_translate_arguments_stdin_and_beam(cli, trained):
    proc = cli("translate", trained, "esta es mi vida.", "hace mucho frio aqui.")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 2
    piped = cli("translate", trained, input="esta es mi vida.\n\nhace mucho frio aqui.\n")
    assert piped.stdout == proc.stdout  # blank lines skipped, same outputs
    nbest = cli("translate", trained, "--beam", "4", "--n-best", "3", "esta es mi vida.")
    rows = [line.split("\t") for line in nbest.stdout.strip().splitlines()]
    assert [r[0] for r in rows] == ["1", "2", "3"]
    scores = [float(r[1]) for r in rows]
    assert scores == sorted(scores, reverse=True)


def test_plot_and_eval(cli, trained, tmp_path):
    png = tmp_path / "a.png"
    proc = cli("plot", "attention", trained, "esta es mi vida.", "-o", png)
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    proc = cli("eval", trained, "--split", "test", "--by-length")
    assert proc.returncode == 0, proc.stderr
    result = json.loads((trained / "eval-test.json").read_text())
    assert result["sentences"] > 50 and 0 <= result["bleu"] <= 100 and result["by_length"]
    assert sum(b["sentences"] for b in result["by_length"]) == result["sentences"]


def test_plot_attention_html_view_and_bertviz_export(cli, trained, tmp_path):
    """`-o view.html` writes the offline view; `--export-attention` the bertviz-layout JSON of the same map."""
    view, exported = tmp_path / "view.html", tmp_path / "att.json"
    proc = cli("plot", "attention", trained, "esta es mi vida.", "-o", view, "--export-attention", exported)
    assert proc.returncode == 0, proc.stderr
    page = view.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "esta" in page
    # self-contained: nothing loaded from a network (the SVG namespace URI is a name, not a fetch)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page) and "@import" not in page
    layout = json.loads(exported.read_text(encoding="utf-8"))
    (layer,) = layout["cross_attention"]  # an RNN: one layer, one head, shaped (1, 1, T_out, S)
    (batch,) = layer
    (head,) = batch
    assert len(head) == len(layout["decoder_tokens"]) and len(head[0]) == len(layout["encoder_tokens"])
    assert all(abs(sum(row) - 1.0) < 1e-4 for row in head)


def test_compare_prints_one_row_per_run_and_draws_bleu_by_length(cli, trained, tmp_path):
    """Comparing a run with itself gives two identical rows whose bucket BLEU matches `eval --by-length`."""
    png = tmp_path / "cmp.png"
    proc = cli("compare", trained, trained, "-o", png)
    assert proc.returncode == 0, proc.stderr
    header, *rows = [line.split("\t") for line in proc.stdout.splitlines() if "\t" in line]
    assert header[:6] == ["run", "model", "steps", "min", "BLEU", "chrF"] and len(rows) == 2
    assert rows[0] == rows[1] and rows[0][1].startswith("gru bahdanau")
    result = json.loads((trained / "eval-test.json").read_text())
    by_bucket = {b["bucket"]: f"{b['bleu']:.1f}" for b in result["by_length"]}
    assert dict(zip(header[6:], rows[0][6:], strict=True)) == by_bucket
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert_user_error(cli("compare", tmp_path / "nope"), "does not exist")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["translate", "{run}", ""], "empty input"),
        (["translate", "{run}", "   "], "empty input"),
        (["translate", "{run}", "qwxz zzqv"], "vocabulary"),
        (["translate", "{run}", "hola " * 2000], "split it into sentences"),
        (["translate", "nonexistent-run", "hola"], "does not exist"),
        (["translate", "{run}", "--beam", "2", "--n-best", "3", "hola"], "--n-best"),
        (["train", str(RECIPE), "--set", "train.lr_rate=1"], "valid keys"),
        (["train", str(RECIPE), "--set", "train.lr=-1"], "train.lr"),
        (["train", str(RECIPE), "--set", "data.dataset=no-such-data"], "no-such-data"),
        (["train", "missing-recipe.yaml"], "does not exist"),
        (["eval", "{run}", "--file", "missing.tsv"], "does not exist"),
        (["data", "show", "nope"], "nope"),
    ],
)
def test_user_mistakes_are_one_line_exit_2(cli, trained, args, fragment):
    proc = cli(*[a.replace("{run}", str(trained)) for a in args])
    assert_user_error(proc, fragment)


def test_missing_dataset_says_how_to_get_it(cli, tmp_path):
    proc = cli(
        "train",
        RECIPE,
        "--out",
        tmp_path / "r",
        env={"ATTNLAB_DATA": str(tmp_path / "empty"), "ATTNLAB_CACHE": str(tmp_path / "cache")},
    )
    assert_user_error(proc, "attnlab data fetch spa-eng")


def test_training_into_a_finished_run_needs_resume(cli, trained):
    proc = cli("train", RECIPE, "--out", trained, *TINY)
    assert_user_error(proc, "--resume")


def test_eval_scores_in_fp32_unless_asked_and_records_it(cli, trained):
    """Whatever precision the run trained in, eval is fp32 by default; --precision bf16 autocasts."""
    proc = cli("eval", trained, "--split", "valid")
    assert proc.returncode == 0, proc.stderr
    fp32 = json.loads((trained / "eval-valid.json").read_text())
    proc = cli("eval", trained, "--split", "valid", "--precision", "bf16")
    assert proc.returncode == 0, proc.stderr
    bf16 = json.loads((trained / "eval-valid.json").read_text())
    assert (fp32["precision"], bf16["precision"]) == ("fp32", "bf16")
    assert bf16["loss"] != fp32["loss"] and abs(bf16["loss"] - fp32["loss"]) < 0.05 * fp32["loss"]
    assert_user_error(cli("eval", trained, "--precision", "fp8"), "--precision must be fp32 or bf16")
