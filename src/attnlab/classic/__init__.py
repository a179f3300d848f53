"""Classic (non-neural) sentiment work: preprocessing, bag-of-words baselines, word2vec.

* `preprocess` — clean / tokenize / stop words / lemmas (simplemma) / stems (snowball), `Pipeline`.
* `stopwords` — our English stop-word list, `NEGATIONS`, and the list that keeps negations.
* `baselines` — `ClassicModel`: count or TF-IDF features with LogisticRegression or LightGBM, saved
  without pickle.
* `word2vec` — skip-gram vectors (gensim), `most_similar`, `embedding_matrix` for embedding layers.

Submodules are imported on use (``from attnlab.classic.baselines import ClassicModel``) so that
``import attnlab.classic`` stays cheap.
"""
