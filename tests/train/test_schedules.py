"""Learning-rate schedules against their formulas, computed by hand."""

import math

import pytest

from attnlab.train.schedules import learning_rate, noam


@pytest.mark.parametrize("step", [1, 2, 10, 399, 400, 401, 1000, 4000, 100_000])
def test_noam_matches_the_paper(step):
    d, w = 512, 400
    expected = d**-0.5 * min(step**-0.5, step * w**-1.5)
    assert noam(step, d, w) == pytest.approx(expected, rel=1e-12)
    assert learning_rate(step, schedule="noam", lr=2.0, warmup=w, d_model=d) == pytest.approx(2 * expected)


def test_noam_hand_values_and_peak_at_warmup():
    # d=64, warmup=16: step 4 -> 64^-0.5 * 4 * 16^-1.5 = 1/8 * 4/64 = 1/128; step 64 -> 1/8 * 1/8 = 1/64
    assert noam(4, 64, 16) == pytest.approx(1 / 128)
    assert noam(16, 64, 16) == pytest.approx(1 / 32)  # peak = (d * warmup)^-0.5
    assert noam(64, 64, 16) == pytest.approx(1 / 64)
    curve = [noam(s, 64, 16) for s in range(1, 200)]
    assert max(range(len(curve)), key=curve.__getitem__) + 1 == 16
    assert all(a < b for a, b in zip(curve[:15], curve[1:16], strict=True))  # rises linearly
    assert all(a > b for a, b in zip(curve[15:], curve[16:], strict=False))  # then decays
    assert noam(0, 64, 16) == noam(1, 64, 16)  # step 0 is treated as step 1, no division by zero
    with pytest.raises(ValueError, match="d_model"):
        learning_rate(1, schedule="noam", lr=1.0, warmup=16)


def test_cosine_endpoints_and_midpoint():
    kw = dict(schedule="cosine", lr=1e-3, warmup=10, total_steps=110, min_lr=1e-5)
    assert learning_rate(5, **kw) == pytest.approx(5e-4)  # linear warm-up
    assert learning_rate(10, **kw) == pytest.approx(1e-3)  # peak at warmup
    assert learning_rate(60, **kw) == pytest.approx(1e-5 + 0.5 * (1e-3 - 1e-5))  # halfway
    assert learning_rate(110, **kw) == pytest.approx(1e-5)  # floor at total_steps
    assert learning_rate(500, **kw) == pytest.approx(1e-5)  # and stays there
    values = [learning_rate(s, **kw) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))
    with pytest.raises(ValueError, match="total_steps"):
        learning_rate(20, schedule="cosine", lr=1.0, warmup=10)
    assert learning_rate(1, schedule="cosine", lr=1.0, total_steps=1) == pytest.approx(0.0)


def test_inverse_sqrt_is_continuous_at_warmup():
    kw = dict(schedule="inverse-sqrt", lr=0.01, warmup=100)
    assert learning_rate(50, **kw) == pytest.approx(0.005)
    assert learning_rate(100, **kw) == pytest.approx(0.01)
    assert learning_rate(400, **kw) == pytest.approx(0.005)  # sqrt(100/400) = 1/2
    before, after = learning_rate(100, **kw), learning_rate(101, **kw)
    assert after == pytest.approx(0.01 * math.sqrt(100 / 101))
    assert abs(after - before) < 1e-4


def test_constant_with_and_without_warmup():
    assert learning_rate(1, schedule="constant", lr=0.1) == 0.1
    assert learning_rate(3, schedule="constant", lr=0.1, warmup=4) == pytest.approx(0.075)
    assert learning_rate(1000, schedule="constant", lr=0.1, warmup=4) == 0.1
    with pytest.raises(ValueError, match="unknown schedule"):
        learning_rate(1, schedule="linear", lr=0.1)
