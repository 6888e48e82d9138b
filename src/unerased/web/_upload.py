"""An uploaded archive, streamed from a ``multipart/form-data`` body into an owner-only
file (never the whole file in memory; python-multipart's push parser, the file written
in 1 MiB pieces off the event loop).

The form's text fields (``csrf``, ``kind``) come before its file (browsers send fields in
the form's order): the CSRF token is checked when the file part begins, so a forged
upload is refused before any of it is stored. The body is capped: a ``Content-Length``
over the cap is refused (413) before anything is read, a body growing past it as soon
as it does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from .._files import os_reason
from ._registry import N_, Problem
from ._security import csrf_valid

__all__ = ["FORM_ALLOWANCE", "Upload", "receive_upload"]

FORM_ALLOWANCE = 64 * 1024  # the body's bytes beyond the file: boundaries, small fields
MAX_FIELD = 4096
MAX_FIELDS = 10
FLUSH = 1 << 20

OpenFile = Callable[[str], tuple[int, Path]]


@dataclass
class Upload:
    """What the form carried: its text ``fields`` and the stored file (``path``,
    ``size``; ``name``: the browser's file name)."""

    fields: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    name: str = ""
    size: int = 0


class _Parts:
    """python-multipart's callbacks: text fields into memory (small), the file's bytes
    into a pending list the caller writes out."""

    def __init__(self, request: Request, file_field: str, open_file: OpenFile) -> None:
        self.request = request
        self.file_field = file_field
        self.open_file = open_file
        self.upload = Upload()
        self.fd: int | None = None
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""
        self.part_name: str | None = None
        self.is_file = False
        self.data = bytearray()
        self.problem: Problem | None = None

    def fail(self, status: int, message: str, **args: Any) -> None:
        if self.problem is None:
            self.problem = Problem(status, message, **args)

    def on_part_begin(self) -> None:
        self.disposition, self.part_name, self.is_file = b"", None, False
        self.data = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self.disposition)
        name = options.get(b"name")
        if name is None:
            self.fail(400, N_("unusable form: a part without a name"))
            return
        self.part_name = name.decode("utf-8", "replace")
        if b"filename" not in options:
            if len(self.upload.fields) >= MAX_FIELDS:
                self.fail(400, N_("unusable form: too many fields"))
            return
        if self.part_name != self.file_field or self.fd is not None:
            self.fail(400, N_("unusable form: one file, in the field %(field)r"),
                      field=self.file_field)
            return
        if not csrf_valid(self.request, self.upload.fields.get("csrf")):
            self.fail(403, N_("the form's CSRF token is missing or wrong: reload the page"))
            return
        self.is_file = True
        from ._jobs import upload_name

        raw = options[b"filename"].decode("utf-8", "replace")
        self.upload.name = upload_name(raw)
        try:
            self.fd, self.upload.path = self.open_file(self.upload.name)
        except OSError as e:
            self.is_file = False
            self.fail(507, N_("the upload cannot be stored: %(reason)s"), reason=os_reason(e))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.problem is not None:
            return
        if self.is_file:
            chunk = data[start:end]
            self.pending.append(chunk)
            self.pending_size += len(chunk)
            self.upload.size += len(chunk)
        elif len(self.data) + end - start > MAX_FIELD:
            self.fail(400, N_("unusable form: a field is too long"))
        else:
            self.data += data[start:end]

    def on_part_end(self) -> None:
        if not self.is_file and self.part_name is not None and self.problem is None:
            self.upload.fields[self.part_name] = self.data.decode("utf-8", "replace")

    def callbacks(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in (
            "on_part_begin", "on_part_data", "on_part_end", "on_header_field",
            "on_header_value", "on_header_end", "on_headers_finished")}


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


async def receive_upload(request: Request, file_field: str, max_bytes: int,
                         open_file: OpenFile) -> Upload:
    """The form of ``request``, its one file (field ``file_field``) written to the file
    ``open_file(name)`` makes (``(fd, path)``). Raises :class:`Problem`: 400 (not a
    form, no file, a form that cannot be used), 403 (CSRF), 413 (over ``max_bytes``),
    507 (the disk is full). On any error the caller deletes what was stored."""
    from python_multipart import MultipartParser
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import parse_options_header

    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise Problem(400, N_("send the archive as multipart/form-data (the page's form)"))
    cap = max_bytes + FORM_ALLOWANCE
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > cap):
        raise _too_large(max_bytes)
    parts = _Parts(request, file_field, open_file)
    parser = MultipartParser(boundary, parts.callbacks())  # type: ignore[arg-type]
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > cap or parts.upload.size > max_bytes:
                raise _too_large(max_bytes)
            try:
                parser.write(chunk)
            except FormParserError:
                raise Problem(400, N_("unusable form: not valid multipart data")) from None
            if parts.problem is not None:
                raise parts.problem
            if parts.upload.size > max_bytes:
                raise _too_large(max_bytes)
            if parts.pending_size >= FLUSH:
                await _flush(parts)
        try:
            parser.finalize()
        except FormParserError:
            raise Problem(400, N_("unusable form: not valid multipart data")) from None
        if parts.problem is not None:
            raise parts.problem
        await _flush(parts)
    finally:
        if parts.fd is not None:
            os.close(parts.fd)
    if parts.upload.path is None:
        if not csrf_valid(request, parts.upload.fields.get("csrf")):
            raise Problem(403, N_("the form's CSRF token is missing or wrong: reload the page"))
        raise Problem(400, N_("choose an archive file to upload"))
    if parts.upload.size == 0:
        raise Problem(400, N_("the uploaded file is empty"))
    return parts.upload


async def _flush(parts: _Parts) -> None:
    if not parts.pending or parts.fd is None:
        return
    data = b"".join(parts.pending)
    parts.pending.clear()
    parts.pending_size = 0
    try:
        await run_in_threadpool(_write_all, parts.fd, data)
    except OSError as e:
        raise Problem(507, N_("the upload cannot be stored: %(reason)s"),
                      reason=os_reason(e)) from None


def _too_large(max_bytes: int) -> Problem:
    return Problem(413, N_("the upload is larger than this server's limit (%(limit)s; "
                           "`unerased serve --max-upload`)"), limit=_size(max_bytes))


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            v = n / scale
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{n} bytes"
