"""NumPy-only, from-scratch references: recurrent layers and attention with hand-written backward passes.

These are for reading and for checking, not for training: `nn/` and `models/` hold the torch versions.
Every layer keeps `params`, `grads` (written by `backward`) and `cache` (written by `forward`), and
`backward` takes one gradient per output and returns one per input (see `rnn.py`).

    from attnlab.scratch import LSTM, check_layer, from_torch
    layer = from_torch(torch.nn.LSTM(8, 16, batch_first=True))   # same weights, NumPy float64
    hs, h_T, c_T = layer.forward(xs)
    dxs, dh0, dc0 = layer.backward(dhs)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attnlab.errors import UserError
from attnlab.scratch.attention import AdditiveAttention, DotProductAttention, masked_softmax, softmax_backward
from attnlab.scratch.gradcheck import check_layer, numeric_grad, relative_error
from attnlab.scratch.gru import GRU, GRUCell
from attnlab.scratch.lstm import LSTM, LSTMCell
from attnlab.scratch.rnn import RNN, RNNCell, SequenceLayer

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "AdditiveAttention",
    "DotProductAttention",
    "GRUCell",
    "LSTMCell",
    "RNNCell",
    "SequenceLayer",
    "check_layer",
    "from_torch",
    "masked_softmax",
    "numeric_grad",
    "relative_error",
    "softmax_backward",
]


def from_torch(module: Any, dtype: Any = np.float64) -> RNN | LSTM | GRU:
    """The NumPy layer with the weights of a single-layer, unidirectional, batch_first
    torch.nn.RNN (tanh), torch.nn.LSTM or torch.nn.GRU. Raises UserError for anything else."""
    kind = type(module).__name__
    layers: dict[str, Any] = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}
    if kind not in layers:
        raise UserError(f"from_torch copies torch.nn.RNN, LSTM or GRU, not {kind}; pass one of those")
    return layers[kind].from_torch(module, dtype)
