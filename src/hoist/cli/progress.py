"""Copy progress on stderr: bars on a terminal, one line per blob otherwise, or nothing."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from hoist.cli.common import human_size

if TYPE_CHECKING:
    from hoist.copy import Progress
    from hoist.model.descriptor import Descriptor


class LineProgress:
    """One line per blob on stderr, for logs and pipes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started: dict[Any, float] = {}

    def plan(self, blobs: Sequence[Descriptor]) -> None:
        total = sum(d.size for d in blobs)
        click.echo(f"copying {len(blobs)} blobs, {human_size(total)}", err=True)

    def start(self, desc: Descriptor) -> None:
        with self._lock:
            self._started[desc.digest] = time.monotonic()

    def advance(self, desc: Descriptor, nbytes: int) -> None:
        pass

    def finish(self, desc: Descriptor, how: str) -> None:
        with self._lock:
            took = time.monotonic() - self._started.pop(desc.digest, time.monotonic())
        rate = f", {human_size(int(desc.size / took))}/s" if how == "copied" and took > 0 else ""
        click.echo(f"{how:8} {desc.digest}  {human_size(desc.size)}{rate}", err=True)


class BarProgress:
    """rich progress bars: one per blob in flight and a total (bytes, rate, ETA)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[Any, Any] = {}
        self._total: Any = None
        self._lock = threading.Lock()

    def __enter__(self) -> BarProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def plan(self, blobs: Sequence[Descriptor]) -> None:
        total = sum(d.size for d in blobs)
        with self._lock:
            if self._total is None:
                self._total = self._progress.add_task("total", total=total)
            else:
                self._progress.update(
                    self._total, total=(self._progress.tasks[self._total].total or 0) + total
                )

    def start(self, desc: Descriptor) -> None:
        with self._lock:
            self._tasks[desc.digest] = self._progress.add_task(desc.digest.short, total=desc.size)

    def advance(self, desc: Descriptor, nbytes: int) -> None:
        task = self._tasks.get(desc.digest)
        if task is not None:
            self._progress.advance(task, nbytes)
        if self._total is not None:
            self._progress.advance(self._total, nbytes)

    def finish(self, desc: Descriptor, how: str) -> None:
        with self._lock:
            task = self._tasks.pop(desc.digest, None)
        if task is not None:
            done = self._progress.tasks[task].completed
            self._progress.update(
                task, description=f"{desc.digest.short} {how}", completed=desc.size
            )
            if how != "copied" and self._total is not None:
                self._progress.advance(self._total, desc.size - done)


class _Null:
    def __enter__(self) -> _Null:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def make_progress(quiet: bool) -> tuple[Progress | None, Any]:
    """The progress reporter for this terminal and a context manager that runs it."""
    if quiet:
        return None, _Null()
    if sys.stderr.isatty():
        bars = BarProgress()
        return bars, bars
    return LineProgress(), _Null()
