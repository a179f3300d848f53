"""The EDA figures are written as real PNG images."""

import matplotlib.image as mpimg

from attnlab.viz.eda import FIGURES, imdb_figures


def test_imdb_figures_writes_all_pngs(train_slice, tmp_path):
    texts = [t for t, _ in train_slice[:600]]
    result = imdb_figures(texts, tmp_path / "eda")
    assert set(result["files"]) == set(FIGURES)
    for path in result["files"].values():
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        image = mpimg.imread(path)
        assert image.shape[0] > 200 and image.shape[1] > 300
        assert image.std() > 0.01  # not a blank canvas
    sizes = result["vocab_sizes"]
    assert sizes["lemma"] < sizes["no_stop"] < sizes["raw"]
    assert sizes["stem"] < sizes["raw"]
    assert result["n_reviews"] == 600 and result["word_count"]["q99"] <= result["word_count"]["max"]
