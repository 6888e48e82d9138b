"""Progress reporting shared by the importers: bytes done, about every MiB."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int], None]
"""``progress(bytes_done, bytes_total)``."""


class Meter:
    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self._progress, self._last = max(total, 0), 0, progress, 0

    def add(self, n: int) -> None:
        self.done += n
        if self._progress is not None and self.done - self._last >= (1 << 20):
            self._last = self.done
            self._progress(min(self.done, self.total), self.total)

    __call__ = add

    def finish(self) -> None:
        if self._progress is not None:
            self._progress(self.total, self.total)
