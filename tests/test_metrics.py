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


def test_multi_reference_bleu_matches_sacrebleu_and_credits_any_reference():
    """A hypothesis that matches its second reference scores 100; a hypothesis with fewer references than
    another gets None in the missing slot, exactly as sacreBLEU's own variable-reference call."""
    import sacrebleu

    hyps = ["Two dogs play in the snow.", "A man is riding a bike down the street."]
    refs = [["Two dogs are playing in snow.", "Two dogs play in the snow."], [REFS[0]]]
    assert metrics.bleu(hyps, refs) == pytest.approx(100.0)
    assert metrics.bleu(hyps, [r[0] for r in refs]) < 100.0  # the first reference alone misses
    streams = [[refs[0][0], refs[1][0]], [refs[0][1], None]]
    assert metrics.chrf(hyps, refs) == pytest.approx(sacrebleu.corpus_chrf(hyps, streams).score)
    assert metrics.reference_streams(REFS) == [REFS]


def test_multi_reference_groups_sources_by_their_normalised_form():
    from attnlab.tasks.translation import multi_reference

    pairs = [("Ve.", "Go."), ("ve", "Leave."), ("Corre.", "Run!"), ("Ve.", "Go.")]
    srcs, refs = multi_reference(pairs)
    assert srcs == ["Ve.", "Corre."] and refs == [["Go.", "Leave."], ["Run!"]]
