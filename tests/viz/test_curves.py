"""`attnlab plot curves RUN [RUN ...]`: train and validation loss, and train.metric when it is not the loss,
of several runs on shared axes, against steps or training minutes, each run's best checkpoint marked; and
the user mistakes (a fitted model, a missing run, an unknown --x, a log without training time)."""

import json
import os
import shutil
import subprocess
import sys

import matplotlib.image as mpimg
import numpy as np
import pytest

from attnlab.cli import main
from attnlab.viz import plots
from tests.e2e.conftest import REPO, assert_user_error

RNN = REPO / "recipes" / "translate-spa-eng-bahdanau.yaml"
NGRAM = REPO / "recipes" / "ngram-nietzsche-kn3.yaml"
TINY = [
    "data.limit=400",
    "model.embed_dim=16",
    "train.batch_size=16",
    "data.valid_bleu_sentences=20",
    "train.max_minutes=null",
    "train.max_steps=12",
    "train.eval_every=3",
    "train.log_every=1",
]


def _train(recipe, out, settings, data_root):
    env = {**os.environ, "ATTNLAB_DATA": str(data_root), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "attnlab", "train", str(recipe), "--out", str(out)]
    proc = subprocess.run(
        [*cmd, *[a for s in settings for a in ("--set", s)]],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, data_root):
    """Two tiny spa-eng runs (train.metric: BLEU) of different widths."""
    root = tmp_path_factory.mktemp("curves")
    return [
        _train(RNN, root / f"gru-h{hidden}", [*TINY, f"model.hidden={hidden}"], data_root)
        for hidden in (16, 48)
    ]


def _records(run, split):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["split"] == split]


def _png(path):
    image = mpimg.imread(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return image


@pytest.mark.parametrize("x", ["steps", "minutes"])
def test_plot_curves_of_two_runs_through_the_cli(cli, two_runs, tmp_path, x):
    out = tmp_path / f"curves-{x}.png"
    proc = cli("plot", "curves", *two_runs, "--x", x, "-o", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == f"wrote {out}"
    image = _png(out)
    height, width = image.shape[:2]
    assert width > 1.8 * height and height > 300  # two panels side by side: loss, then BLEU
    colours = np.unique((image[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50 and out.stat().st_size > 20_000  # lines, text, a legend: not a blank canvas


@pytest.mark.parametrize("x", ["steps", "minutes"])
def test_curves_show_each_runs_records_and_best_checkpoint(two_runs, tmp_path, monkeypatch, x):
    """Inside the figure: one validation line per run with the values of its metrics.jsonl, a star at the
    best step of its summary.json, and a legend naming each run."""
    figures = []
    real_save = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or real_save(fig, path))
    main(["plot", "curves", *map(str, two_runs), "--x", x, "-o", str(tmp_path / "c.png")])
    (fig,) = figures
    loss_ax, bleu_ax = fig.axes
    assert "loss" in loss_ax.get_title() and bleu_ax.get_title() == "validation BLEU"
    legend = [t.get_text() for t in loss_ax.get_legend().get_texts()]
    assert legend[:2] == [run.name for run in two_runs] and "best checkpoint" in legend
    key, scale = ("step", 1) if x == "steps" else ("seconds", 1 / 60)
    for ax, name in ((loss_ax, "loss"), (bleu_ax, "bleu")):
        lines = [line for line in ax.get_lines() if line.get_marker() == "o"]
        stars = [line for line in ax.get_lines() if line.get_marker() == "*"]
        assert len(lines) == len(stars) == 2
        for run, line, star in zip(two_runs, lines, stars, strict=True):
            valid = _records(run, "valid")
            assert list(line.get_xdata()) == pytest.approx([r[key] * scale for r in valid])
            assert list(line.get_ydata()) == pytest.approx([r[name] for r in valid])
            best_step = json.loads((run / "summary.json").read_text())["best_step"]
            (best,) = [r for r in valid if r["step"] == best_step]
            assert (star.get_xdata()[0], star.get_ydata()[0]) == pytest.approx(
                (best[key] * scale, best[name])
            )
    plain = [line for line in loss_ax.get_lines() if line.get_marker() in ("None", "", None)]
    train = [line for line in plain if line.get_linestyle() == "-"]  # not the dotted best-step verticals
    for run, line in zip(two_runs, train, strict=True):
        assert list(line.get_ydata()) == pytest.approx([r["loss"] for r in _records(run, "train")])


def test_a_fitted_run_has_no_training_curve(cli, tmp_path, data_root):
    run = _train(NGRAM, tmp_path / "ngram", ["data.limit_chars=20000"], data_root)
    assert_user_error(cli("plot", "curves", run), f"{run} is a fitted model (n-gram", "no training curve")


def test_user_mistakes(cli, two_runs, tmp_path):
    assert_user_error(cli("plot", "curves", tmp_path / "nope", "-o", tmp_path / "c.png"), "does not exist")
    assert_user_error(cli("plot", "curves", two_runs[0], "--x", "hours"), "--x must be steps or minutes")
    # A run logged before metrics.jsonl recorded training time: steps work, minutes say why not.
    old = tmp_path / "old"
    shutil.copytree(two_runs[0], old)
    rows = [json.loads(line) for line in (old / "metrics.jsonl").read_text().splitlines()]
    (old / "metrics.jsonl").write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "seconds"}) + "\n" for r in rows)
    )
    assert cli("plot", "curves", old, "-o", tmp_path / "old.png").returncode == 0
    assert_user_error(cli("plot", "curves", old, "--x", "minutes"), "no training time", "--x steps")
    (old / "metrics.jsonl").unlink()
    assert_user_error(cli("plot", "curves", old), "has no metrics.jsonl")
