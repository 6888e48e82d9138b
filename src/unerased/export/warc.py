"""WARC/1.1 export of raw HTTP captures (``unerased export warc OUT.warc.gz``).

Every :class:`~unerased.model.Capture` becomes a ``request`` record and a ``response``
record (or, when the exchange failed before any answer, a ``metadata`` record saying
why), after one ``warcinfo`` record. Records are built with warcio's record builder and
each one is gzipped on its own, so the file is an ordinary ``.warc.gz`` that warcio,
pywb and other WARC tools read.

Choices:

* Digests are SHA-256 in lowercase base16 (``sha256:<64 hex>``), as the IIPC WARC 1.1
  annotated community recommendation advises for SHA-256 (Base32 is the convention only
  for SHA-1; a Base32 SHA-256 needs ``=`` padding, which is not a valid token character).
  warcio's digest checker accepts it (it decodes base16 when the length says so), and
  pywb copies the value into its indexes as an opaque string. The response's
  ``WARC-Payload-Digest`` is therefore ``sha256:`` + the capture's ``body_sha256``, the
  same address as the body in our blob store.
* httpx hands us bodies with the content-coding already removed, so the stored body is
  *decoded*. The HTTP header block is fixed up to match it: ``Content-Encoding`` (the
  codings httpx decodes) and ``Transfer-Encoding`` are dropped and ``Content-Length`` is
  set to the stored length; the original values are kept as ``X-Unerased-Orig-<name>``
  headers and the record carries ``WARC-Unerased-Note`` saying so.
* HTTP/2 and HTTP/3 exchanges are written in HTTP/1.1 message syntax (what the WARC
  ``application/http`` type and its readers expect) with ``WARC-Protocol: h2``/``h3``.
* Header strings are turned back into bytes by inverting httpx's decoding (ASCII, else
  UTF-8, else ISO-8859-1 for the whole header set); CR, LF and NUL inside a name or
  value become spaces so that no value can forge another header.
* ``WARC-Unerased-Capture-Id`` carries the capture id (sha256 of its canonical record).
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from unerased.model import Capture, iso, utcnow

from ..errors import ExportError

__all__ = ["WarcExportError", "write_warc"]

WARC_VERSION = "WARC/1.1"
_DECODED_CODINGS = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd", "identity"})
_NOTE = (
    "payload decoded by the HTTP client; Content-Encoding/Transfer-Encoding removed and "
    "Content-Length set to the stored length; originals kept as X-Unerased-Orig-* headers"
)
_PROTOCOLS = {"HTTP/1.0": "http/1.0", "HTTP/1.1": "http/1.1", "HTTP/2": "h2",
              "HTTP/2.0": "h2", "HTTP/3": "h3", "HTTP/3.0": "h3"}
_LINE_BREAKS = re.compile("[\r\n\x00]")
_WARC_UNSAFE = re.compile("[\x00-\x1f\x7f]")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_URI_SAFE = "!#$%&'()*+,/:;=?@[]~"


class WarcExportError(ExportError):
    """A capture cannot be written as WARC (one line says which and why)."""


class _RawHeaders(StatusAndHeaders):  # type: ignore[misc]
    """A status line and headers whose serialised bytes we build ourselves: warcio would
    otherwise percent-encode every non-ASCII header value, altering the evidence."""

    def __init__(self, statusline: str, headers: list[tuple[str, str]], raw: bytes) -> None:
        super().__init__(statusline, headers, protocol="")
        self.headers_buff = raw

    def compute_headers_buffer(self, header_filter: Any = None) -> None:
        """Keep the bytes given at construction."""


# --- small helpers --------------------------------------------------------------------


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _warc_date(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    dt = dt.astimezone(UTC)
    frac = f".{dt.microsecond:06d}" if dt.microsecond else ""
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


def _warc_value(value: str) -> str:
    """A WARC header value on one line, encodable as UTF-8."""
    value = _WARC_UNSAFE.sub(" ", value)
    return value.encode("utf-8", "replace").decode("utf-8")


def _target_uri(url: str) -> str:
    return quote(url.strip(), safe=_URI_SAFE, errors="surrogatepass")


def _record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def _header_encoding(strings: Sequence[str]) -> str:
    """Invert httpx's header decoding: it tries ASCII, then UTF-8, then ISO-8859-1 for
    the whole header set."""
    joined = "".join(strings)
    if joined.isascii():
        return "ascii"
    try:
        as_latin1 = joined.encode("iso-8859-1")
    except UnicodeEncodeError:
        return "utf-8"
    try:
        as_latin1.decode("utf-8")
    except UnicodeDecodeError:
        return "iso-8859-1"  # httpx would not have decoded these bytes as UTF-8
    return "utf-8"


def _encode(value: str, encoding: str) -> bytes:
    try:
        return value.encode(encoding, "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace")


def _one_line(value: str) -> str:
    return _LINE_BREAKS.sub(" ", value)


def _http_head(first_line: str, headers: Sequence[tuple[str, str]]) -> _RawHeaders:
    clean = [(_one_line(n).strip(), _one_line(v).strip()) for n, v in headers]
    encoding = _header_encoding([first_line] + [n + v for n, v in clean])
    parts = [_encode(first_line, encoding), b"\r\n"]
    for name, value in clean:
        parts += [_encode(name, encoding), b": ", _encode(value, encoding), b"\r\n"]
    parts.append(b"\r\n")
    shown = [(_warc_value(n), _warc_value(v)) for n, v in clean]
    return _RawHeaders(_warc_value(first_line), shown, b"".join(parts))


def _http_version(capture: Capture) -> tuple[str, str | None]:
    """(version written in the message, WARC-Protocol value or None)."""
    v = capture.http_version.strip().upper()
    protocol = _PROTOCOLS.get(v)
    return (v if v in ("HTTP/1.0", "HTTP/1.1") else "HTTP/1.1"), protocol


def _request_target(uri: str) -> str:
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri  # absolute-form, still a valid request-target
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return target


def _fix_response_headers(
    capture: Capture, body: bytes
) -> tuple[list[tuple[str, str]], bool]:
    """Headers that describe the decoded body we store, and whether anything changed."""
    status = capture.status or 0
    if capture.method.upper() == "HEAD" or status in (204, 304) or status < 200:
        return list(capture.response_headers), False  # no body was sent: nothing to fix
    kept: list[tuple[str, str]] = []
    originals: list[tuple[str, str]] = []
    lengths: list[str] = []
    for name, value in capture.response_headers:
        key = name.strip().lower()
        if key == "content-encoding":
            codings = [c.strip() for c in value.split(",") if c.strip()]
            left = [c for c in codings if c.lower() not in _DECODED_CODINGS]
            if left != codings:
                originals.append((name, value))
                if left:  # a coding httpx does not decode is still applied to the body
                    kept.append((name, ", ".join(left)))
                continue
        elif key == "transfer-encoding":
            originals.append((name, value))
            continue
        elif key == "content-length":
            lengths.append(value.strip())
            originals.append((name, value))
            continue
        kept.append((name, value))
    kept.append(("Content-Length", str(len(body))))
    if lengths == [str(len(body))]:  # the length was right: nothing to record about it
        originals = [(n, v) for n, v in originals if n.strip().lower() != "content-length"]
    kept += [(f"X-Unerased-Orig-{n.strip()}", v) for n, v in originals]
    return kept, bool(originals) or not lengths


# --- records --------------------------------------------------------------------------


def _record(
    writer: WARCWriter,
    rec_type: str,
    uri: str,
    fields: list[tuple[str, str]],
    payload: bytes,
    http: _RawHeaders | None = None,
    content_type: str = "",
) -> Any:
    block = (http.headers_buff if http is not None else b"") + payload
    headers = {"WARC-Type": rec_type, **dict(fields)}
    headers["WARC-Block-Digest"] = _digest(block)
    if rec_type != "warcinfo":
        headers["WARC-Payload-Digest"] = _digest(payload)
    return writer.create_warc_record(
        uri,
        rec_type,
        payload=BytesIO(payload),
        length=len(payload),
        warc_content_type=content_type,
        warc_headers_dict={k: _warc_value(v) for k, v in headers.items()},
        http_headers=http,
    )


def _warc_fields(fields: Iterable[tuple[str, str]]) -> bytes:
    lines = (f"{_warc_value(k)}: {_warc_value(v)}\r\n" for k, v in fields)
    return "".join(lines).encode("utf-8")


def _warcinfo(writer: WARCWriter, out: BinaryIO, software: str, filename: str | None) -> Any:
    fields = [
        ("software", software),
        ("format", "WARC File Format 1.1"),
        ("conformsTo", "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"),
        ("description", "raw HTTP exchanges kept by unerased as evidence; response "
                        "payloads are stored decoded (see WARC-Unerased-Note)"),
        ("digests", "sha256, lowercase base16"),
    ]
    name = filename if filename is not None else getattr(out, "name", None)
    head = [("WARC-Record-ID", _record_id()), ("WARC-Date", _warc_date(utcnow()))]
    if isinstance(name, str) and name and not name.startswith("<"):  # not "<stdout>"
        head.append(("WARC-Filename", os.path.basename(name)))
    return _record(writer, "warcinfo", "", head, _warc_fields(fields))


def _capture_records(
    writer: WARCWriter, capture: Capture, body: bytes, warcinfo_id: str
) -> list[Any]:
    where = f"capture of {capture.url[:200]!r}"
    if capture.body and capture.body != body:
        raise WarcExportError(f"{where}: the body given does not match Capture.body")
    try:
        capture_id = capture.id
    except (UnicodeError, ValueError, TypeError) as exc:
        raise WarcExportError(f"{where} has no id: {exc}") from None
    uri = _target_uri(capture.url)
    version, protocol = _http_version(capture)
    date = _warc_date(capture.started_at)
    req_id, resp_id = _record_id(), _record_id()
    common = [("WARC-Date", date), ("WARC-Warcinfo-ID", warcinfo_id),
              ("WARC-Unerased-Capture-Id", capture_id)]
    if protocol:
        common.append(("WARC-Protocol", protocol))

    method = _one_line(capture.method).strip() or "GET"
    if not _TOKEN.fullmatch(method):
        method = re.sub(r"[^!#$%&'*+.^_`|~0-9A-Za-z-]", "_", method)
    req_http = _http_head(
        f"{method} {_request_target(uri)} {version}", list(capture.request_headers.items())
    )
    request = _record(
        writer, "request", uri,
        [("WARC-Record-ID", req_id), *common, ("WARC-Concurrent-To", resp_id)],
        capture.request_body, req_http,
    )
    if capture.status is None:
        fields = [("error", capture.error or "no response")]
        fields += [("method", capture.method), ("started-at", iso(capture.started_at) or ""),
                   ("http-version", capture.http_version),
                   ("note", "the request failed before any response; no response record")]
        records = [request]
        if body:  # bytes read before the failure: keep them too
            fields += [("partial-body-length", str(len(body))),
                       ("partial-body-sha256", hashlib.sha256(body).hexdigest())]
            records.append(_record(
                writer, "resource", uri,
                [("WARC-Record-ID", _record_id()), *common, ("WARC-Concurrent-To", req_id)],
                body, content_type="application/octet-stream",
            ))
        meta = _record(
            writer, "metadata", uri,
            [("WARC-Record-ID", resp_id), *common, ("WARC-Concurrent-To", req_id)],
            _warc_fields(fields),
        )
        return [records[0], meta, *records[1:]]

    reason = capture.reason
    if reason is None:
        try:
            reason = HTTPStatus(capture.status).phrase
        except ValueError:
            reason = ""
    headers, changed = _fix_response_headers(capture, body)
    resp_http = _http_head(f"{version} {capture.status} {reason}".rstrip(), headers)
    resp_fields = [("WARC-Record-ID", resp_id), *common, ("WARC-Concurrent-To", req_id)]
    if changed:
        resp_fields.append(("WARC-Unerased-Note", _NOTE))
    if capture.error:
        resp_fields.append(("WARC-Unerased-Error", capture.error))
    response = _record(writer, "response", uri, resp_fields, body, resp_http)
    return [request, response]


def write_warc(
    out: BinaryIO,
    captures: Iterable[tuple[Capture, bytes]],
    *,
    software: str = "unerased",
    filename: str | None = None,
) -> int:
    """Write a WARC/1.1 file (one gzip member per record) of ``captures`` to ``out``.

    ``filename`` is the ``WARC-Filename`` of the ``warcinfo`` record (default: the name
    of ``out`` when it is a file; none for a stream such as standard output).

    Each item is a capture and its response body as stored (httpx-decoded); when
    ``Capture.body`` is filled it must equal that body. Returns the number of records
    written, the ``warcinfo`` record included: 1 + 2 per capture (+1 ``resource`` record
    for a failed exchange that still read some bytes). Raises :class:`WarcExportError`
    for a capture that cannot be written; records before it are already out.
    """
    writer = WARCWriter(out, gzip=True, warc_version=WARC_VERSION)
    info = _warcinfo(writer, out, software, filename)
    info_id = info.rec_headers.get_header("WARC-Record-ID")
    writer.write_record(info)
    written = 1
    for capture, body in captures:
        for record in _capture_records(writer, capture, bytes(body), info_id):
            writer.write_record(record)
            written += 1
    return written
