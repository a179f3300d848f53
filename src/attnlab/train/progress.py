"""Progress for long work: a live bar with loss, tokens/s and ETA on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class ProgressReporter:
    def __init__(self, *, enabled: bool = True, live: bool | None = None, every_seconds: float = 15.0):
        self.enabled = enabled
        self.live = sys.stderr.isatty() if live is None else live
        self.console = Console(stderr=True, soft_wrap=True)  # a log line stays one line in a pipe
        self.every = every_seconds
        self._progress: Progress | None = None
        self._task = None
        self._last_print = 0.0
        self._done = 0
        self._total = 0
        self._t0 = 0.0

    def start(self, total: int, completed: int = 0) -> None:
        self._total, self._done, self._t0 = total, completed, time.perf_counter()
        if not self.enabled or not self.live:
            return
        self._progress = Progress(
            TextColumn("[bold]train[/] epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.3f}"),
            TextColumn("{task.fields[tps]:,.0f} tok/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            "train", total=total, completed=completed, loss=float("nan"), tps=0.0, epoch=1
        )

    def advance(self, *, loss: float, tokens_per_s: float, epoch: int) -> None:
        self._done += 1
        if not self.enabled:
            return
        if self._progress is not None:
            self._progress.update(self._task, advance=1, loss=loss, tps=tokens_per_s, epoch=epoch)
            return
        now = time.perf_counter()
        if now - self._last_print >= self.every or self._done == self._total:
            self._last_print = now
            rate = (self._done) / max(now - self._t0, 1e-9)
            eta = (self._total - self._done) / max(rate, 1e-9)
            self.console.print(
                f"step {self._done}/{self._total} epoch {epoch} loss {loss:.3f} "
                f"{tokens_per_s:,.0f} tok/s ETA {eta / 60:.1f} min",
                highlight=False,
            )

    def message(self, text: str) -> None:
        if self.enabled:
            self.console.print(text, highlight=False)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
