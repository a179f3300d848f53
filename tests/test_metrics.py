"""sacreBLEU wrappers: detokenised corpus BLEU, its lower-cased variant, chrF and the length buckets."""

import pytest

from attnlab import metrics

REFS = ["A man is riding a bike down the street.", "Two dogs play in the snow."]


def test_bleu_is_100_on_the_references_and_falls_with_a_wrong_word():
    assert metrics.bleu(REFS, REFS) == pytest.approx(100.0)
    assert metrics.bleu(["A man is riding a horse down the street.", REFS[1]], REFS) < 100.0


def test_lowercase_bleu_ignores_case_and_cased_bleu_does_not():
    shouted = [r.upper() for r in REFS]
    assert metrics.bleu(shouted, REFS) < 10.0
    assert metrics.bleu(shouted, REFS, lowercase=True) == pytest.approx(100.0)


def test_chrf_rewards_partial_words_and_empty_input_scores_zero():
    near = ["A man is ridin a bike down the stret.", REFS[1]]
    assert 50.0 < metrics.chrf(near, REFS) < 100.0
    assert metrics.bleu([], []) == 0.0 and metrics.chrf([], []) == 0.0


def test_length_buckets_follow_the_edges():
    assert metrics.length_buckets([1, 5, 6, 30, 31], (5, 30)) == ["1-5", "1-5", "6-30", "6-30", "31+"]
