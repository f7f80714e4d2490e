"""Progress on standard error, counted in items (rich's progress bar on a terminal, a line now and then else).

Per-item messages go through :meth:`ItemProgress.message`, which prints them above the bar (rich keeps
the bar at the bottom), so errors and the bar never run into each other.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

__all__ = ["ItemProgress"]


class ItemProgress:
    """Counts items: ``update(done, total=None, failed=0)``; a bar on a terminal, else a line every ``every`` s."""

    def __init__(self, label: str, *, every: float = 10.0, terminal: bool | None = None) -> None:
        self.label = label
        self.every = every
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self.started = self.last = time.monotonic()
        self.done = 0
        self.failed = 0
        self._bar: Any = None
        self._task: Any = None
        self._abandoned = False

    def __enter__(self) -> ItemProgress:
        if self.terminal:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("items, {task.fields[failed]} failed"),
                TimeElapsedColumn(),
                console=Console(file=sys.stderr),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=None, failed=0)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif not self._abandoned and (self.done or kind is None):
            self._line()

    def abandon(self) -> None:
        """End without the closing count line: the caller's own line says how far it got (a refusal that ends the
        input is then the one line on standard error)."""
        self._abandoned = True

    def update(self, done: int, total: int | None = None, failed: int | None = None) -> None:
        self.done = done
        if failed is not None:
            self.failed = failed
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total, failed=self.failed)
            return
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self._line()

    def __call__(self, done: int, total: int | None) -> None:
        """As a job's progress callback (``run_job(..., progress=...)``)."""
        self.update(done, total)

    def message(self, text: str, *, stream: Any = None) -> None:
        """A line for one item (an error), printed above the bar, never into it."""
        stream = stream or sys.stderr
        if self._bar is not None and (stream is sys.stderr or _is_terminal(stream)):
            self._bar.console.print(text, markup=False, highlight=False, soft_wrap=True)  # clears the bar first
        else:
            print(text, file=stream, flush=True)  # a file or a pipe: no bar there to run into

    def _line(self) -> None:
        rate = self.done / max(time.monotonic() - self.started, 1e-9)
        print(f"{self.label}: {self.done} items ({self.failed} failed), {rate:,.0f} items/s", file=sys.stderr)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
