"""Probabilities on a tiny corpus, checked against arithmetic written out by hand.

Corpus (Jurafsky & Martin's "Sam I am"), padded for a bigram model:
    <s> I am Sam </s> | <s> Sam I am </s> | <s> I do not like green eggs and ham </s>
14 words + 3 </s> = 17 predicted tokens. V' = 10 words + <unk> + </s> = 12 predictable tokens.
Bigram counts: (<s> I)=2, (I am)=2, every other one of the 15 bigram types = 1; c(I) as a context = 3.
"""

from fractions import Fraction as F

import numpy as np
import pytest

from attnlab.ngram import NGramLM
from attnlab.ngram.smoothing import good_turing_discounts, kn_discount, modified_kn_discounts

SAM = [s.split() for s in ["I am Sam", "Sam I am", "I do not like green eggs and ham"]]
V_PRED = 12
N_TOKENS = 17


def close(a, b):
    assert float(a) == pytest.approx(float(b), rel=1e-12, abs=1e-15)


def test_vocab_and_event_space():
    lm = NGramLM(2, "mle").fit(SAM)
    assert lm.vocab.tokens[:4] == ("<pad>", "<unk>", "<s>", "</s>")
    assert lm.vocab.n_predictable == V_PRED
    assert lm.vocab.tokens[4] == "I"  # most frequent word first (3 times; "am" and "Sam" 2)


def test_unigram_mle_is_count_over_tokens():
    lm = NGramLM(1, "mle").fit(SAM)
    close(lm.prob("I"), F(3, N_TOKENS))  # "I" occurs 3 times among 17 predicted tokens
    close(lm.prob("</s>"), F(3, N_TOKENS))
    close(lm.prob("ham"), F(1, N_TOKENS))
    assert lm.prob("<s>") == 0.0 and lm.prob("zebra") == 0.0  # never predicted / unseen word


def test_bigram_mle():
    lm = NGramLM(2, "mle").fit(SAM)
    close(lm.prob("I", ("<s>",)), F(2, 3))  # c(<s> I)=2 / c(<s>)=3
    close(lm.prob("am", ("I",)), F(2, 3))  # c(I am)=2 / c(I)=3
    close(lm.prob("</s>", ("Sam",)), F(1, 2))  # c(Sam </s>)=1 / c(Sam)=2
    assert lm.prob("ham", ("I",)) == 0.0


def test_add_one_and_lidstone():
    lap = NGramLM(2, "add-k", k=1.0).fit(SAM)
    close(lap.prob("am", ("I",)), F(2 + 1, 3 + 12))  # (c(I am) + 1) / (c(I) + |V'|)
    close(lap.prob("ham", ("I",)), F(0 + 1, 3 + 12))
    close(lap.prob("am", ("zebra",)), F(1, 12))  # unseen context: uniform


def test_lidstone():
    lid = NGramLM(2, "add-k", k=0.5).fit(SAM)
    close(lid.prob("am", ("I",)), F(5, 2) / 9)  # (2 + 0.5) / (3 + 0.5·12)


D = F(3, 4)
# Unigram level of interpolated KN uses continuation counts N1+(• w) = distinct left neighbours:
# I: {<s>, Sam}=2, am: {I}=1, Sam: {am, <s>}=2, </s>: {Sam, am, ham}=3, the 7 other words 1 each.
# N1+(• •) = 15 bigram types; 11 types have N1+(• w) > 0, so λ0 = D·11/15 = 0.55 goes to 1/|V'|.
LAMBDA0 = D * 11 / 15


def p1(cont):
    return max(F(cont) - D, 0) / 15 + LAMBDA0 / V_PRED


def test_kneser_ney_bigram_d075():
    lm = NGramLM(2, "kneser-ney", discount=0.75).fit(SAM)
    # context "I": c(I am)=2, c(I do)=1, c(I)=3, N1+(I •)=2  ->  λ(I) = 0.75·2/3 = 0.5
    lam_i = D * 2 / 3
    close(lm.prob("am", ("I",)), (2 - D) / 3 + lam_i * p1(1))  # = 0.44791666…
    close(lm.prob("am", ("I",)), 0.4479166666666667)
    close(lm.prob("do", ("I",)), (1 - D) / 3 + lam_i * p1(1))
    close(lm.prob("ham", ("I",)), lam_i * p1(1))
    close(lm.prob("<unk>", ("I",)), lam_i * p1(0))  # 0.5 · 0.55/12
    close(lm.prob("am", ("zebra",)), p1(1))  # unseen context -> lower order
    close(lm.prob("</s>", ()), p1(3))


