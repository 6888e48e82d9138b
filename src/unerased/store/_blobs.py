"""Content-addressed blob store: ``blobs/ab/cd/<sha256>``.

A blob is written to a temporary file in the same directory tree, fsynced, renamed into
place and its directory fsynced *before* the database row naming it commits, so a
committed row never names a missing blob. Writers stage their blobs (:class:`Staging`):
written and fsynced in the background during the transaction, placed just before it
commits, removed if it fails. A blob placed by a transaction that then fails to commit
is an orphan, harmless (``unerased verify`` reports orphans, does not fail on them); it
is not removed, since a concurrent transaction may have placed the same content and
committed a row naming it.

Every directory of the tree is 0700 and every file 0600, whatever the umask. An OS
error while writing (a full disk, a file size limit, a directory that refuses writes)
is a :class:`~unerased.errors.BlobError` of one line naming the blob tree and the
reason; the staged files of the failed transaction are removed.

In an encrypted home (a :class:`~unerased.vault.BlobCipher` given) every blob is written
sealed — AES-256-GCM, bound to its name, which stays the sha256 of the plaintext — the
staged temp files too, and read back authenticated (docs/encryption.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .._files import mkstemp_private, os_reason, private_dir
from ..errors import BlobError

if TYPE_CHECKING:
    from ..vault import BlobCipher

CHUNK = 1 << 20


def _is_hex64(s: str) -> bool:
    return len(s) == 64 and all(c in "0123456789abcdef" for c in s)


_WRITERS = 8  # threads writing and fsyncing staged blobs
_IN_FLIGHT = 64  # staged blobs not yet written, at most (bounds the memory they hold)


class BlobStore:
    def __init__(self, root: Path, cipher: BlobCipher | None = None) -> None:
        self.root = root
        self.cipher = cipher  # None: plain blobs
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
        try:
            tmp = self._write_temp(data, digest)
            try:
                self._place(Path(tmp), digest)
            except BaseException:
                _unlink_quiet(tmp)
                raise
        except OSError as e:
            raise self.write_error(e) from None
        return digest

    def write_error(self, e: OSError) -> BlobError:
        """The one-line error for an OS error while writing the tree."""
        return BlobError(f"cannot write a blob in {self.root}: {os_reason(e)}")

    def staging(self) -> Staging:
        """Blobs for one transaction, made durable before it commits (see Staging)."""
        return Staging(self)

    def _write_temp(self, data: bytes, digest: str) -> str:
        """A temp file holding ``data``, fsynced; the directory of its final place made.
        Raises OSError (nothing left behind)."""
        if self.cipher is not None:  # sealed before it touches the disk
            data = self.cipher.seal(data, digest)
        fd, tmp = self._mkstemp()
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            self._mkdir(self.path(digest).parent)
        except BaseException:
            _unlink_quiet(tmp)
            raise
        return tmp

    def _stage(self, data: bytes, digest: str) -> str:
        """:meth:`_write_temp` for a staging thread: an OS error becomes BlobError."""
        try:
            return self._write_temp(data, digest)
        except OSError as e:
            raise self.write_error(e) from None

    def read(self, sha256: str) -> bytes:
        try:
            data = self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise BlobError(f"blob {sha256} is missing") from None
        return data if self.cipher is None else self.cipher.open(data, sha256)

    def open(self, sha256: str) -> BinaryIO:
        if self.cipher is not None:
            return io.BytesIO(self.read(sha256))
        try:
            return self.path(sha256).open("rb")
        except FileNotFoundError:
            raise BlobError(f"blob {sha256} is missing") from None

    def size(self, sha256: str) -> int:
        """The blob's size in bytes (of its plaintext in an encrypted home)."""
        try:
            n = self.path(sha256).stat().st_size
        except FileNotFoundError:
            raise BlobError(f"blob {sha256} is missing") from None
        except OSError as e:
            raise BlobError(f"blob {sha256} cannot be read: {os_reason(e)}") from None
        return n if self.cipher is None else self.cipher.plain_size(n)

    def stored_key_id(self, sha256: str) -> bytes | None:
        """The id of the data key a blob of an encrypted home is sealed with."""
        if self.cipher is None:
            return None
        with self.path(sha256).open("rb") as f:
            return self.cipher.key_id_of(f.read(64))

    def reseal(self, sha256: str, new: BlobCipher) -> None:
        """Re-encrypt one blob with ``new`` (a key rotation): read and authenticated with
        this store's keys, written sealed by ``new`` to a temp file, fsynced, renamed over
        the old one — at every moment the blob is whole under one key or the other."""
        data = self.read(sha256)
        try:
            tmp = BlobStore(self.root, new)._write_temp(data, sha256)
            try:
                self._place(Path(tmp), sha256)
            except BaseException:
                _unlink_quiet(tmp)
                raise
        except OSError as e:
            raise self.write_error(e) from None

    def hash_file(self, sha256: str) -> tuple[str, int]:
        """Recompute a stored blob's digest and size (for verify). In an encrypted home a
        blob that fails authentication is a BlobError naming it."""
        if self.cipher is not None:
            data = self.read(sha256)
            return hashlib.sha256(data).hexdigest(), len(data)
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
            private_dir(d)  # 0700, and its missing parents
            self._made.add(d)

    def _mkstemp(self) -> tuple[int, str]:
        self._mkdir(self._tmp)
        try:
            return mkstemp_private(self._tmp, "blob-")
        except FileNotFoundError:  # removed behind our back: make it again
            self._made.clear()
            self._mkdir(self._tmp)
            return mkstemp_private(self._tmp, "blob-")

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
    with contextlib.suppress(OSError):  # gone already, or cannot be: nothing more to do
        os.unlink(path)


