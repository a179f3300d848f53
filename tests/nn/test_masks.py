import torch

from attnlab.nn import causal_mask, combine, padding_mask, padding_mask_from_ids, to_attention_mask


def test_padding_mask_from_lengths():
    m = padding_mask(torch.tensor([3, 1, 0]))
    assert m.dtype == torch.bool and m.shape == (3, 3)
    assert m.tolist() == [[True, True, True], [True, False, False], [False, False, False]]
    assert padding_mask(torch.tensor([2]), max_len=4).tolist() == [[True, True, False, False]]


def test_padding_mask_from_ids():
    ids = torch.tensor([[5, 6, 0], [7, 0, 0]])
    assert padding_mask_from_ids(ids).tolist() == [[True, True, False], [True, False, False]]
    assert padding_mask_from_ids(ids, pad_id=7).tolist() == [[True, True, True], [False, True, True]]


def test_causal_mask_square_and_cached():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    # T_k > T_q: queries are the last T_q positions (cached decoding).
    m = causal_mask(2, 4)
    assert m.tolist() == [[True, True, True, False], [True, True, True, True]]
    assert causal_mask(1, 5).all()


def test_combine_broadcasts_and_skips_none():
    key = to_attention_mask(torch.tensor([[True, True, False]]))  # (1, 1, 1, 3)
    assert key.shape == (1, 1, 1, 3)
    both = combine(key, causal_mask(3), None)
    assert both.shape == (1, 1, 3, 3)
    assert both[0, 0].tolist() == [[True, False, False], [True, True, False], [True, True, False]]
    assert combine(None, None) is None
