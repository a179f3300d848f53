"""`attnlab evidence vanishing-gradients --quick`: gradient over distance per cell, and delayed recall."""

import json

import numpy as np
import torch
from torch import nn

from attnlab.evidence import run_experiment
from attnlab.evidence.vanishing_gradients import SEED, DelayedRecall, _batch, gradient_profile


def test_vanishing_gradients_quick(tmp_path):
    record = run_experiment("vanishing-gradients", quick=True, out=tmp_path)
    assert (tmp_path / "vanishing-gradients.png").stat().st_size > 0
    assert (tmp_path / "vanishing-gradients-accuracy.png").stat().st_size > 0
    json.loads((tmp_path / "vanishing-gradients.json").read_text())
    n = record["numbers"]
    assert n["distance"][-1] == 30
    init = n["grad_norm_init"]
    for profile in init.values():
        assert len(profile) == 31 and all(v > 0 for v in profile)
        assert profile[30] < 1e-2 * profile[0]  # at initialisation every cell's gradient decays with distance
    # The LSTM's cell state (forget gate starting near 0.73) keeps far more of it 30 steps back than tanh.
    assert init["LSTM"][30] > 100 * init["RNN (tanh)"][30]
    # Short delays (3 and 5 steps) are learnt by every cell within the quick budget.
    for rows in n["accuracy"].values():
        assert [r["delay"] for r in rows] == [3, 5] and all(r["mean_accuracy"] > 0.9 for r in rows)
    assert "chance" in record["reading"].lower()


def test_gradient_profile_matches_autograd():
    """The hand-written NumPy BPTT (attnlab.scratch) gives the same ∂loss/∂h_t as torch's autograd."""
    torch.manual_seed(0)
    for cell in (nn.RNN, nn.LSTM, nn.GRU):
        model = DelayedRecall(cell, hidden=8).double()
        delay = 6
        profile = gradient_profile(model, delay, n=4)
        # Autograd reference: unroll one step at a time so each h_t is a tensor we can ask the gradient of.
        x, y = _batch(4, delay, torch.Generator().manual_seed(SEED + 3))
        xs = model.emb(x).detach()
        state, hs = None, []
        for t in range(delay + 1):
            _, state = model.rnn(xs[:, t : t + 1], state)
            h = state[0] if isinstance(state, tuple) else state  # (1, B, H); the LSTM's c stays separate
            h.retain_grad()
            hs.append(h)
        torch.nn.functional.cross_entropy(model.head(hs[-1][0]), y, reduction="sum").backward()
        expected = [hs[delay - d].grad[0].norm(dim=1).mean().item() for d in range(delay + 1)]
        np.testing.assert_allclose(profile, expected, rtol=1e-6)
