import math

import pytest
import torch

from attnlab.nn import (
    LearnedPositionalEncoding,
    SinusoidalPositionalEncoding,
    apply_rotary,
    sinusoidal_encoding,
)


def test_sinusoidal_formula():
    pe = sinusoidal_encoding(7, 6)
    assert pe.shape == (7, 6)
    for pos in range(7):
        for i in range(3):
            angle = pos / 10000 ** (2 * i / 6)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-5)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-5)
    assert sinusoidal_encoding(3, 5).shape == (3, 5)  # odd d_model


def test_sinusoidal_module_offset_and_beyond_table():
    enc = SinusoidalPositionalEncoding(8, max_len=10)
    x = torch.zeros(2, 4, 8)
    torch.testing.assert_close(enc(x, offset=3)[0], sinusoidal_encoding(7, 8)[3:])
    torch.testing.assert_close(enc(x, offset=9)[0], sinusoidal_encoding(13, 8)[9:], atol=1e-5, rtol=1e-5)
    assert "pe" not in enc.state_dict()


def test_learned_encoding_offset_and_limit():
    enc = LearnedPositionalEncoding(6, 4)
    x = torch.zeros(1, 2, 4)
    torch.testing.assert_close(enc(x, offset=4)[0], enc.embedding.weight[4:6])
    with pytest.raises(ValueError, match="max_len=6"):
        enc(x, offset=5)


def test_rotary_depends_only_on_relative_position():
    q, k = torch.randn(2, 1, 8), torch.randn(2, 1, 8)
    pos = torch.tensor([3])

    def score(shift: int) -> torch.Tensor:
        return (apply_rotary(q, pos + shift) * apply_rotary(k, pos + shift - 2)).sum(-1)

    torch.testing.assert_close(score(0), score(11), atol=1e-5, rtol=1e-5)
    # Position 0 is the identity, and rotation preserves norms.
    torch.testing.assert_close(apply_rotary(q, torch.tensor([0])), q)
    torch.testing.assert_close(apply_rotary(q, pos).norm(dim=-1), q.norm(dim=-1))
    with pytest.raises(ValueError):
        apply_rotary(torch.randn(1, 3), torch.tensor([0]))
