"""The one training loop, used by every task.

    for epoch:                                   batches fixed by (seed, epoch) -> exact resume
        for batch in task.train_batches(epoch)[position:]:
            loss = task.loss(model, batch) / batch.units        masked token / example mean
            backward, clip, set lr = schedule(step), optimizer.step
            every log_every steps: metrics.jsonl and TensorBoard (RUN/tb/, train/tblog.py)
            every eval_every steps (or per epoch): validate, log, checkpoint, early-stop
            budget exhausted (max_minutes/max_steps)? checkpoint and stop

Distributed: under torchrun each rank takes rows rank::world of every *global* batch and the loss is
normalised by the global unit count, so N processes follow the same curve as one process with the same
batch. Only rank 0 writes logs and checkpoints.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from rich.markup import escape
from torch import nn

from attnlab.config import TrainConfig
from attnlab.data.batching import Batch
from attnlab.errors import UserError
from attnlab.train import checkpoint as ckpt
from attnlab.train.distributed import DistContext
from attnlab.train.precision import Precision, resolve_threads
from attnlab.train.precision import choose as choose_precision
from attnlab.train.progress import ProgressReporter
from attnlab.train.schedules import learning_rate
from attnlab.train.tblog import TensorBoardLog


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("--device mps was asked for but MPS is not available; use --device cpu or auto")
    if name == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device(name)


def grad_norm(params) -> torch.Tensor:
    """The global L2 norm of the gradients, what clip_grad_norm_ measures, without touching them."""
    params = [p for p in params if p.grad is not None]
    if hasattr(nn.utils, "get_total_norm"):  # torch >= 2.6
        return nn.utils.get_total_norm([p.grad for p in params])
    return nn.utils.clip_grad_norm_(params, math.inf)  # max_norm inf: scales by 1, i.e. leaves them alone


def param_groups(params, weight_decay: float) -> list[dict]:
    """Weight decay on matrices and embeddings only (dim >= 2), never on biases or LayerNorm gains: decaying
    a gain towards 0 shrinks the whole layer's output, which is not the regularisation decay is meant to be
    (nanoGPT and Hugging Face's Trainer group parameters the same way)."""
    params = list(params)
    if not weight_decay:
        return [{"params": params}]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def build_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = param_groups(params, cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(
            params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay
        )
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(
            params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay
        )
    if cfg.optimizer == "rmsprop":
        # Keras' RMSprop defaults (rho 0.9, eps 1e-7), which the seed's char-LSTM recipe was tuned with.
        return torch.optim.RMSprop(params, lr=cfg.lr, alpha=0.9, eps=1e-7, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)


@dataclass
class TrainState:
    """Everything besides tensors that resuming needs, saved in trainer.json."""

    step: int = 0
    epoch: int = 0
    position: int = 0  # index of the next batch within `epoch`
    best: float | None = None
    best_step: int | None = None
    bad_evals: int = 0
    tokens: int = 0
    train_seconds: float = 0.0
    precision: str | None = None  # "fp32" / "bf16" / "fp16", fixed at the first step, kept on resume
    history: list[dict] = field(default_factory=list)  # validation results, for the closing summary
    recent: list[float] = field(default_factory=list)  # training losses since the last log line
    recent_grad_norms: list[float] = field(default_factory=list)  # gradient norms since the last log line


@dataclass
class TrainResult:
    run_dir: Path
    state: TrainState
    stopped: str  # "done", "early-stop", "budget", "max-steps", "interrupted"
    tokens_per_second: float


class TrainableTask(Protocol):
    """What the trainer needs from a task (attnlab.tasks.base.Task provides it): nothing more."""

    name: str
    higher_is_better: dict[str, bool]

    def train_batches(self, epoch: int) -> Sequence[Batch]: ...
    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor: ...
    def evaluate(self, model: nn.Module, split: str = "valid") -> dict[str, float]: ...
    def model_dim(self) -> int: ...


class Trainer:
    def __init__(
        self,
        task: TrainableTask,
        model: nn.Module,
        cfg: TrainConfig,
        run_dir: Path,
        *,
        dist: DistContext | None = None,
        device: torch.device | None = None,
        progress: bool | None = None,
    ):
        self.task, self.cfg, self.run_dir = task, cfg, Path(run_dir)
        self.dist = dist or DistContext.single()
        self.device = device or resolve_device(cfg.device)
        self.model = model.to(self.device)
        self.optimizer = build_optimizer([p for p in model.parameters() if p.requires_grad], cfg)
        # DDP wraps the module only for the forward/backward; checkpoints always hold the bare module.
        self.wrapped = self.dist.wrap(self.model, self.device)
        self.state = TrainState()
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.metrics_path = self.run_dir / "metrics.jsonl"
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.reporter = ProgressReporter(enabled=self.dist.is_main, live=progress)
        self.higher = task.higher_is_better.get(cfg.metric, False)
        # Chosen in fit() from the first batch (train.amp=auto measures the model), or kept from a resume.
        self.precision: Precision | None = None
        self.amp_dtype: torch.dtype | None = None
        self.scaler = None
        self.tb: TensorBoardLog | None = None  # opened by fit() (rank 0), closed when it returns or raises

    def _set_precision(self, batch) -> None:
        """Decide the run's precision once: a resumed run keeps the one its checkpoint recorded (whatever a
        probe would say on this machine); otherwise rank 0 applies train.amp and every rank follows it."""
        s, cfg = self.state, self.cfg
        if s.precision is None and s.step > 0:  # a checkpoint from before precisions were recorded
            s.precision = cfg.amp if cfg.amp in ("bf16", "fp16") else "fp32"
        if s.precision is not None:
            self.precision = Precision(s.precision, "recorded in the checkpoint this run resumed from")
        else:
            chosen = None
            if self.dist.is_main:
                local = batch.shard(0, self.dist.world_size).to(self.device)
                chosen = choose_precision(cfg.amp, self.device, task=self.task, model=self.model, batch=local)
            self.precision = self.dist.broadcast_object(chosen)
            s.precision = self.precision.mode
        self.amp_dtype = self.precision.dtype
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.reporter.message(f"precision: {self.precision.mode} ({self.precision.reason})")

    # ------------------------------------------------------------------------------------- resume

    def resume(self, path: Path | None = None) -> None:
        """Restore weights, optimizer, RNG and data position from `path` or the run's latest checkpoint."""
        loaded = ckpt.load_checkpoint(path or self.run_dir)
        ckpt.load_weights(self.model, loaded.model, loaded.path)
        opt_state = ckpt.optimizer_state_from_flat(loaded.tensors, loaded.meta["optimizer"])
        saved_groups = [len(g["params"]) for g in opt_state.get("param_groups", [])]
        if saved_groups != [len(g["params"]) for g in self.optimizer.param_groups]:
            # e.g. train.weight_decay changed between zero (one group) and non-zero (decay / no-decay)
            raise UserError(
                f"{loaded.path} was trained with other optimizer parameter groups {saved_groups}; resume "
                f"with the run's own train settings (train.optimizer, train.weight_decay)"
            )
        self.optimizer.load_state_dict(opt_state)
        # load_state_dict restored the saved hyper-parameters: the current recipe's weight decay wins.
        for group, fresh in zip(
            self.optimizer.param_groups, param_groups([], self.cfg.weight_decay), strict=True
        ):
            group["weight_decay"] = fresh.get("weight_decay", self.cfg.weight_decay)
        ckpt.set_rng_state(loaded.tensors)
        saved = loaded.meta["state"]
        known = set(TrainState.__dataclass_fields__)
        self.state = TrainState(**{k: v for k, v in saved.items() if k in known})
        if self.dist.is_main and self.metrics_path.exists():
            # Drop log lines written after the checkpoint: the resumed run writes them again. A line cut
            # short by a kill mid-write is dropped too.
            kept = []
            for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and record.get("step", 0) <= self.state.step:
                    kept.append(line)
            ckpt.atomic_write_text(self.metrics_path, "".join(line + "\n" for line in kept))

    _interrupted = False

    def _save(self, *, best: bool = False) -> None:
        if not self.dist.is_main:
            return
        tensors, opt_meta = ckpt.optimizer_state_to_flat(self.optimizer.state_dict())
        tensors.update(ckpt.rng_state())
        meta = {"state": dataclasses.asdict(self.state), "optimizer": opt_meta}
        ckpt.save_checkpoint(
            self.ckpt_dir,
            self.state.step,
            self.model,
            tensors=tensors,
            meta=meta,
            best=best,
            keep=self.cfg.keep_checkpoints,
        )

    def _log(self, record: dict) -> None:
        if self.dist.is_main:
            with open(self.metrics_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")

    def _open_tensorboard(self) -> TensorBoardLog:
        # Steps up to the current one are kept; later ones (an interrupted run's, past its checkpoint) hidden.
        return TensorBoardLog(
            self.run_dir / "tb",
            start_step=self.state.step,
            enabled=self.cfg.tensorboard and self.dist.is_main,
            warn=lambda text: self.reporter.message(escape(text)),
        )

    # ------------------------------------------------------------------------------------- loop

    def _lr(self, step: int, total: int) -> float:
        cfg = self.cfg
        return learning_rate(
            step,
            schedule=cfg.schedule,
            lr=cfg.lr,
            warmup=cfg.warmup,
            total_steps=total,
            d_model=cfg.noam_d_model or self.task.model_dim(),
            min_lr=cfg.min_lr,
        )

    def _train_step(self, batch, total: int) -> tuple[float, float, float]:
        """One optimisation step; returns (global mean loss, lr, gradient norm before clipping). A non-finite
        loss leaves the weights alone."""
        cfg, world = self.cfg, self.dist.world_size
        local = batch.shard(self.dist.rank, world).to(self.device)
        self.wrapped.train()
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            loss_sum = self.task.loss(self.wrapped, local)
        # Summed over ranks *before* backward, so every rank sees the same value and stops together.
        value = float(self.dist.sum(loss_sum.detach().float()) / batch.units)
        if not math.isfinite(value):
            return value, float("nan"), float("nan")
        # DDP averages gradients over ranks; scaling by `world` turns that average into the global mean.
        loss = loss_sum * (world / batch.units)
        self.optimizer.zero_grad(set_to_none=True)
        (self.scaler.scale(loss) if self.scaler else loss).backward()
        if self.scaler:
            self.scaler.unscale_(self.optimizer)
        # The global norm (DDP has averaged the gradients, the scaler unscaled them), logged as grad_norm.
        if cfg.clip is not None:
            norm = nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
        else:
            norm = grad_norm(self.model.parameters())
        lr = self._lr(self.state.step + 1, total)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        return value, lr, float(norm)

    def _log_train(self, lr: float, tokens_per_s: float) -> None:
        """One train line: loss and gradient norm averaged since the previous line, to both logs."""
        s = self.state
        values = {"loss": sum(s.recent) / len(s.recent), "lr": lr, "tokens_per_s": round(tokens_per_s, 1)}
        if s.recent_grad_norms:
            values["grad_norm"] = sum(s.recent_grad_norms) / len(s.recent_grad_norms)
        where = {"step": s.step, "epoch": s.epoch, "split": "train", "seconds": round(s.train_seconds, 3)}
        self._log({**where, **values})
        if self.tb is not None:
            self.tb.scalars("train", s.step, values)
        s.recent, s.recent_grad_norms = [], []

    def _evaluate(self) -> tuple[dict, bool]:
        self.model.eval()
        metrics = self.task.evaluate(self.model, "valid") if self.dist.is_main else {}
        metrics = self.dist.broadcast_object(metrics)
        if self.cfg.metric not in metrics:
            raise UserError(
                f"train.metric {self.cfg.metric!r} is not reported by task {self.task.name}; "
                f"choose one of {', '.join(sorted(metrics))}"
            )
        value = metrics[self.cfg.metric]
        s = self.state
        improved = s.best is None or (value > s.best if self.higher else value < s.best)
        if improved:
            s.best, s.best_step, s.bad_evals = value, s.step, 0
        else:
            s.bad_evals += 1
        record = {"step": s.step, "epoch": s.epoch, "split": "valid", "seconds": round(s.train_seconds, 3)}
        record.update(metrics)
        s.history.append(record)
        self._log(record)
        if self.tb is not None:
            self.tb.scalars("valid", s.step, metrics)
            self.tb.flush()
        self.reporter.message(
            f"step {s.step} epoch {s.epoch + 1}: " + " ".join(f"{k} {v:.4g}" for k, v in metrics.items())
        )
        return metrics, improved

    def _stop_reason(self, *, over_budget: bool = False) -> str | None:
        cfg, s = self.cfg, self.state
        if cfg.patience is not None and s.bad_evals >= cfg.patience:
            return "early-stop"
        if over_budget:
            return "budget"
        if cfg.max_steps is not None and s.step >= cfg.max_steps:
            return "max-steps"
        if self._interrupted:
            return "interrupted"
        return None

    def _on_sigint(self, signum, frame) -> None:
        # First Ctrl-C: finish the current step, checkpoint and stop. Second: the default (abort now).
        self._interrupted = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self.reporter.message("interrupted: saving a checkpoint after this step (Ctrl-C again to abort)")

    def fit(self) -> TrainResult:
        """Train until the epochs, max_steps, the time budget, patience or Ctrl-C end it; returns why."""
        self._interrupted = False
        previous = None
        # Ctrl-C stops cleanly at a step boundary (single process, main thread only: under DDP every rank
        # would have to agree on the step to stop at).
        if self.dist.world_size == 1 and threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, self._on_sigint)
        self.tb = self._open_tensorboard()
        try:
            return self._fit()
        finally:
            self.tb.close()  # also on an error or a second Ctrl-C: what was logged reaches the disk
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    def _fit(self) -> TrainResult:
        cfg, s = self.cfg, self.state
        torch.set_num_threads(resolve_threads(cfg.threads))
        batches_per_epoch = len(self.task.train_batches(0))
        if batches_per_epoch == 0:
            raise UserError("the training split is empty: use more data or a smaller train.batch_size")
        first = self.task.train_batches(min(s.epoch, cfg.epochs - 1))
        self._set_precision(first[min(s.position, len(first) - 1)])
        total = cfg.epochs * batches_per_epoch
        if cfg.max_steps:
            total = min(total, cfg.max_steps)
        eval_every = cfg.eval_every or batches_per_epoch
        budget = cfg.max_minutes * 60 if cfg.max_minutes else math.inf
        started = time.perf_counter()
        # A resumed run that had already stopped (patience, max_steps) takes no further step.
        stopped = "done" if s.epoch >= cfg.epochs else self._stop_reason() or "done"
        self.reporter.start(total=total, completed=s.step)
        while s.epoch < cfg.epochs and stopped == "done":
            batches = self.task.train_batches(s.epoch)
            while s.position < len(batches):
                batch = batches[s.position]
                t0 = time.perf_counter()
                loss, lr, norm = self._train_step(batch, total)
                if not math.isfinite(loss):
                    raise UserError(
                        f"training loss became {loss} at step {s.step + 1}; the last good checkpoint in "
                        f"{self.ckpt_dir} is kept — lower train.lr or set train.clip, then --resume"
                    )
                s.step += 1
                s.position += 1
                s.tokens += batch.tokens
                s.train_seconds += time.perf_counter() - t0
                s.recent.append(loss)
                if math.isfinite(norm):  # fp16: a step the scaler skips has an inf norm
                    s.recent_grad_norms.append(norm)
                tps = s.tokens / max(s.train_seconds, 1e-9)
                self.reporter.advance(loss=loss, tokens_per_s=tps, epoch=s.epoch + 1)
                if s.step % cfg.log_every == 0:
                    self._log_train(lr, tps)
                end_of_epoch = s.position == len(batches)
                if end_of_epoch:
                    s.epoch, s.position = s.epoch + 1, 0
                over_budget = time.perf_counter() - started > budget
                at_max = cfg.max_steps is not None and s.step >= cfg.max_steps
                if s.step % eval_every == 0 or end_of_epoch or over_budget or at_max:
                    _, improved = self._evaluate()
                    self._save(best=improved)
                elif self._interrupted or (cfg.checkpoint_every and s.step % cfg.checkpoint_every == 0):
                    self._save()
                stopped = self._stop_reason(over_budget=over_budget) or "done"
                if stopped != "done" or end_of_epoch:
                    break
        self.reporter.stop()
        return TrainResult(self.run_dir, s, stopped, s.tokens / max(s.train_seconds, 1e-9))


def describe_stop(result: TrainResult) -> str:
    s = result.state
    if result.stopped == "fitted":  # count-based / classic models: one pass, no steps
        best = f"; valid {s.best:.4g}" if s.best is not None else ""
        return f"fitted in {s.train_seconds:.1f} s{best}"
    reason = {
        "done": "finished all epochs",
        "early-stop": "stopped early (no improvement)",
        "budget": "stopped at the time budget (continue with --resume)",
        "max-steps": "reached train.max_steps",
        "interrupted": "interrupted (continue with --resume)",
    }[result.stopped]
    best = f"; best valid {s.best:.4g} at step {s.best_step}" if s.best is not None else ""
    return f"{reason} after {s.step} steps, {result.tokens_per_second:,.0f} tokens/s{best}"
