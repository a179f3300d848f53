"""The one way the trainer tests build a Trainer: the task's recipe with `train` overrides, validated, on
the CPU, with the weights seeded by train.seed (as runs.train does)."""

import dataclasses

import torch

from attnlab.train.trainer import Trainer


def make_trainer(task, run_dir, **train) -> Trainer:
    cfg = dataclasses.replace(task.recipe.train, **train)
    cfg.validate()
    torch.manual_seed(cfg.seed)
    return Trainer(task, task.build_model(), cfg, run_dir, device=torch.device("cpu"), progress=False)
