"""TensorBoard scalars of a training run, written by rank 0 into RUN/tb/ (train.tensorboard, on by default).

Tags, at the trainer's steps: `train/loss`, `train/lr`, `train/tokens_per_s` and `train/grad_norm` at every
log line (the values of metrics.jsonl's train records: loss and gradient norm averaged since the previous
line), and `valid/<metric>` at every validation. `tensorboard --logdir runs/` shows every run side by side,
each named by its directory (`<run>/tb`).

A resumed run writes a new event file into the same folder, opened with `purge_step` = the checkpoint's
step + 1: TensorBoard hides what the interrupted process logged after that checkpoint (metrics.jsonl drops
those lines the same way), and the resumed steps continue the curve. A fresh run opens at step 1, which
also hides the leftovers of a run that died before its first checkpoint.

Logging never stops training: if RUN/tb cannot be written (a read-only directory, a file in its place, a
full disk) the run prints one warning line and goes on without TensorBoard.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from pathlib import Path

FLUSH_SECONDS = 30  # besides the flush at every validation: a long stretch between them still shows up


class TensorBoardLog:
    def __init__(
        self,
        log_dir: str | Path,
        *,
        start_step: int = 0,
        enabled: bool = True,
        warn: Callable[[str], None] = print,
    ):
        self.log_dir = Path(log_dir)
        self._warn = warn
        self._writer = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:  # a pinned dependency; missing only in a hand-made environment
            self._off(f"it needs the tensorboard package ({err}; pip install tensorboard)")
            return
        try:
            self._writer = SummaryWriter(
                str(self.log_dir), purge_step=start_step + 1, flush_secs=FLUSH_SECONDS
            )
        except Exception as err:  # OSError mostly; whatever it is, training goes on
            self._off(f"cannot write {self.log_dir} ({_reason(err)})")

    @property
    def active(self) -> bool:
        return self._writer is not None

    def _off(self, why: str) -> None:
        self._warn(f"warning: TensorBoard logging is off for the rest of this run: {why}")
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):  # already failing: closing it is only tidying up
                writer.close()

    def scalars(self, prefix: str, step: int, values: Mapping[str, object]) -> None:
        """`prefix/name` = value for every real number in `values` (other entries are skipped)."""
        if self._writer is None:
            return
        try:
            for name, value in values.items():
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    continue
                self._writer.add_scalar(f"{prefix}/{name}", float(value), step)
        except Exception as err:
            self._off(f"writing {self.log_dir} failed ({_reason(err)})")

    def flush(self) -> None:
        if self._writer is None:
            return
        try:
            self._writer.flush()
        except Exception as err:
            self._off(f"writing {self.log_dir} failed ({_reason(err)})")

    def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        try:
            writer.close()
        except Exception as err:
            self._warn(f"warning: closing the TensorBoard log {self.log_dir} failed ({_reason(err)})")


def _reason(err: BaseException) -> str:
    text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return " ".join(f"{type(err).__name__}: {text}".split())  # one line, whatever the message holds