class Staging:
    """The blobs of one write transaction.

    Each is written to a temporary file and fsynced by a small thread pool as soon as it
    is staged, while the import goes on; :meth:`commit` (before the transaction commits)
    waits for them, renames them into place and fsyncs their directories in parallel;
    :meth:`discard` (when the transaction fails) removes them. A committed row therefore
    never names a missing blob, and a failed import leaves no blob behind.
    """

    def __init__(self, store: BlobStore) -> None:
        self._store = store
        self._pool: ThreadPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(_IN_FLIGHT)
        self._files: dict[str, Future[str]] = {}

    def __len__(self) -> int:
        return len(self._files)

    def add(self, data: bytes) -> str:
        """Stage bytes; returns their sha256 (hex)."""
        digest = hashlib.sha256(data).hexdigest()
        if digest in self._files or self._store.exists(digest):
            return digest
        if self._pool is None:
            self._pool = ThreadPoolExecutor(_WRITERS, thread_name_prefix="unerased-blobs")
        self._slots.acquire()
        try:
            fut = self._pool.submit(self._store._stage, data, digest)
        except BaseException:
            self._slots.release()
            raise
        fut.add_done_callback(lambda _: self._slots.release())
        self._files[digest] = fut
        return digest

    def commit(self) -> None:
        """Make every staged blob durable in its place. Raises the first write failure
        (a BlobError); then :meth:`discard` removes what is still staged."""
        if not self._files:
            self._shutdown()
            return
        assert self._pool is not None
        placed = [(digest, fut.result()) for digest, fut in self._files.items()]
        dirs: set[Path] = set()
        try:
            for digest, tmp in placed:
                dest = self._store.path(digest)
                try:
                    os.replace(tmp, dest)
                except FileNotFoundError:  # its directory was removed behind our back
                    self._store._made.discard(dest.parent)
                    self._store._mkdir(dest.parent)
                    os.replace(tmp, dest)
                dirs.add(dest.parent)
            list(self._pool.map(_fsync_dir, dirs))
        except OSError as e:
            raise self._store.write_error(e) from None
        self._files.clear()
        self._shutdown()

    def discard(self) -> None:
        """Remove every staged blob not yet committed (waits for writes in flight)."""
        for fut in self._files.values():
            fut.cancel()
        for fut in self._files.values():
            if not fut.cancelled() and fut.exception() is None:
                _unlink_quiet(fut.result())
        self._files.clear()
        self._shutdown()

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
