"""Learning-rate schedules as pure functions of the step.

A pure function (rather than a torch LRScheduler) means resuming needs only the step number, and the
curve can be plotted without building an optimizer (`attnlab plot schedule`).
"""

from __future__ import annotations

import math


def noam(step: int, d_model: int, warmup: int, scale: float = 1.0) -> float:
    """Vaswani et al. (2017), eq. 3: lr = d_model^-0.5 · min(step^-0.5, step · warmup^-1.5).

    Rises linearly for `warmup` steps, then decays as 1/√step. `scale` multiplies the whole curve.
    """
    step = max(step, 1)
    return scale * d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)


def learning_rate(
    step: int,
    *,
    schedule: str,
    lr: float,
    warmup: int = 0,
    total_steps: int | None = None,
    d_model: int | None = None,
    min_lr: float = 0.0,
) -> float:
    """The learning rate at optimisation step `step` (1-based).

    constant      lr, after an optional linear warm-up
    noam          noam(step, d_model, warmup) · lr  (lr is then a multiplier; the paper uses 1.0)
    inverse-sqrt  lr · min(step/warmup, √(warmup/step)): the fairseq form, peak lr at `warmup`
    cosine        linear warm-up, then cosine from lr down to min_lr at total_steps
    """
    step = max(step, 1)
    if schedule == "noam":
        if d_model is None:
            raise ValueError("the noam schedule needs d_model")
        return noam(step, d_model, warmup, scale=lr)
    warm = min(1.0, step / warmup) if warmup > 0 else 1.0
    if schedule == "constant":
        return lr * warm
    if schedule == "inverse-sqrt":
        return lr * warm if step <= warmup else lr * math.sqrt(max(warmup, 1) / step)
    if schedule == "cosine":
        if step <= warmup:
            return lr * warm
        if not total_steps:
            raise ValueError("the cosine schedule needs total_steps")
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown schedule {schedule!r}; valid: constant, noam, inverse-sqrt, cosine")
