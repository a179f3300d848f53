"""Count-based n-gram language models, by hand: counting, MLE, add-k, (modified) Kneser-Ney, Katz,
stupid back-off. ``counts`` holds the tables, ``smoothing`` the estimators, ``model`` the `NGramLM` API,
``arpa`` the ARPA back-off file writer (for KenLM / SRILM).
"""

from attnlab.ngram.arpa import write_arpa
from attnlab.ngram.counts import BOS, EOS, PAD, UNK, NGramCounts, NGramVocab
from attnlab.ngram.model import Factor, NGramLM, PerplexityReport, SentenceScore
from attnlab.ngram.smoothing import SMOOTHINGS

__all__ = [
    "BOS",
    "EOS",
    "PAD",
    "SMOOTHINGS",
    "UNK",
    "Factor",
    "NGramCounts",
    "NGramLM",
    "NGramVocab",
    "PerplexityReport",
    "SentenceScore",
    "write_arpa",
]
