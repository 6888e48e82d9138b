"""Open a tar file (``.tar``, ``.tar.gz``/``.tgz``) defensively, like :class:`SafeZip`.

Mastodon handed out its account archives as ``.tar.gz`` for years (``BackupService``
wrote tar.gz from 2018, zip later). :class:`SafeTar` reads them with the same interface
as :class:`~unerased.importers.safezip.SafeZip` (``names``, ``size``, ``open``, ``read``),
the same limits and the same refusals:

* a gzip stream is decompressed once, as it is read, into an anonymous temporary file
  (unlinked at once: nothing stays on disk, even after a crash; it needs free space in
  ``$TMPDIR`` for the uncompressed tar, and holds it unencrypted while the import runs),
  under the caps on the total size and on the compression ratio (a gzip bomb is refused
  while it expands, not after);
* before :mod:`tarfile` parses anything, the headers are walked once to count the
  members (the member cap holds before any object is built) and to refuse oversized
  extended headers (``tarfile`` reads those whole into memory);
* every member must pass :func:`tarfile.data_filter` — the check behind
  ``extractall(filter="data")`` — and the stricter rules of SafeZip: no absolute path, no
  ``..``, no backslash or control character in a name, no symbolic or hard link, no
  device, FIFO or sparse file, no name twice.

Nothing is ever extracted: members are streamed from the (decompressed) tar. Every
failure is an :class:`~unerased.errors.ArchiveError` with one line.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import tempfile
import zlib
from typing import IO, BinaryIO

from ..errors import exception_line
from ._archive import MemberReader, SafeArchive, name_problem
from ._archive import show as _show
from ._errors import ArchiveError
from .safezip import SafeZip

__all__ = ["MAX_EXTENDED_HEADER", "ArchiveFiles", "SafeTar", "is_tar", "open_archive"]

MAX_EXTENDED_HEADER = 1 << 20
"""Largest pax / GNU long-name header accepted (real ones are a few hundred bytes)."""

_BLOCK = 512
_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_EXTENDED = frozenset(b"xgLK")  # pax (local, global), GNU long name, long link name
_FAKE_DEST = os.path.join(os.sep, "unerased-safetar-check")  # data_filter's destination


def is_tar(path: str | os.PathLike[str]) -> bool:
    """Whether the file looks like a tar or a gzip stream (the magic bytes), not a zip."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_BLOCK)
    except OSError:
        return False
    if head[:2] == _GZIP_MAGIC:
        return True
    return len(head) == _BLOCK and head[257:262] == b"ustar"


def open_archive(path: str | os.PathLike[str], **limits: int | float) -> ArchiveFiles:
    """A :class:`SafeTar` for a tar / tar.gz file, else a :class:`SafeZip` (which names
    what is wrong when the file is neither). ``limits``: max_total, max_ratio,
    max_members, ratio_floor."""
    if is_tar(path):
        return SafeTar(path, **limits)  # type: ignore[arg-type]
    return SafeZip(path, **limits)  # type: ignore[arg-type]


def _octal(field: bytes) -> int | None:
    """A tar header number: octal text, or GNU base-256 (first byte 0x80 / 0xff)."""
    if field[:1] in (b"\x80", b"\xff"):
        n = int.from_bytes(field[1:], "big")
        return -1 if field[:1] == b"\xff" else n
    text = field.split(b"\x00", 1)[0].strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        return None


