"""`attnlab evidence sparsity --quick`: n-gram sparsity on the real Nietzsche text, and what smoothing does."""

import json

from attnlab.evidence import run_experiment


def test_sparsity_quick(tmp_path, data_root, monkeypatch):
    monkeypatch.setenv("ATTNLAB_DATA", str(data_root))
    record = run_experiment("sparsity", quick=True, out=tmp_path)
    assert (tmp_path / "sparsity.png").stat().st_size > 0
    assert (tmp_path / "sparsity-perplexity.png").stat().st_size > 0
    json.loads((tmp_path / "sparsity.json").read_text())  # plain JSON: infinities are null
    n = record["numbers"]
    for unseen in (n["unseen_words_as_written"], n["unseen_model_vocab"]):
        shares = unseen["tokens"]
        assert all(b > a for a, b in zip(shares, shares[1:], strict=False)), shares
        assert shares[-1] > 0.8  # most held-out 5-grams never occur in training
    assert n["unseen_model_vocab"]["tokens"][0] == 0.0  # <unk> is in the model's vocabulary
    ppl, zeros = n["perplexity"], n["zero_prob_tokens"]
    # MLE: finite unigram (no unseen events), infinite from bigrams on, with more zeros as n grows.
    assert ppl["MLE"][0] is not None and ppl["MLE"][1] is None and ppl["MLE"][2] is None
    assert 0 == zeros["MLE"][0] < zeros["MLE"][1] < zeros["MLE"][2]
    # Smoothing: never a zero; Kneser-Ney finite and below both add-k settings at n = 2 and 3.
    for name in ("add-1", "add-0.01", "Kneser-Ney"):
        assert all(z == 0 for z in zeros[name]) and None not in ppl[name]
    for i in (1, 2):
        assert ppl["Kneser-Ney"][i] < min(ppl["add-1"][i], ppl["add-0.01"][i])
    assert "infinite" in record["reading"]
