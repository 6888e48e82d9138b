"""What :class:`~unerased.importers.safezip.SafeZip` and
:class:`~unerased.importers.safetar.SafeTar` do the same way: the caps, opening the file,
the one-line error, the member-name rules, the whole-member read, and a member reader
that counts every byte it produces against the caps.

Each reader keeps what is its own: how the container is parsed and checked, and which
of the container's errors mean what.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from types import TracebackType
from typing import IO, BinaryIO, ClassVar, Self

from ._errors import ArchiveError

DEFAULT_MAX_TOTAL = 64 << 30
"""Cumulative decompressed bytes one reader will produce (64 GiB: media-heavy archives
are large, and nothing is kept in memory beyond the member being read)."""
DEFAULT_MAX_RATIO = 200.0
"""Per-member decompressed/compressed ratio. JSON deflates ~5-20:1; bombs ~1000:1."""
DEFAULT_MAX_MEMBERS = 500_000
DEFAULT_RATIO_FLOOR = 1 << 20
"""Below this many decompressed bytes the ratio is not judged (tiny files of spaces
legitimately compress very well and cannot hurt)."""

_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def show(name: str) -> str:
    """A member name for a message: quoted, escaped, not too long."""
    if len(name) > 160:
        name = name[:160] + "…"
    return repr(name)


def name_problem(name: str) -> str | None:
    """Why a member name is unsafe, or None when it is fine."""
    if not name:
        return "a member has an empty name"
    if _CONTROL.search(name):
        return f"member {show(name)} has control characters in its name"
    if "\\" in name:
        return f"member {show(name)} has a backslash in its name"
    if name.startswith("/"):
        return f"member {show(name)} has an absolute path"
    if _DRIVE.match(name):
        return f"member {show(name)} has a drive letter"
    if any(part == ".." for part in name.split("/")):
        return f"member {show(name)} escapes the archive"
    return None


class SafeArchive:
    """The part both defensive readers share. A subclass sets :attr:`kind` (``zip``,
    ``tar``: the word in its messages), parses and checks the container in
    :meth:`_open` (given the open file and its size) and implements ``names``,
    ``size``, ``open``, ``__contains__`` and ``close``."""

    kind: ClassVar[str]

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_total: int = DEFAULT_MAX_TOTAL,
        max_ratio: float = DEFAULT_MAX_RATIO,
        max_members: int = DEFAULT_MAX_MEMBERS,
        ratio_floor: int = DEFAULT_RATIO_FLOOR,
    ) -> None:
        self.path = os.fspath(path)
        self.max_total = max_total
        self.max_ratio = max_ratio
        self.max_members = max_members
        self.ratio_floor = ratio_floor
        self.total_read = 0
        """Decompressed bytes produced so far by every reader of this archive."""
        self._fh: BinaryIO | None = None
        self._start()
        try:
            fh, size = self._open_file()
            self._open(fh, size)
        except BaseException:
            self.close()
            raise

    # --- what a subclass provides -------------------------------------------------

    def _start(self) -> None:
        """Set this reader's own state up, before the file is opened."""

    def _open(self, fh: BinaryIO, size: int) -> None:
        raise NotImplementedError

    def names(self) -> list[str]:
        raise NotImplementedError

    def size(self, name: str) -> int:
        raise NotImplementedError

    def open(self, name: str, *, limit: int | None = None) -> BinaryIO:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # --- shared ----------------------------------------------------------------------

    def _error(self, problem: str, member: str | None = None) -> ArchiveError:
        return ArchiveError(self.path, problem, member=member)

    def _open_file(self) -> tuple[BinaryIO, int]:
        """The archive file, open for the object's life, and its size (never 0)."""
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - kept open for the object's life
        except FileNotFoundError:
            raise self._error("no such file") from None
        except IsADirectoryError:
            raise self._error(f"is a directory, not a {self.kind} file") from None
        except OSError as e:
            raise self._error(f"cannot open ({e.strerror or e})") from None
        self._fh = fh
        try:
            size = os.fstat(fh.fileno()).st_size
        except OSError as e:
            raise self._error(f"cannot read ({e.strerror or e})") from None
        if size == 0:
            raise self._error(f"not a {self.kind} file (it is empty)")
        return fh, size

    def _ratio_exceeded(self, out: int, compressed: int) -> bool:
        return out > self.ratio_floor and out > self.max_ratio * max(compressed, 1)

    def _ratio_text(self, out: int, compressed: int, bomb: str) -> str:
        ratio = out / max(compressed, 1)
        return (f"expands {ratio:.0f}:1, over the limit of {self.max_ratio:.0f}:1 "
                f"({bomb} bomb?)")

    def read(self, name: str, limit: int) -> bytes:
        """The whole member, when it is at most ``limit`` bytes (checked on the header
        and again on the bytes produced)."""
        size = self.size(name)
        if size > limit:
            raise self._error(f"is {size} bytes, over the limit of {limit} for this file",
                              member=name)
        with self.open(name, limit=limit) as fh:
            return fh.read()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class MemberReader(io.RawIOBase):
    """Streams one member and counts what it produces against the caps: the caller's
    ``limit`` for this member and the archive's total. A subclass says which errors of
    the raw reader it turns into a one-line problem (:attr:`read_errors`,
    :meth:`_problem`) and may check more caps (:meth:`_check`)."""

    read_errors: ClassVar[tuple[type[BaseException], ...]]
    total_hint: ClassVar[str] = ""
    """Appended to the message when the archive's total cap is passed."""

    def __init__(self, owner: SafeArchive, name: str, raw: IO[bytes],
                 limit: int | None) -> None:
        super().__init__()
        self._owner = owner
        self._name = name
        self._raw = raw
        self._limit = limit
        self.produced = 0

    def _problem(self, exc: BaseException) -> str:
        raise NotImplementedError

    def readable(self) -> bool:
        return True

    def _fail(self, problem: str) -> ArchiveError:
        return self._owner._error(problem, member=self._name)

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("read from a closed member reader")
        try:
            data = self._raw.read(-1 if size is None else size)
        except self.read_errors as e:
            raise self._fail(self._problem(e)) from None
        n = len(data)
        if n:
            self.produced += n
            self._owner.total_read += n
            self._check()
        return data

    def _check(self) -> None:
        """The caps, after each read that produced bytes."""
        self._check_limit()
        self._check_total()

    def _check_limit(self) -> None:
        if self._limit is not None and self.produced > self._limit:
            raise self._fail(f"is over the limit of {self._limit} bytes for this file")

    def _check_total(self) -> None:
        owner = self._owner
        if owner.total_read > owner.max_total:
            raise self._fail(
                f"the archive expands past the limit of {owner.max_total} bytes"
                f"{self.total_hint}")

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

    def readall(self) -> bytes:
        return self.read(-1)

    def close(self) -> None:
        if not self.closed:
            try:
                self._raw.close()
            finally:
                super().close()
