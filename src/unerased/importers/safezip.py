"""Open a zip file defensively: it comes from outside and may be hostile.

:class:`SafeZip` never extracts to disk. Before anything is read it rejects what is
not a zip, members whose names could escape a directory (``../``, absolute paths,
drive letters, backslashes, control characters), symbolic links and other special
files, duplicate names, encrypted members, unsupported compression methods, entries
whose data overlap (the "overlapping files" zip bomb) and members whose *declared*
sizes are absurd. Because headers can lie, the same limits are enforced again on the
bytes actually produced while a member is streamed: per-member compression ratio,
per-member size against its header, and the cumulative decompressed size of
everything read through this object. A truncated or corrupted member is caught by
the CRC check at its end (every reader here reads members to the end).

Every failure is an :class:`~unerased.errors.ArchiveError` with one line. A tar or tar.gz
is read the same way by :class:`~unerased.importers.safetar.SafeTar`.
"""

from __future__ import annotations

import io
import lzma
import stat
import struct
import zipfile
import zlib
from typing import IO, BinaryIO

from ._archive import (
    DEFAULT_MAX_MEMBERS,
    DEFAULT_MAX_RATIO,
    DEFAULT_MAX_TOTAL,
    DEFAULT_RATIO_FLOOR,
    MemberReader,
    SafeArchive,
    name_problem,
)
from ._archive import show as _show

__all__ = [
    "DEFAULT_MAX_MEMBERS",
    "DEFAULT_MAX_RATIO",
    "DEFAULT_MAX_TOTAL",
    "DEFAULT_RATIO_FLOOR",
    "SafeZip",
    "name_problem",
]

_SUPPORTED_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
_LOCAL_HEADER_MIN = 30
_READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    struct.error,
    NotImplementedError,
    RuntimeError,
    UnicodeError,
    IndexError,
    KeyError,
    OverflowError,
    TypeError,
    AttributeError,
)


def _read_error_problem(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, zipfile.BadZipFile) and "CRC" in text:
        return "bad CRC-32: the archive is corrupted or truncated"
    if isinstance(exc, EOFError) or "ended before" in text:
        return "data ends early: the archive is truncated"
    if isinstance(exc, zlib.error | lzma.LZMAError):
        return f"corrupt compressed data ({text})"
    if isinstance(exc, zipfile.BadZipFile):
        return f"corrupt zip entry ({text})"
    if isinstance(exc, RuntimeError) and "encrypted" in text:
        return "member is encrypted"
    if isinstance(exc, NotImplementedError):
        return f"unsupported zip feature ({text})"
    return f"cannot read ({type(exc).__name__}: {text})" if text else f"cannot read ({type(exc).__name__})"


def _declared_entries(fp: BinaryIO, size: int) -> int | None:
    """The member count the end-of-central-directory record declares, read before
    :mod:`zipfile` builds one object per member. None when it cannot tell (then
    zipfile decides whether this is a zip at all)."""
    tail_len = min(size, 22 + 65535)
    fp.seek(size - tail_len)
    tail = fp.read(tail_len)
    i = tail.rfind(b"PK\x05\x06")
    if i < 0 or len(tail) - i < 22:
        return None
    _sig, _disk, _cd_disk, n_disk, n_total, _cd_size, _cd_off, _clen = struct.unpack(
        "<4s4H2LH", tail[i : i + 22]
    )
    if n_total != 0xFFFF and n_disk != 0xFFFF:
        return int(max(n_total, n_disk))
    loc_pos = size - tail_len + i - 20
    if loc_pos < 0:
        return None
    fp.seek(loc_pos)
    loc = fp.read(20)
    if len(loc) != 20 or loc[:4] != b"PK\x06\x07":
        return None
    _s, _d, eocd64_off, _n = struct.unpack("<4sLQL", loc)
    if eocd64_off + 56 > size:
        return None
    fp.seek(eocd64_off)
    rec = fp.read(56)
    if rec[:4] != b"PK\x06\x06":
        return None
    n_disk64, n_total64 = struct.unpack("<QQ", rec[24:40])
    return int(max(n_disk64, n_total64))


