"""Our own English stop-word list (no NLTK download, no sklearn list).

`STOP_WORDS` holds common English function words: articles, pronouns, auxiliaries, prepositions,
conjunctions, a few frequent adverbs and the contracted forms our tokenizer keeps whole (``i'm``,
``don't``). It *includes* the negations, like most published lists do. For sentiment, dropping
"not" turns "not good" into "good", so `STOP_WORDS_KEEP_NEGATIONS` is the same list without
`NEGATIONS`.
"""

from __future__ import annotations

NEGATIONS: frozenset[str] = frozenset(
    {
        # plain negators
        "not", "no", "never", "nor", "n't", "none", "nobody", "nothing", "nowhere", "neither", "cannot",
        # contracted forms (our tokenizer keeps "don't" as one token)
        "don't", "doesn't", "didn't", "isn't", "aren't", "wasn't", "weren't", "hasn't", "haven't",
        "hadn't", "won't", "wouldn't", "can't", "couldn't", "shouldn't", "mustn't", "needn't",
        "ain't", "shan't", "mightn't",
        # the same, typed without the apostrophe (common in user reviews)
        "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "hasnt", "havent", "hadnt",
        "wouldnt", "cant", "couldnt", "shouldnt", "aint",
    }
)  # fmt: skip

_FUNCTION_WORDS: frozenset[str] = frozenset(
    {
        # articles and determiners
        "a", "an", "the", "this", "that", "these", "those", "each", "every", "some", "any", "all",
        "both", "few", "more", "most", "other", "another", "such", "own", "same", "either",
        # personal, possessive and reflexive pronouns
        "i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "ourselves", "you", "your",
        "yours", "yourself", "yourselves", "he", "him", "his", "himself", "she", "her", "hers",
        "herself", "it", "its", "itself", "they", "them", "their", "theirs", "themselves",
        # interrogatives and relatives
        "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "whatever",
        # auxiliaries and modals
        "am", "is", "are", "was", "were", "be", "been", "being", "have", "has", "had", "having",
        "do", "does", "did", "doing", "will", "would", "shall", "should", "can", "could", "may",
        "might", "must", "ought",
        # prepositions
        "about", "above", "across", "after", "against", "along", "among", "around", "at", "before",
        "behind", "below", "beneath", "beside", "between", "beyond", "by", "down", "during", "for",
        "from", "in", "inside", "into", "near", "of", "off", "on", "onto", "out", "over", "through",
        "throughout", "to", "toward", "towards", "under", "until", "up", "upon", "with", "within",
        "without", "via",
        # conjunctions
        "and", "but", "or", "so", "if", "because", "as", "while", "although", "though", "whether",
        "than", "then", "once", "unless", "whereas", "since",
        # frequent adverbs and particles
        "here", "there", "again", "further", "also", "just", "only", "very", "too", "now", "already",
        "still", "quite", "rather", "else", "ever", "often", "yet",
        # contracted pronoun + auxiliary forms kept whole by our tokenizer
        "i'm", "i've", "i'll", "i'd", "you're", "you've", "you'll", "you'd", "he'd", "he'll",
        "she'd", "she'll", "we're", "we've", "we'll", "we'd", "they're", "they've", "they'll",
        "they'd", "that'll", "there'd", "there'll", "who'd", "who'll", "who've",
        # fragments left when an apostrophe was lost ("don t", "i m")
        "s", "t", "d", "ll", "m", "re", "ve",
    }
)  # fmt: skip

STOP_WORDS: frozenset[str] = _FUNCTION_WORDS | NEGATIONS
"""The English stop-word list, negations included."""

STOP_WORDS_KEEP_NEGATIONS: frozenset[str] = STOP_WORDS - NEGATIONS
"""The stop-word list without the negations, for sentiment work."""


def is_negation(token: str) -> bool:
    """True for a negation word or any "...n't" contraction."""
    return token in NEGATIONS or token.endswith("n't")


def stop_words(keep_negations: bool = False) -> frozenset[str]:
    """The stop-word set to use: with or without the negations."""
    return STOP_WORDS_KEEP_NEGATIONS if keep_negations else STOP_WORDS
