"""The NBSVM scaling of the bag-of-n-grams classifier: naive-Bayes log-count ratios against a hand count."""

import math

import torch

from attnlab.models.classifier import AvgEmbeddingClassifier, AvgEmbeddingConfig


def _batch(rows, labels):
    lengths = torch.tensor([len(r) for r in rows])
    ids = torch.zeros(len(rows), int(lengths.max()), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
    return {"ids": ids, "lengths": lengths, "labels": torch.tensor(labels, dtype=torch.float32)}


def test_nb_ratios_are_smoothed_presence_log_count_ratios():
    # vocabulary ids 4..6; word 4 appears twice in the first positive review: presence counts it once.
    model = AvgEmbeddingClassifier(AvgEmbeddingConfig(embed_dim=1, nb_scale=True, nb_alpha=1.0), 7)
    model.fit_nb([_batch([[4, 4, 5], [4, 6], [6, 5]], [1, 1, 0])])
    # alpha 1 for every row 0..6; positive presence: 4 x2, 5 x1, 6 x1 -> p = [1,1,1,1,3,2,2], |p| = 11
    # negative: 5 x1, 6 x1 -> q = [1,1,1,1,1,2,2], |q| = 9
    p, q = [1, 1, 1, 1, 3, 2, 2], [1, 1, 1, 1, 1, 2, 2]
    expected = [math.log(a / 11) - math.log(b / 9) for a, b in zip(p, q, strict=True)]
    torch.testing.assert_close(model.nb_ratio, torch.tensor(expected), rtol=1e-6, atol=1e-6)
    assert "nb_ratio" in model.state_dict()  # saved with the weights, so a loaded run scores the same


def test_nb_scaling_multiplies_each_feature_embedding():
    cfg = AvgEmbeddingConfig(embed_dim=1, nb_scale=True, binary=True, pooling="sum")
    model = AvgEmbeddingClassifier(cfg, 7)
    with torch.no_grad():
        model.embedding.weight.fill_(1.0)
        model.nb_ratio.copy_(torch.arange(7, dtype=torch.float32))
        model.head[-1].weight.fill_(1.0)
        model.head[-1].bias.zero_()
    b = _batch([[4, 4, 5]], [1])
    assert model(b["ids"], b["lengths"]).item() == 4 + 5  # binary: word 4 once, each scaled by its ratio
