"""WARC export: written with warcio's builder, read back with warcio's ArchiveIterator."""

from __future__ import annotations

import hashlib
import io
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from unerased.export.warc import WarcExportError, write_warc
from unerased.model import Capture

T0 = datetime(2024, 11, 9, 8, 7, 6, 543210, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4 + b"\r\n\r\n\x00"


def _capture(**kw: Any) -> Capture:
    base: dict[str, Any] = {
        "method": "GET",
        "url": "https://bsky.example/xrpc/app.bsky.feed.getPost?uri=at%3A%2F%2Fdid",
        "started_at": T0,
        "request_headers": {"Host": "bsky.example", "User-Agent": "unerased/0.1",
                            "Accept-Encoding": "gzip, br"},
        "status": 200,
        "reason": "OK",
        "response_headers": [("Content-Type", "application/json"),
                             ("Content-Encoding", "gzip"), ("Content-Length", "41")],
        "body": '{"text":"我们删除了推特"}'.encode(),
    }
    base.update(kw)
    return Capture(**base)


def _write(captures: list[tuple[Capture, bytes]]) -> tuple[int, bytes]:
    out = io.BytesIO()
    n = write_warc(out, captures)
    return n, out.getvalue()


def _records(data: bytes) -> list[dict[str, Any]]:
    """Every record, parsed, with digests verified by warcio (raises on a mismatch)."""
    out = []
    it = ArchiveIterator(io.BytesIO(data), check_digests="raise", verify_http=True)
    for rec in it:
        payload = rec.content_stream().read()
        assert rec.digest_checker.passed is True, rec.digest_checker.problems
        out.append({
            "type": rec.rec_type,
            "h": rec.rec_headers,
            "http": rec.http_headers,
            "payload": payload,
        })
    return out


def _blocks(data: bytes) -> list[tuple[dict[str, str], bytes]]:
    """(WARC headers, raw block bytes) of every record, parsed by hand."""
    raw = _gunzip_members(data)
    out = []
    for member in raw:
        head, _, rest = member.partition(b"\r\n\r\n")
        lines = head.decode("utf-8").split("\r\n")
        assert lines[0] == "WARC/1.1"
        fields: dict[str, str] = {}
        for line in lines[1:]:
            k, _, v = line.partition(": ")
            assert k not in fields or k == "WARC-Concurrent-To", f"repeated {k}"
            fields[k] = v
        length = int(fields["Content-Length"])
        assert rest[length:] == b"\r\n\r\n"
        out.append((fields, rest[:length]))
    return out


def _gunzip_members(data: bytes) -> list[bytes]:
    members = []
    while data:
        d = zlib.decompressobj(zlib.MAX_WBITS | 16)
        members.append(d.decompress(data) + d.flush())
        data = d.unused_data
    return members


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_request_and_response_records_round_trip() -> None:
    c = _capture()
    n, data = _write([(c, c.body)])
    assert n == 3
    recs = _records(data)
    assert [r["type"] for r in recs] == ["warcinfo", "request", "response"]
    info, req, resp = recs
    assert info["h"].protocol == "WARC/1.1"
    assert b"software: unerased\r\n" in info["payload"]
    info_id = info["h"].get_header("WARC-Record-ID")
    for r in (req, resp):
        h = r["h"]
        assert h.get_header("WARC-Target-URI") == c.url
        assert h.get_header("WARC-Date") == "2024-11-09T08:07:06.543210Z"
        assert h.get_header("WARC-Unerased-Capture-Id") == c.id
        assert h.get_header("WARC-Warcinfo-ID") == info_id
        assert h.get_header("WARC-Protocol") == "http/1.1"
    assert req["h"].get_header("WARC-Concurrent-To") == resp["h"].get_header("WARC-Record-ID")
    assert resp["h"].get_header("WARC-Concurrent-To") == req["h"].get_header("WARC-Record-ID")
    assert req["http"].protocol == "GET"
    assert req["http"].statusline == (
        "/xrpc/app.bsky.feed.getPost?uri=at%3A%2F%2Fdid HTTP/1.1")
    assert req["http"].get_header("User-Agent") == "unerased/0.1"
    assert resp["http"].protocol == "HTTP/1.1"
    assert resp["http"].statusline == "200 OK"
    assert resp["payload"] == c.body
    # our digest is the capture's body sha256, i.e. the blob store address
    assert resp["h"].get_header("WARC-Payload-Digest") == "sha256:" + c.body_sha256
    assert req["h"].get_header("WARC-Payload-Digest") == _sha(b"")


def test_decoded_body_headers_fixed_up_and_said_so() -> None:
    c = _capture()
    _, data = _write([(c, c.body)])
    resp = _records(data)[2]
    http = resp["http"]
    assert http.get_header("Content-Encoding") is None
    assert http.get_header("Content-Length") == str(len(c.body))
    assert http.get_header("X-Unerased-Orig-Content-Encoding") == "gzip"
    assert http.get_header("X-Unerased-Orig-Content-Length") == "41"
    assert "decoded" in resp["h"].get_header("WARC-Unerased-Note")
    assert resp["h"].get_header("Content-Type") == "application/http; msgtype=response"


def test_chunked_without_length_gets_length() -> None:
    c = _capture(response_headers=[("Transfer-Encoding", "chunked"),
                                   ("Content-Encoding", "br, x-custom")])
    _, data = _write([(c, c.body)])
    http = _records(data)[2]["http"]
    assert http.get_header("Transfer-Encoding") is None
    assert http.get_header("Content-Encoding") == "x-custom"  # not decoded by httpx: kept
    assert http.get_header("Content-Length") == str(len(c.body))
    assert http.get_header("X-Unerased-Orig-Transfer-Encoding") == "chunked"


def test_untouched_headers_have_no_note() -> None:
    body = b"plain"
    c = _capture(response_headers=[("Content-Length", "5")], body=body)
    _, data = _write([(c, body)])
    resp = _records(data)[2]
    assert resp["h"].get_header("WARC-Unerased-Note") is None
    assert resp["http"].headers == [("Content-Length", "5")]


def test_head_response_keeps_its_length() -> None:
    c = _capture(method="HEAD", body=b"",
                 response_headers=[("Content-Length", "1234"), ("Content-Encoding", "gzip")])
    _, data = _write([(c, b"")])
    resp = _records(data)[2]
    assert resp["http"].headers == [("Content-Length", "1234"), ("Content-Encoding", "gzip")]
    assert resp["h"].get_header("WARC-Unerased-Note") is None


def test_binary_body_byte_exact() -> None:
    c = _capture(response_headers=[("Content-Type", "image/png")], body=PNG)
    n, data = _write([(c, PNG)])
    assert n == 3
    resp = _records(data)[2]
    assert resp["payload"] == PNG
    assert resp["h"].get_header("WARC-Payload-Digest") == _sha(PNG)
    fields, block = _blocks(data)[2]
    assert block.endswith(PNG)
    assert fields["WARC-Block-Digest"] == _sha(block)
    assert fields["WARC-Payload-Digest"] == _sha(PNG)


def test_request_body_kept() -> None:
    body = b'{"identifier":"x","password":"\xff\xfe"}'
    c = _capture(method="POST", request_body=body,
                 request_headers={"Content-Type": "application/json",
                                  "Content-Length": str(len(body))})
    _, data = _write([(c, c.body)])
    req = _records(data)[1]
    assert req["http"].protocol == "POST"
    assert req["payload"] == body
    assert req["h"].get_header("WARC-Payload-Digest") == _sha(body)


def test_every_block_digest_recomputes() -> None:
    caps = [_capture(), _capture(body=PNG, response_headers=[]),
            _capture(status=None, reason=None, response_headers=[], body=b"",
                     error="ConnectTimeout: timed out")]
    n, data = _write([(c, c.body) for c in caps])
    blocks = _blocks(data)
    assert n == len(blocks) == 1 + 2 * 3
    assert len(_gunzip_members(data)) == n  # one gzip member per record
    for fields, block in blocks:
        assert fields["WARC-Block-Digest"] == _sha(block)
        assert fields["WARC-Block-Digest"].startswith("sha256:")
        assert len(fields["WARC-Block-Digest"]) == len("sha256:") + 64


def test_tampering_is_detected_by_warcio() -> None:
    c = _capture(body=b"the post said: free speech", response_headers=[])
    _, data = _write([(c, c.body)])
    plain = b"".join(_gunzip_members(data))
    assert b"free speech" in plain
    _records(plain)  # uncompressed WARC reads and verifies too
    forged = plain.replace(b"free speech", b"fake speech")
    with pytest.raises(ArchiveLoadFailed, match="digest"):
        _records(forged)


def test_non_utf8_headers() -> None:
    # httpx decodes a header set that is not valid UTF-8 as ISO-8859-1: write it back so
    latin = _capture(response_headers=[("X-Name", "Renée"), ("X-Bytes", "\xff\xfe")],
                     body=b"x")
    _, data = _write([(latin, b"x")])
    block = _blocks(data)[2][1]
    assert b"X-Name: Ren\xe9e\r\n" in block
    assert b"X-Bytes: \xff\xfe\r\n" in block
    assert _records(data)[2]["http"].get_header("X-Name") == "Renée"
    # a set that was UTF-8 stays UTF-8
    utf8 = _capture(response_headers=[
        ("Content-Disposition", "attachment; filename=删除.txt"), ("X-Name", "Renée")],
        body=b"x")
    _, data = _write([(utf8, b"x")])
    block = _blocks(data)[2][1]
    assert "filename=删除.txt".encode() in block
    assert "Renée".encode() in block
    assert _records(data)[2]["http"].get_header("X-Name") == "Renée"


def test_header_injection_is_harmless() -> None:
    c = _capture(
        url="https://example.org/p\r\nWARC-Type: revisit",
        request_headers={"X-Evil": "a\r\nX-Injected: 1", "X-Ctl": "\x1b[31m\x00"},
        response_headers=[("X-Evil", "b\r\n\r\nHTTP/1.1 500 Nope"), ("X-Bad\n", "1")],
        body=b"ok",
    )
    n, data = _write([(c, b"ok")])
    assert n == 3
    recs = _records(data)
    req, resp = recs[1], recs[2]
    assert req["h"].get_header("WARC-Type") == "request"
    assert req["h"].get_header("WARC-Target-URI") == "https://example.org/p%0D%0AWARC-Type:%20revisit"
    assert req["http"].get_header("X-Injected") is None
    assert req["http"].get_header("X-Evil") == "a  X-Injected: 1"
    assert resp["http"].statusline == "200 OK"
    assert resp["payload"] == b"ok"
    for fields, block in _blocks(data):
        assert fields["WARC-Block-Digest"] == _sha(block)


def test_lone_surrogates_still_export() -> None:
    # Capture ids encode lone surrogates with surrogatepass, so such a capture has an id
    # and is exported: its header bytes are written as they were received
    c = _capture(request_headers={"X-S": "\udcff\ud800"})
    assert len(c.id) == 64
    n, data = _write([(c, c.body)])
    assert n == 3
    recs = _records(data)
    assert recs[1]["h"].get_header("WARC-Unerased-Capture-Id") == c.id


def test_failed_exchange_writes_metadata() -> None:
    c = _capture(status=None, reason=None, response_headers=[], body=b"",
                 error="ConnectTimeout: timed out after 30 s")
    n, data = _write([(c, b"")])
    assert n == 3
    recs = _records(data)
    assert [r["type"] for r in recs] == ["warcinfo", "request", "metadata"]
    req, meta = recs[1], recs[2]
    assert meta["h"].get_header("Content-Type") == "application/warc-fields"
    assert meta["h"].get_header("WARC-Target-URI") == c.url
    assert meta["h"].get_header("WARC-Concurrent-To") == req["h"].get_header("WARC-Record-ID")
    assert req["h"].get_header("WARC-Concurrent-To") == meta["h"].get_header("WARC-Record-ID")
    assert meta["h"].get_header("WARC-Unerased-Capture-Id") == c.id
    text = meta["payload"].decode()
    assert "error: ConnectTimeout: timed out after 30 s\r\n" in text
    assert "method: GET\r\n" in text
    assert "started-at: 2024-11-09T08:07:06.543210Z\r\n" in text


def test_failed_exchange_with_partial_body_keeps_bytes() -> None:
    c = _capture(status=None, reason=None, response_headers=[], body=b"\x00partial",
                 error="ReadError: connection reset")
    n, data = _write([(c, c.body)])
    assert n == 4
    recs = _records(data)
    assert [r["type"] for r in recs] == ["warcinfo", "request", "metadata", "resource"]
    assert recs[3]["payload"] == b"\x00partial"
    assert b"partial-body-length: 8" in recs[2]["payload"]


def test_http2_written_as_http11_with_protocol() -> None:
    c = _capture(http_version="HTTP/2", reason=None, status=404,
                 response_headers=[("content-type", "application/json")], body=b"{}")
    _, data = _write([(c, b"{}")])
    req, resp = _records(data)[1:]
    assert resp["http"].protocol == "HTTP/1.1"
    assert resp["http"].statusline == "404 Not Found"
    assert resp["h"].get_header("WARC-Protocol") == "h2"
    assert req["http"].statusline.endswith(" HTTP/1.1")


def test_status_error_kept_on_response() -> None:
    c = _capture(error="body truncated", response_headers=[])
    _, data = _write([(c, c.body)])
    assert _records(data)[2]["h"].get_header("WARC-Unerased-Error") == "body truncated"


def test_naive_time_is_utc_and_body_from_store() -> None:
    full = _capture(started_at=datetime(2020, 1, 2, 3, 4, 5), response_headers=[])
    stored = replace(full, body=b"")  # a capture loaded without its body
    _, data = _write([(stored, full.body)])
    resp = _records(data)[2]
    assert resp["h"].get_header("WARC-Date") == "2020-01-02T03:04:05Z"
    assert resp["payload"] == full.body
    assert resp["h"].get_header("WARC-Payload-Digest") == "sha256:" + full.body_sha256


def test_body_mismatch_is_an_error() -> None:
    c = _capture()
    with pytest.raises(WarcExportError, match="does not match"):
        write_warc(io.BytesIO(), [(c, b"something else")])


def test_no_captures_still_a_valid_warc(tmp_path: Path) -> None:
    path = tmp_path / "empty.warc.gz"
    with path.open("wb") as fh:
        assert write_warc(fh, [], software="unerased 0.1 test") == 1
    recs = _records(path.read_bytes())
    assert [r["type"] for r in recs] == ["warcinfo"]
    assert recs[0]["h"].get_header("WARC-Filename") == "empty.warc.gz"
    assert b"software: unerased 0.1 test\r\n" in recs[0]["payload"]


def test_many_captures_count_and_order() -> None:
    caps = [_capture(url=f"https://example.org/{i}", body=str(i).encode(),
                     response_headers=[]) for i in range(25)]
    n, data = _write([(c, c.body) for c in caps])
    recs = _records(data)
    assert n == len(recs) == 51
    uris = [r["h"].get_header("WARC-Target-URI") for r in recs if r["type"] == "response"]
    assert uris == [c.url for c in caps]
    ids = [r["h"].get_header("WARC-Record-ID") for r in recs]
    assert len(set(ids)) == len(ids)


def test_warcio_check_command_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from warcio.cli import main as warcio_main

    caps = [_capture(), _capture(status=None, reason=None, response_headers=[], body=b"",
                                 error="ConnectError")]
    path = tmp_path / "out.warc.gz"
    with path.open("wb") as fh:
        assert write_warc(fh, [(c, c.body) for c in caps]) == 5
    with pytest.raises(SystemExit) as exc:
        warcio_main(["check", "-v", str(path)])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.count("digest pass") == 5
