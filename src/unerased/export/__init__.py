"""Exports: ``jsonl`` and ``csv`` (posts with versions), ``warc`` (raw HTTP captures).

``run_export(store, fmt, out)`` writes to a file atomically, or to standard output when
``out`` is ``-`` (then nothing else is written there). The file is owner-only (0600,
whatever the umask: it holds archive content); an OS error (a full disk, a file size
limit, a directory that refuses writes) is one line naming the file and the reason, and
leaves neither the file nor its ``.part``."""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

from .._files import open_private, os_reason
from .._lazy import exports
from ..errors import ExportError, UsageError
from ._tabular import CSV_FIELDS, spreadsheet_safe

if TYPE_CHECKING:
    from ..store import Store
    from .warc import WarcExportError, write_warc

__all__ = [
    "CSV_FIELDS", "FORMATS", "STDOUT", "ProgressFn", "WarcExportError", "run_export",
    "spreadsheet_safe", "write_warc",
]

ProgressFn = Callable[[int, int], None]
FORMATS = ("jsonl", "csv", "warc")
STDOUT = "-"
"""The ``out`` that means standard output."""


def run_export(
    store: Store, fmt: str, out: Path | str, *, progress: ProgressFn | None = None
) -> int:
    """Write the export, returns the record count. To a file: atomically (a temp file
    beside it, then a rename). To standard output when ``out`` is ``-``: text formats
    (UTF-8) to the text stream, ``warc`` to its binary buffer."""
    if fmt not in FORMATS:
        raise UsageError(f"no export format {fmt!r} (have: {', '.join(FORMATS)})")
    if os.fspath(out) == STDOUT:
        return _to_stdout(store, fmt, progress)
    out = Path(out)
    tmp = out.with_name(out.name + ".part")
    made = False
    try:
        fd = open_private(tmp)
        made = True
        if fmt == "warc":
            with open(fd, "wb") as f:
                n = _write_binary(store, f, out.name)
        else:
            with open(fd, "w", encoding="utf-8", newline="") as t:
                n = _write_text(store, fmt, t, progress)
        tmp.replace(out)
    except OSError as e:
        _remove(tmp, made)
        raise ExportError(f"cannot write {out}: {os_reason(e)}") from None
    except BaseException:
        _remove(tmp, made)
        raise
    return n


def _remove(tmp: Path, made: bool) -> None:
    if made:  # never a file of that name that was there before and is not ours
        with contextlib.suppress(OSError):
            tmp.unlink()


def _write_text(store: Store, fmt: str, f: TextIO, progress: ProgressFn | None) -> int:
    from . import _tabular

    write = _tabular.write_jsonl if fmt == "jsonl" else _tabular.write_csv
    return write(store.iter_posts(), f, progress)


def _write_binary(store: Store, f: BinaryIO, filename: str | None) -> int:
    from .warc import write_warc

    return write_warc(f, store.iter_captures(), filename=filename)


def _is_utf8(stream: TextIO) -> bool:
    try:
        return codecs.lookup(stream.encoding or "").name == "utf-8"
    except LookupError:
        return False


def _to_stdout(store: Store, fmt: str, progress: ProgressFn | None) -> int:
    stdout = sys.stdout
    try:
        if fmt == "warc":
            stdout.flush()
            n = _write_binary(store, stdout.buffer, None)
            stdout.buffer.flush()
        elif _is_utf8(stdout) or not hasattr(stdout, "buffer"):
            n = _write_text(store, fmt, stdout, progress)
            stdout.flush()
        else:  # JSON Lines and CSV are UTF-8 whatever the terminal's encoding
            stdout.flush()
            wrapper = io.TextIOWrapper(stdout.buffer, encoding="utf-8", newline="")
            try:
                n = _write_text(store, fmt, wrapper, progress)
                wrapper.flush()
            finally:
                wrapper.detach()
    except OSError as e:  # a closed pipe, a full disk behind a redirection
        raise ExportError(f"standard output: {e.strerror or e}") from None
    return n


__getattr__ = exports(__name__, {"WarcExportError": "warc", "write_warc": "warc"})
