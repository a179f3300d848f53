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
