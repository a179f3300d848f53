"""alignment: the quick run trains a small Bahdanau model and measures its maps against an untrained twin;
the peakedness measures themselves are checked on maps whose answers are known."""

import json
import math

import numpy as np

from attnlab.evidence import alignment, run_experiment


def test_quick_run_maps_are_distributions_and_training_sharpens_them(tmp_path):
    record = run_experiment("alignment", quick=True, out=tmp_path)
    numbers = record["numbers"]
    json.dumps(numbers, allow_nan=False)
    trained, untrained = numbers["trained"], numbers["untrained"]
    assert trained["rows"] == untrained["rows"] > 0  # teacher-forced: the very same rows for both
    for stats in (trained, untrained):
        assert stats["row_sum_max_error"] < 1e-5  # every attention row is a distribution over the source
        assert 0.0 <= stats["diagonal_share"] <= 1.0
    assert untrained["entropy"] > 0.95 * untrained["uniform_entropy"]  # random weights: nearly even
    assert trained["entropy"] < untrained["entropy"]  # even 60 steps of training sharpen the maps
    assert numbers["examples"] and numbers["model"]["run"] == "trained here"
    assert (tmp_path / "alignment.png").stat().st_size > 10_000
    assert "Quick run" in record["reading"]


def test_peakedness_on_known_maps():
    uniform = alignment._peakedness([np.full((4, 5), 0.2)])
    assert math.isclose(uniform["entropy"], math.log(5)) and math.isclose(
        uniform["uniform_entropy"], math.log(5)
    )
    diagonal = alignment._peakedness([np.eye(6)])
    assert diagonal["entropy"] < 1e-9 and diagonal["diagonal_share"] == 1.0
    assert diagonal["diagonal_chance"] < 0.5 and diagonal["row_sum_max_error"] < 1e-12
    reversed_ = alignment._peakedness([np.eye(6)[::-1]])
    assert reversed_["diagonal_share"] < 0.5