def test_kneser_ney_trigram_d075():
    lm = NGramLM(3, "kneser-ney", discount=0.75).fit(SAM)
    # top: c(I am Sam)=1, c(I am </s>)=1 -> c(I am)=2, N1+(I am •)=2
    # middle (continuation counts): N1+(• am Sam)=|{I}|=1, N1+(• am </s>)=|{I}|=1 -> total 2, 2 types
    p_sam_uni = p1(2)  # (2 - 0.75)/15 + 0.55/12 = 0.1291666…
    p_sam_am = (1 - D) / 2 + (D * 2 / 2) * p_sam_uni  # 0.125 + 0.75·0.1291666… = 0.221875
    p_sam_i_am = (1 - D) / 2 + (D * 2 / 2) * p_sam_am  # 0.125 + 0.75·0.221875
    close(p_sam_i_am, F(29140625, 10**8))
    close(lm.prob("Sam", ("I", "am")), p_sam_i_am)
    close(lm.prob("Sam", ("zebra", "am")), p_sam_am)  # unseen trigram context backs off to "am"


def test_katz_bigram_fallback_hand_computed():
    lm = NGramLM(2, "katz").fit(SAM)
    # Unigram counts: I 3, </s> 3, am 2, Sam 2, 7 words once -> n1=7, n2=2, n3=2.
    # Good-Turing k=2: A = 3·n3/n1 = 6/7, r*1 = 2·n2/n1 = 4/7 -> d1 = (4/7-6/7)/(1/7) = -2 (invalid);
    # k=1: A = 2·n2/n1 = 4/7 = r*1 -> d1 = 0 (invalid) -> absolute discount D = n1/(n1+2n2) = 7/11.
    d1 = F(7, 11)
    left0 = 11 * d1 / N_TOKENS  # 11 seen types each lose D -> 7/17 spread over |V'|

    def uni(c):
        return max(c - d1, 0) / N_TOKENS + left0 / V_PRED  # c=0: only the uniform share

    # Bigram counts: n1=13, n2=2 -> GT unusable (n3=0) -> D = 13/17.
    d2 = F(13, 17)
    q_am, q_do = (2 - d2) / 3, (1 - d2) / 3  # discounted seen bigrams after "I"
    close(lm.prob("am", ("I",)), q_am)  # = 7/17
    alpha_i = (1 - q_am - q_do) / (1 - uni(2) - uni(1))  # left-over / unigram mass of unseen words
    close(lm.prob("Sam", ("I",)), alpha_i * uni(2))
    close(lm.prob("<unk>", ("I",)), alpha_i * uni(0))
    close(lm.prob("am", ("zebra",)), uni(2))


def test_stupid_backoff_scores():
    lm = NGramLM(2, "stupid-backoff").fit(SAM)
    close(lm.prob("am", ("I",)), F(2, 3))
    close(lm.prob("Sam", ("I",)), F(2, 5) * F(2, N_TOKENS))  # 0.4 · c(Sam)/N
    close(lm.prob("Sam", ("zebra",)), F(2, 5) * F(2, N_TOKENS))
    assert lm.next_distribution(("I",)).sum() > 1  # a score, not a distribution (documented)


def test_discount_estimates():
    c = np.array([1, 1, 1, 2, 2, 3])
    close(kn_discount(c), F(3, 3 + 2 * 2))  # n1/(n1 + 2 n2)
    c = np.repeat([1, 2, 3, 4, 9], [10, 5, 3, 2, 1])  # n1=10, n2=5, n3=3, n4=2
    y = F(10, 20)
    d1, d2, d3 = modified_kn_discounts(c)
    close(d1, 1 - 2 * y * F(5, 10))  # 0.5
    close(d2, 2 - 3 * y * F(3, 5))  # 1.1
    close(d3, 3 - 4 * y * F(2, 3))  # 5/3


def test_good_turing_katz_multipliers():
    c = np.repeat([1, 2, 3, 7], [10, 4, 2, 1])  # n1=10, n2=4, n3=2
    d, how = good_turing_discounts(c, k_max=2)
    assert how == "good-turing k=2"
    a = F(3 * 2, 10)  # (k+1) n3 / n1
    d1 = (F(2 * 4, 10) / 1 - a) / (1 - a)  # r*=(r+1)n_{r+1}/n_r: 0.8 -> 0.5
    d2 = (F(3 * 2, 4) / 2 - a) / (1 - a)  # 1.5/2 -> 0.375
    close(d[0], d1)
    close(d[10], d2)
    assert d[-1] == 1.0  # counts above k are trusted
