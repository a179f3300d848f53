"""Figures: Korean and Latin labels both render (no missing-glyph boxes), and every plot writes a real PNG."""

import warnings

import numpy as np

from attnlab.viz import plots


def test_a_cjk_font_is_installed():
    # `make setup` installs fonts-nanum; without it Korean labels would be empty boxes.
    assert plots.has_cjk_font(), "install fonts-nanum (make system-deps) and clear ~/.cache/matplotlib"


def test_korean_and_latin_labels_render_without_missing_glyphs(tmp_path):
    """matplotlib warns "Glyph ... missing from font(s)" for every character it cannot draw; a heatmap with
    Hangul, Latin and the subword marker on its axes must produce none."""
    src, out = ["▁영화", "▁볼", "래?"], ["▁저도", "▁movie", "<eos>"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = plots.attention_heatmap(
            np.full((3, 3), 1 / 3), src, out, tmp_path / "ko.png", title="영화 볼래?"
        )
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    assert not missing, missing
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_pe_and_schedule_through_the_cli(cli, tmp_path):
    """`attnlab plot pe` and `plot schedule` write PNGs of the requested size (subprocess, end to end)."""
    import matplotlib.image as mpimg

    for args, name in (
        (["plot", "pe", "--d-model", "128", "--length", "50"], "pe.png"),
        (["plot", "schedule", "--d-model", "256", "--warmup", "4000"], "lr.png"),
    ):
        proc = cli(*args, "-o", tmp_path / name)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.strip() == f"wrote {tmp_path / name}"
        image = mpimg.imread(tmp_path / name)
        assert image.shape[0] > 200 and image.shape[1] > image.shape[0]  # landscape, not an empty canvas
        assert image[..., :3].std() > 0.05  # something was drawn


def test_plot_schedule_draws_the_noam_curve(monkeypatch, tmp_path):
    """The curve handed to the plot peaks at step = warmup with d_model^-0.5 · warmup^-0.5."""
    from attnlab.cli import main

    seen = {}

    def capture(steps, lrs, path, *, title):
        seen.update(steps=steps, lrs=lrs, title=title)
        return path

    monkeypatch.setattr(plots, "lr_schedule", capture)
    main(["plot", "schedule", "--d-model", "256", "--warmup", "4000", "-o", str(tmp_path / "lr.png")])
    peak = int(np.argmax(seen["lrs"]))
    assert seen["steps"][peak] == 4000 and "warmup=4000" in seen["title"]
    np.testing.assert_allclose(seen["lrs"][peak], 256**-0.5 * 4000**-0.5, rtol=1e-9)
    np.testing.assert_allclose(seen["lrs"][99], 256**-0.5 * 100 * 4000**-1.5, rtol=1e-9)  # linear warm-up
