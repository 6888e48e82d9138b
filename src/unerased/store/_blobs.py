"""Content-addressed blob store: ``blobs/ab/cd/<sha256>``.

A blob is written to a temporary file in the same directory tree, fsynced, renamed into
place and its directory fsynced *before* the database row naming it commits, so a
committed row never names a missing blob. A blob whose transaction then fails is an
orphan, harmless (``unerased verify`` reports orphans, does not fail on them).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20


class BlobError(Exception):
    pass


def _is_hex64(s: str) -> bool:
    return len(s) == 64 and all(c in "0123456789abcdef" for c in s)


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"
        self._made: set[Path] = set()  # directories known to exist (saves a mkdir per blob)

    def path(self, sha256: str) -> Path:
        if not _is_hex64(sha256):
            raise BlobError(f"not a sha256 digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: bytes) -> str:
        """Store bytes durably; returns their sha256 (hex)."""
        digest = hashlib.sha256(data).hexdigest()
        if self.exists(digest):
            return digest
        fd, tmp = self._mkstemp()
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            self._place(Path(tmp), digest)
        except BaseException:
            _unlink_quiet(tmp)
            raise
        return digest

    def stage(self, data: bytes, staged: dict[str, str]) -> str:
        """Write bytes to a temporary file *without* fsync and remember it in ``staged``
        (digest → temp path); :meth:`commit_staged` makes them durable together, before
        the transaction naming them commits. Much faster than :meth:`put` for many
        small files (one parallel round of fsyncs instead of one each in turn)."""
        digest = hashlib.sha256(data).hexdigest()
        if digest in staged or self.exists(digest):
            return digest
        fd, tmp = self._mkstemp()
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except BaseException:
            _unlink_quiet(tmp)
            raise
        staged[digest] = tmp
        return digest

    def commit_staged(self, staged: dict[str, str]) -> None:
        """fsync every staged file (in parallel), rename each into place, fsync the
        directories. After this returns the blobs are durable."""
        if not staged:
            return
        items = list(staged.items())

        def sync(path: str) -> None:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

        with ThreadPoolExecutor(max_workers=min(16, len(items))) as pool:
            list(pool.map(sync, [t for _, t in items]))
        dirs: set[Path] = set()
        for digest, tmp in items:
            dest = self.path(digest)
            self._mkdir(dest.parent)
            try:
                os.replace(tmp, dest)
            except FileNotFoundError:  # its directory was removed behind our back
                self._made.discard(dest.parent)
                self._mkdir(dest.parent)
                os.replace(tmp, dest)
            dirs.add(dest.parent)
        for d in dirs:
            _fsync_dir(d)
        staged.clear()

    def discard_staged(self, staged: dict[str, str]) -> None:
        for tmp in staged.values():
            _unlink_quiet(tmp)
        staged.clear()

    def read(self, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise BlobError(f"blob {sha256} is missing") from None

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.path(sha256).open("rb")
        except FileNotFoundError:
            raise BlobError(f"blob {sha256} is missing") from None

    def hash_file(self, sha256: str) -> tuple[str, int]:
        """Recompute a stored blob's digest and size (for verify)."""
        h = hashlib.sha256()
        n = 0
        with self.open(sha256) as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
                n += len(chunk)
        return h.hexdigest(), n

    def iter_digests(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for d1 in sorted(self.root.iterdir()):
            if d1.name == "tmp" or not d1.is_dir():
                continue
            for d2 in sorted(d1.iterdir()):
                for f in sorted(d2.iterdir()):
                    yield f.name

    # -- internals

    def _mkdir(self, d: Path) -> None:
        if d not in self._made:
            d.mkdir(parents=True, exist_ok=True)
            self._made.add(d)

    def _mkstemp(self) -> tuple[int, str]:
        self._mkdir(self._tmp)
        try:
            return tempfile.mkstemp(dir=self._tmp, prefix="blob-")
        except FileNotFoundError:  # removed behind our back: make it again
            self._made.clear()
            self._mkdir(self._tmp)
            return tempfile.mkstemp(dir=self._tmp, prefix="blob-")

    def _place(self, tmp: Path, digest: str) -> None:
        dest = self.path(digest)
        self._mkdir(dest.parent)
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quiet(path: str | Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
