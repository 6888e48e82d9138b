"""Progress bars on stderr (rich) for long work; silent when stderr is not a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


def _enabled() -> bool:
    return sys.stderr.isatty()


@contextmanager
def bytes_bar(label: str) -> Iterator[Callable[[int, int | None], None] | None]:
    """Yields ``progress(done_bytes, total_bytes)`` or None when not on a terminal."""
    if not _enabled():
        yield None
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
        TransferSpeedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
        transient=True,
    ) as prog:
        task = prog.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            prog.update(task, completed=done, total=total or None)

        yield update


@contextmanager
def count_bar(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """Yields ``progress(done, total)`` (total 0 = unknown) or None."""
    if not _enabled():
        yield None
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=Console(stderr=True), transient=True,
    ) as prog:
        task = prog.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total or None)

        yield update
