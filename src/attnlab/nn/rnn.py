"""An LSTM over right-padded batches without packing: the fast way to run long reviews on a CPU.

``pack_padded_sequence`` is the textbook way to keep padding out of an RNN, but PyTorch's CPU backward
through a packed LSTM grows superlinearly with the sequence length: measured here (2-core EPYC, torch
2.13, 1 thread, batch 64, 128 -> 64 per direction), forward + backward of a BiLSTM takes 0.92 s padded
and 12.1 s packed at 500 tokens, 0.04 s against 0.10 s at 80. So this module runs the fused
``nn.LSTM`` kernel over the padded batch and handles padding itself:

  * forward direction: right padding comes *after* the real tokens, so the outputs at real positions
    are exact; the final state of each sequence is the output at position ``length - 1``;
  * backward direction: each sequence is reversed *within its length* (padding stays at the end), run
    forward through its own LSTM, and reversed back, so it too starts from a zero state at the last
    real token.

Outputs at padded positions are zeroed, as ``pad_packed_sequence`` would leave them. Only the final
hidden state h is returned: the cell state c after the padding is not recoverable from the outputs,
which is why the seq2seq encoders (short sentences, and their decoder needs c) still pack.

    x (B, T, I), lengths (B,) >= 1  ->  states (B, T, D·H), final h (L·D, B, H)   (D = 2 if bidirectional)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def reverse_padded(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each row of x (B, T, ...) within its length; positions >= length stay where they are."""
    t = torch.arange(x.size(1), device=x.device)
    last = (lengths.to(x.device) - 1).unsqueeze(1)  # (B, 1)
    index = torch.where(t < lengths.to(x.device).unsqueeze(1), last - t, t)  # (B, T)
    return x.gather(1, index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x))


class PaddedLSTM(nn.Module):
    """Stacked, optionally bidirectional LSTM over right-padded batches (see the module docstring).

    Each layer and direction is its own single-layer ``nn.LSTM`` (``forward.0``, ``backward.0``, ...),
    so every call is one fused kernel over the whole batch. Dropout is applied between layers, as in
    ``nn.LSTM(dropout=...)``.
    """

    def __init__(
        self, input_size: int, hidden: int, layers: int = 1, bidirectional: bool = False, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.hidden, self.layers, self.bidirectional = hidden, layers, bidirectional
        dirs = 2 if bidirectional else 1
        sizes = [input_size] + [dirs * hidden] * (layers - 1)
        self.forward_rnns = nn.ModuleList(nn.LSTM(size, hidden, batch_first=True) for size in sizes)
        self.backward_rnns = (
            nn.ModuleList(nn.LSTM(size, hidden, batch_first=True) for size in sizes)
            if bidirectional
            else None
        )
        self.dropout = nn.Dropout(dropout)

    def lstms(self) -> list[nn.LSTM]:
        """Every single-layer LSTM, forward directions first (for custom initialisation)."""
        return [*self.forward_rnns, *(self.backward_rnns or [])]

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        b, t, _ = x.shape
        real = (torch.arange(t, device=x.device) < lengths.to(x.device).unsqueeze(1)).unsqueeze(-1)
        last = (lengths.to(x.device) - 1).view(b, 1, 1).expand(b, 1, self.hidden)
        finals = []
        for layer in range(self.layers):
            if layer:
                x = self.dropout(x)
            out = self.forward_rnns[layer](x)[0]  # (B, T, H)
            finals.append(out.gather(1, last).squeeze(1))
            if self.backward_rnns is not None:
                rev = self.backward_rnns[layer](reverse_padded(x, lengths))[0]
                finals.append(rev.gather(1, last).squeeze(1))
                out = torch.cat([out, reverse_padded(rev, lengths)], dim=-1)  # (B, T, 2H)
            x = out * real  # zero the padded positions
        return x, torch.stack(finals)  # (B, T, D·H), (L·D, B, H) in nn.LSTM's order
