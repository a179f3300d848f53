"""PaddedLSTM against PyTorch's packed nn.LSTM: same weights, same states and final h, same gradients."""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from attnlab.nn.rnn import PaddedLSTM, reverse_padded


def test_reverse_padded_reverses_within_length_only():
    x = torch.arange(10.0).view(2, 5, 1)
    got = reverse_padded(x, torch.tensor([3, 5]))[..., 0]
    assert got.tolist() == [[2.0, 1.0, 0.0, 3.0, 4.0], [9.0, 8.0, 7.0, 6.0, 5.0]]


def _copy_into_reference(ours: PaddedLSTM, ref: nn.LSTM) -> None:
    """nn.LSTM names layer l's weights *_l{l} and its backward direction *_l{l}_reverse."""
    with torch.no_grad():
        for layer in range(ours.layers):
            for d, rnns in enumerate([ours.forward_rnns, ours.backward_rnns][: 1 + ours.bidirectional]):
                for name, p in rnns[layer].named_parameters():
                    getattr(ref, name.replace("_l0", f"_l{layer}") + ("_reverse" if d else "")).copy_(p)


@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, False), (1, True), (2, True)])
def test_matches_packed_lstm(layers, bidirectional):
    torch.manual_seed(0)
    ours = PaddedLSTM(6, 5, layers, bidirectional)
    ref = nn.LSTM(6, 5, layers, batch_first=True, bidirectional=bidirectional)
    _copy_into_reference(ours, ref)
    lengths = torch.tensor([7, 3, 1, 5])
    x = torch.randn(4, 7, 6, dtype=torch.float64)
    ours, ref = ours.double(), ref.double()
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()

    states, h = ours(x1, lengths)
    packed = pack_padded_sequence(x2, lengths, batch_first=True, enforce_sorted=False)
    ref_out, (ref_h, _) = ref(packed)
    ref_states, _ = pad_packed_sequence(ref_out, batch_first=True, total_length=7)
    torch.testing.assert_close(states, ref_states)
    torch.testing.assert_close(h, ref_h)

    # Gradients of a loss over states and final h agree with the packed reference, input and weights.
    w = torch.randn_like(states)
    (states * w).sum().add(h.pow(2).sum()).backward()
    (ref_states * w).sum().add(ref_h.pow(2).sum()).backward()
    torch.testing.assert_close(x1.grad, x2.grad)
    torch.testing.assert_close(ours.forward_rnns[0].weight_hh_l0.grad, ref.weight_hh_l0.grad)
    if bidirectional:
        torch.testing.assert_close(
            ours.backward_rnns[-1].weight_ih_l0.grad, getattr(ref, f"weight_ih_l{layers - 1}_reverse").grad
        )