class SafeTar(SafeArchive):
    """A read-only, defensive view of one tar file (plain or gzip-compressed).

    The same interface as :class:`SafeZip`: ``names()``, ``size(name)``,
    ``open(name)``, ``read(name, limit)``, ``total_read``; a context manager."""

    kind = "tar"

    # --- opening and checking ---------------------------------------------------

    def _start(self) -> None:
        self._spool: IO[bytes] | None = None
        self._tf: tarfile.TarFile | None = None
        self._members: dict[str, tarfile.TarInfo] = {}
        self._order: list[str] = []

    def _open(self, fh: BinaryIO, size: int) -> None:
        try:
            magic = fh.read(2)
            fh.seek(0)
        except OSError as e:
            raise self._error(f"cannot read ({e.strerror or e})") from None
        data: IO[bytes] = self._gunzip(fh, size) if magic == _GZIP_MAGIC else fh
        if data is fh and size > self.max_total:
            raise self._error(f"is {size} bytes, over the limit of {self.max_total}")
        self._prescan(data)
        try:
            data.seek(0)
            tf = tarfile.open(fileobj=data, mode="r:")  # noqa: SIM115
        except (tarfile.TarError, OSError, ValueError, EOFError) as e:
            raise self._error(f"not a tar file ({exception_line(e)})") from None
        self._tf = tf
        self._check(tf)

    def _gunzip(self, fh: BinaryIO, size: int) -> IO[bytes]:
        """Decompress into an anonymous temporary file under the total and ratio caps."""
        spool = tempfile.TemporaryFile(prefix="unerased-")  # noqa: SIM115 - closed in close()
        self._spool = spool
        out = 0
        try:
            with gzip.GzipFile(fileobj=fh, mode="rb") as gz:
                while chunk := gz.read(_CHUNK):
                    out += len(chunk)
                    if out > self.max_total:
                        raise self._error(
                            f"expands past the limit of {self.max_total} bytes (gzip bomb?)")
                    if self._ratio_exceeded(out, size):
                        raise self._error(self._ratio_text(out, size, "gzip"))
                    spool.write(chunk)
        except ArchiveError:
            raise
        except EOFError:
            raise self._error("data ends early: the archive is truncated") from None
        except (gzip.BadGzipFile, zlib.error, OSError, ValueError) as e:
            raise self._error(f"corrupt gzip data ({exception_line(e)})") from None
        spool.flush()
        return spool

    def _prescan(self, data: IO[bytes]) -> None:
        """Count the headers and refuse oversized extended headers, before tarfile
        builds anything (it keeps one object per member, and reads extended headers
        whole)."""
        try:
            data.seek(0, io.SEEK_END)
            end = data.tell()
            pos = 0
            headers = 0
            while pos + _BLOCK <= end:
                data.seek(pos)
                head = data.read(_BLOCK)
                if len(head) < _BLOCK or head == b"\x00" * _BLOCK:
                    return  # end of archive (or a truncated one: tarfile says which)
                size = _octal(head[124:136])
                if size is None or size < 0:
                    return  # a bad header: tarfile reports it
                headers += 1
                if headers > self.max_members:
                    raise self._error(
                        f"has more than {self.max_members} members, the limit")
                if head[156] in _EXTENDED and size > MAX_EXTENDED_HEADER:
                    raise self._error(
                        f"has an extended header of {size} bytes, over the limit of "
                        f"{MAX_EXTENDED_HEADER}")
                pos += _BLOCK + -(-size // _BLOCK) * _BLOCK
        except OSError as e:
            raise self._error(f"cannot read ({e.strerror or e})") from None

    def _check(self, tf: tarfile.TarFile) -> None:
        total = 0
        count = 0
        while True:
            try:
                ti = tf.next()
            except (tarfile.TarError, OSError, ValueError, EOFError, UnicodeError) as e:
                raise self._error(f"corrupt tar ({exception_line(e)})") from None
            if ti is None:
                break
            count += 1
            if count > self.max_members:
                raise self._error(f"has more than {self.max_members} members, the limit")
            name = ti.name
            problem = name_problem(name)
            if problem:
                raise self._error(problem)
            if ti.issym():
                raise self._error(f"member {_show(name)} is a symbolic link")
            if ti.islnk():
                raise self._error(f"member {_show(name)} is a hard link")
            if ti.issparse():
                raise self._error(f"member {_show(name)} is a sparse file")
            if not (ti.isreg() or ti.isdir()):
                raise self._error(f"member {_show(name)} is a special file")
            try:
                tarfile.data_filter(ti, _FAKE_DEST)
            except tarfile.FilterError as e:
                raise self._error(f"member {_show(name)} is refused ({exception_line(e)})") from None
            key = _normal(name) + ("/" if ti.isdir() else "")
            if key in ("", "/"):
                continue  # "." itself
            if key in self._members or key.rstrip("/") in self._members or (
                    key + "/") in self._members:
                raise self._error(f"member {_show(key)} appears twice")
            self._members[key] = ti
            self._order.append(key)
            total += ti.size
            if total > self.max_total:
                raise self._error(
                    f"declares {total} bytes uncompressed, over the limit of {self.max_total}")

    # --- public API (as SafeZip) ---------------------------------------------------

    def names(self) -> list[str]:
        """Member names in the archive's order (directories end in /, ``./`` removed)."""
        return list(self._order)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._members

    def size(self, name: str) -> int:
        return self._info(name).size

    def open(self, name: str, *, limit: int | None = None) -> BinaryIO:
        """A binary reader over one member; ArchiveError past ``limit`` bytes or past
        the archive's total cap."""
        ti = self._info(name)
        if ti.isdir():
            raise self._error("is a directory", member=name)
        try:
            raw = self._tarfile().extractfile(ti)
        except (tarfile.TarError, OSError, ValueError) as e:
            raise self._error(f"cannot read ({exception_line(e)})", member=name) from None
        if raw is None:
            raise self._error("is not a regular file", member=name)
        return io.BufferedReader(_TarMember(self, name, raw, limit),
                                 buffer_size=1 << 16)

    def close(self) -> None:
        tf, spool, fh = self._tf, self._spool, self._fh
        self._tf = self._spool = self._fh = None
        for thing in (tf, spool, fh):
            if thing is not None:
                thing.close()

    # --- internals ---------------------------------------------------------------

    def _tarfile(self) -> tarfile.TarFile:
        if self._tf is None:
            raise self._error("archive is closed")
        return self._tf

    def _info(self, name: str) -> tarfile.TarInfo:
        ti = self._members.get(name)
        if ti is None:
            raise self._error("no such member", member=name)
        return ti


ArchiveFiles = SafeZip | SafeTar
"""Either defensive reader: the importers read members through this interface."""


def _normal(name: str) -> str:
    """``./a/b`` → ``a/b`` (what ``tar -C dir .`` writes); other names unchanged."""
    while name.startswith("./"):
        name = name[2:]
    return "" if name == "." else name.rstrip("/")


class _TarMember(MemberReader):
    """Streams one member, counting its bytes against the archive's caps."""

    read_errors = (tarfile.TarError, OSError, ValueError, EOFError)

    def _problem(self, exc: BaseException) -> str:
        return f"cannot read ({exception_line(exc)})"
