"""The home's key lock (``HOME/keys/lock``): every process that opens an encrypted
home holds it shared for as long as its store is open; ``key rotate`` takes it
exclusively, so that no other process writes a blob under the old key while blobs are
re-encrypted. (``flock``: local file systems; docs/encryption.md.)"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from .._files import open_private, private_dir
from ..errors import StoreError

__all__ = ["HomeLock"]

LOCK_FILE = "lock"


class HomeLock:
    def __init__(self, home: Path, *, exclusive: bool = False) -> None:
        d = Path(home) / "keys"
        self.path = d / LOCK_FILE
        self._fd: int | None = None
        try:
            private_dir(d)
            self._fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        except OSError as e:
            if exclusive:
                raise StoreError(f"cannot open the key lock {self.path}: {e.strerror}") from None
            try:  # a home we may only read (read-only media): the lock if it is there
                self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except OSError:
                return  # nothing can rotate a home nobody can write
        op = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(self._fd, op | fcntl.LOCK_NB)
        except BlockingIOError:
            self.release()
            if exclusive:
                raise StoreError(f"the archive at {home} is in use by another unerased "
                                 "process (a collector, serve…): stop it first") from None
            raise StoreError(f"the archive at {home} is being re-keyed (`unerased key "
                             "rotate`): try again when it has finished") from None

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing releases the lock
            self._fd = None
