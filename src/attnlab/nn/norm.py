"""LayerNorm that computes and returns float32 under autocast.

Under CUDA autocast `layer_norm` runs in fp32 by itself; under CPU autocast it does not: a bf16 input gives a
bf16 output. PyTorch's CPU kernel accumulates the mean and variance in fp32, but the bf16 *output* then
carries the residual stream of a post-norm Transformer in bf16 from layer to layer, adding rounding at every
residual sum. Returning fp32 keeps the residual stream fp32 (the next Linear autocasts its own input to bf16,
so the matmuls still run fast). In fp32 and fp64 this is plain nn.LayerNorm.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class LayerNorm(nn.LayerNorm):
    def forward(self, x: Tensor) -> Tensor:
        if x.dtype not in (torch.float16, torch.bfloat16):
            return super().forward(x)
        weight = None if self.weight is None else self.weight.float()
        bias = None if self.bias is None else self.bias.float()
        return F.layer_norm(x.float(), self.normalized_shape, weight, bias, self.eps)  # (..., d) float32
