"""torchrun / DistributedDataParallel plumbing, kept out of the training loop.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; when WORLD_SIZE > 1 we join the process group (gloo on CPU,
NCCL on CUDA) and wrap the model in DDP. Without torchrun everything here is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def single(cls) -> DistContext:
        return cls()

    @classmethod
    def from_env(cls, device: torch.device | None = None) -> DistContext:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        if not dist.is_initialized():
            backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
            dist.init_process_group(backend=backend)
        return cls(
            rank=dist.get_rank(),
            world_size=dist.get_world_size(),
            local_rank=int(os.environ.get("LOCAL_RANK", 0)),
        )

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        if self.world_size == 1:
            return model
        ids = [device.index] if device.type == "cuda" else None
        # find_unused_parameters: some recipes skip modules on some steps (e.g. teacher forcing off).
        # broadcast_buffers=False: no model here changes a buffer while training (positions, NB ratios are
        # fixed), and the NBSVM ratios alone are megabytes that DDP would otherwise resend at every step.
        return nn.parallel.DistributedDataParallel(
            model, device_ids=ids, find_unused_parameters=False, broadcast_buffers=False
        )

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        if self.world_size == 1:
            return value
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        return value

    def broadcast_object(self, obj):
        if self.world_size == 1:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def close(self) -> None:
        if self.world_size > 1 and dist.is_initialized():
            dist.destroy_process_group()