class SafeZip(SafeArchive):
    """A read-only, defensive view of one zip file.

    ``names()`` lists the members; ``open(name)`` streams one (a capped binary reader);
    ``read(name, limit)`` returns one member's bytes when it is at most ``limit``.
    Use it as a context manager, or call :meth:`close`.
    """

    kind = "zip"

    # --- opening and checking -------------------------------------------------

    def _start(self) -> None:
        self._zf: zipfile.ZipFile | None = None

    def _open(self, fh: BinaryIO, size: int) -> None:
        try:
            declared = _declared_entries(fh, size)
            fh.seek(0)
        except OSError as e:
            raise self._error(f"cannot read ({e.strerror or e})") from None
        if declared is not None and declared > self.max_members:
            raise self._error(
                f"declares {declared} members, more than the limit of {self.max_members}"
            )
        try:
            self._zf = zipfile.ZipFile(fh)
        except zipfile.BadZipFile as e:
            if "not a zip file" in str(e):
                raise self._error("not a zip file") from None
            raise self._error(f"corrupt zip ({e})") from None
        except _READ_ERRORS as e:
            raise self._error(f"corrupt zip ({type(e).__name__}: {e})") from None
        self._check(size)

    def _check(self, size: int) -> None:
        assert self._zf is not None
        infos = self._zf.infolist()
        if len(infos) > self.max_members:
            raise self._error(
                f"has {len(infos)} members, more than the limit of {self.max_members}"
            )
        seen: set[str] = set()
        total = 0
        for zi in infos:
            for candidate in {zi.filename, zi.orig_filename}:
                problem = name_problem(candidate)
                if problem:
                    raise self._error(problem)
            name = zi.filename
            if name in seen:
                raise self._error(f"member {_show(name)} appears twice")
            seen.add(name)
            ftype = stat.S_IFMT(zi.external_attr >> 16)
            if ftype == stat.S_IFLNK:
                raise self._error(f"member {_show(name)} is a symbolic link")
            if ftype not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise self._error(f"member {_show(name)} is a special file")
            if zi.flag_bits & 0x1:
                raise self._error(f"member {_show(name)} is encrypted")
            if zi.compress_type not in _SUPPORTED_METHODS:
                raise self._error(
                    f"member {_show(name)} uses unsupported compression method {zi.compress_type}"
                )
            if zi.file_size < 0 or zi.compress_size < 0 or zi.header_offset < 0:
                raise self._error(f"member {_show(name)} has negative sizes")
            if zi.header_offset + _LOCAL_HEADER_MIN + zi.compress_size > size:
                raise self._error(f"member {_show(name)} points past the end of the file")
            if self._ratio_exceeded(zi.file_size, zi.compress_size):
                raise self._error(self._ratio_problem(name, zi.file_size, zi.compress_size))
            total += zi.file_size
        if total > self.max_total:
            raise self._error(
                f"declares {total} bytes uncompressed, over the limit of {self.max_total}"
            )
        ordered = sorted(infos, key=lambda z: z.header_offset)
        end_of_data = getattr(self._zf, "start_dir", None)
        successors: list[zipfile.ZipInfo | None] = [*ordered[1:], None] if ordered else []
        for a, b in zip(ordered, successors, strict=True):
            limit = b.header_offset if b is not None else end_of_data
            if isinstance(limit, int) and a.header_offset + _LOCAL_HEADER_MIN + a.compress_size > limit:
                raise self._error(
                    f"member {_show(a.filename)} overlaps another member (zip bomb?)"
                )

    def _ratio_problem(self, name: str, out: int, compressed: int) -> str:
        return f"member {_show(name)} {self._ratio_text(out, compressed, 'zip')}"

    # --- public API -------------------------------------------------------------

    def names(self) -> list[str]:
        """Member names, in the archive's order (directories included, ending in /)."""
        return [zi.filename for zi in self._zipfile().infolist()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._info_or_none(name) is not None

    def size(self, name: str) -> int:
        """The uncompressed size the member's header declares (may lie; readers check)."""
        return self._info(name).file_size

    def open(self, name: str, *, limit: int | None = None) -> BinaryIO:
        """A binary reader over one member, decompressing as it goes. It raises
        ArchiveError past ``limit`` bytes, past the ratio/total caps, on a corrupt or
        truncated member (CRC checked when the end is reached)."""
        zi = self._info(name)
        if zi.is_dir():
            raise self._error("is a directory", member=name)
        try:
            raw = self._zipfile().open(zi, "r")
        except _READ_ERRORS as e:
            raise self._error(_read_error_problem(e), member=name) from None
        return io.BufferedReader(_MemberReader(self, zi, raw, limit), buffer_size=1 << 16)

    def close(self) -> None:
        zf, fh = self._zf, self._fh
        self._zf = self._fh = None
        if zf is not None:
            zf.close()
        if fh is not None:
            fh.close()

    # --- internals -----------------------------------------------------------------

    def _zipfile(self) -> zipfile.ZipFile:
        if self._zf is None:
            raise self._error("archive is closed")
        return self._zf

    def _info_or_none(self, name: str) -> zipfile.ZipInfo | None:
        try:
            return self._zipfile().getinfo(name)
        except KeyError:
            return None

    def _info(self, name: str) -> zipfile.ZipInfo:
        zi = self._info_or_none(name)
        if zi is None:
            raise self._error("no such member", member=name)
        return zi


class _MemberReader(MemberReader):
    """Streams one member and enforces the limits on what it actually produces: also
    its header's size and the compression ratio."""

    read_errors = _READ_ERRORS
    total_hint = " (zip bomb?)"

    def __init__(
        self, owner: SafeZip, zi: zipfile.ZipInfo, raw: IO[bytes], limit: int | None
    ) -> None:
        super().__init__(owner, zi.filename, raw, limit)
        self._zi = zi

    def _problem(self, exc: BaseException) -> str:
        return _read_error_problem(exc)

    def _check(self) -> None:
        zi = self._zi
        if self.produced > zi.file_size:
            raise self._fail("member is larger than its header says (zip bomb?)")
        self._check_limit()
        if self._owner._ratio_exceeded(self.produced, zi.compress_size):
            raise self._fail(self._owner._ratio_text(self.produced, zi.compress_size, "zip"))
        self._check_total()
