"""The collector's one writer thread (datasette's ``execute_write_fn`` pattern).

Every store write of the daemon — claims, a check's transaction, a deferral, a
heartbeat, a checkpoint — is a function handed to :meth:`WriteThread.run` and run on
one dedicated thread, one at a time, in the order given: ``await writer.run(fn)``. The
event loop never blocks on the database (SQLite's write lock, a slow disk, PostgreSQL
far away), and the writes of one collector never contend with each other.

A function that started runs to its end even when the coroutine awaiting it is
cancelled (a transaction is never cut in half); one that had not started is dropped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["WriteThread"]

T = TypeVar("T")

_Job = tuple[Callable[[], Any], "concurrent.futures.Future[Any]"]


class WriteThread:
    """``async with WriteThread() as writer: await writer.run(fn)``."""

    def __init__(self, name: str = "unerased-writer") -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._started = False
        self._closed = False
        self.ident: int | None = None  # the thread's id once started (tests check it)
        self.done = 0  # functions run (successfully or not)
        self.busy = 0.0  # seconds spent running them (how loaded the writer is)

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()
            self.ident = self._thread.ident

    async def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn()`` on the writer thread; its result (or its exception)."""
        if self._closed:
            raise RuntimeError("the writer thread is closed")
        self.start()
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((fn, fut))
        return await asyncio.wrap_future(fut)

    def call(self, fn: Callable[[], T]) -> T:
        """``fn()`` on the writer thread, waited for from a thread that is not the event
        loop's (a final write after the loop ended; alert delivery's thread)."""
        if self._closed:
            raise RuntimeError("the writer thread is closed")
        self.start()
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((fn, fut))
        return fut.result()

    def close(self, timeout: float | None = None) -> None:
        """Finish what was handed over, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        if self._started:
            self._jobs.put(None)
            self._thread.join(timeout)

    def _main(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, fut = job
            if not fut.set_running_or_notify_cancel():
                continue  # its awaiter was cancelled before it started: dropped
            t = time.perf_counter()
            try:
                result = fn()
            except BaseException as e:  # noqa: BLE001 - handed to the awaiting coroutine
                fut.set_exception(e)
            else:
                fut.set_result(result)
            finally:
                self.done += 1
                self.busy += time.perf_counter() - t

    async def __aenter__(self) -> WriteThread:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)
