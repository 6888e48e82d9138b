"""Streaming the ``window.YTD.<name>.partN = [ … ]`` members of an X archive.

Items are decoded with the C ``json`` scanner over a sliding window of decoded text
(one chunk plus the item being read), which is several times cheaper than ijson's
event builder and shares dict keys within an item. The C scanner and yajl (ijson's
backend) do not accept exactly the same language: yajl takes ``\\f``/``\\v`` as
whitespace, rejects ``NaN``, integers past 64 bits and float overflow, and turns lone
``\\uD800`` escapes into ``?`` or an error. So the fast path only hands out an item
when both would certainly produce the same value at the same point; on anything else
(including every malformed input) it stops and the member is re-read with ijson from
the start, skipping the items already handed out. Errors, their messages and exact
byte offsets therefore always come from the ijson path.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator
from json.scanner import make_scanner
from typing import IO, Any, cast

import ijson

from ._errors import ArchiveError
from ._json_guard import JsonGuard
from .safetar import ArchiveFiles

_CHUNK = 1 << 16
MAX_DEPTH = 256
"""Deepest JSON nesting accepted (real tweets nest about 8 levels). ijson's builder
uses memory quadratic in depth, so depth is checked before bytes reach the parser."""
MAX_ITEM_BYTES = 64 << 20
"""Largest single array item (one tweet) accepted."""
SMALL_FILE_LIMIT = 16 << 20
"""account.js, profile.js, manifest.js are read whole, up to this size."""
HOLD_LIMIT = 1 << 20
"""Trailing whitespace and ';' held back while looking for the end of a member."""
_IJSON_BUFFER = 1 << 20  # yajl re-lexes a token spanning reads: a big buffer makes it rare

# ``window.YTD.tweets.part0 = `` (2019 on), ``Grailbird.data.tweets_2019_02 = `` and
# ``var user_details = `` (the classic archive)
_PREFIX = re.compile(
    rb"\s*(?:var\s+)?(?:window|Grailbird|[A-Za-z_$][\w$]*)(?:\.[A-Za-z_$][\w$]*)*\s*=\s*")


def _first_line(exc: BaseException) -> str:
    arg = exc.args[0] if exc.args else ""
    text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
    return (text.strip().splitlines() or [type(exc).__name__])[0][:160]


class _YtdStream:
    """A file-like feeding ijson the JSON array of one ``.js`` member: skips the
    ``window.YTD… =`` prefix, drops a trailing ``;``, guards nesting depth and item size
    before the parser sees the bytes, counts bytes for progress and error offsets.

    With ``precise_from`` it hands bytes one at a time from that offset on, so that a
    parse error's position is exact (used only to locate an error)."""

    def __init__(self, zf: ArchiveFiles, member: str, *, on_bytes: Callable[[int], None] | None = None,
                 precise_from: int | None = None) -> None:
        self._zf = zf
        self.member = member
        self._raw: IO[bytes] = zf.open(member)
        self._on_bytes = on_bytes
        self._precise_from = precise_from
        self.prefix_len = 0
        self.raw_bytes = 0  # read from the member (and passed to on_bytes)
        self.delivered = 0  # bytes handed to the parser (after the prefix)
        self.last_read_at = 0  # offset where the last read() began (an error is after it)
        self.eof = False
        self._buf = b""
        self._pos = 0
        self._held: list[bytes] = []  # the trailing run of whitespace and ';' (see _fill)
        self._held_len = 0
        self._json_guard = JsonGuard(max_depth=MAX_DEPTH, max_item=MAX_ITEM_BYTES, item_depth=1,
                                     max_string=MAX_ITEM_BYTES)
        self._started = False

    @property
    def offset(self) -> int:
        """Offset in the member just past the last byte handed to the parser."""
        return self.prefix_len + self.delivered

    def _fail(self, problem: str) -> ArchiveError:
        return ArchiveError(self._zf.path, problem, member=self.member)

    def _raw_read(self) -> bytes:
        data = self._raw.read(_CHUNK)
        if data:
            self.raw_bytes += len(data)
            if self._on_bytes is not None:
                self._on_bytes(len(data))
        return data

    def produced(self) -> int:
        """Decompressed bytes this reader has counted in ``SafeZip.total_read``."""
        reader = getattr(self._raw, "raw", None)
        n = getattr(reader, "produced", 0)
        return n if isinstance(n, int) else 0

    def _start(self) -> bytes:
        head = b""
        while len(head) < 512:
            data = self._raw_read()
            if not data:
                break
            head += data
        bom = 3 if head.startswith(b"\xef\xbb\xbf") else 0
        m = _PREFIX.match(head, bom)
        start = m.end() if m else bom
        rest = head[start:].lstrip()
        start = len(head) - len(rest)
        if not rest:
            raise self._fail("is empty: no JSON array in it")
        if not rest.startswith(b"["):
            what = "window.YTD.<name>.partN = [" if m is None else "a JSON array after '='"
            raise self._fail(f"does not start with {what}")
        self.prefix_len = start
        return rest

    def _fill(self) -> None:
        while not self.eof and self._pos >= len(self._buf):
            if not self._started:
                self._started = True
                data = self._start()
            else:
                data = self._raw_read()
            if not data:
                self.eof = True  # held bytes are only whitespace and ';': dropped
                return
            data = self._hold_tail(data)
            if data:
                self._guard(data)
                self._buf, self._pos = data, 0

    def _hold_tail(self, data: bytes) -> bytes:
        """``data`` minus its trailing whitespace and ';', which are held back (a file
        ends in ``];``) until more data shows they are not the end. Linear: only the new
        chunk is scanned, held bytes are joined once; past ``HOLD_LIMIT`` held bytes they
        are handed on (whitespace is harmless, and a ';' before more data is an error the
        parser then reports where it is)."""
        body = data.rstrip(b" \t\r\n;")
        if body:
            tail = data[len(body):]
            if self._held:
                body = b"".join([*self._held, body])
            self._held, self._held_len = ([tail], len(tail)) if tail else ([], 0)
            return body
        self._held.append(data)
        self._held_len += len(data)
        if self._held_len <= HOLD_LIMIT:
            return b""
        out = b"".join(self._held)
        self._held, self._held_len = [], 0
        return out

    def _guard(self, data: bytes) -> None:
        where = self.offset + len(self._buf) - self._pos
        problem = self._json_guard.feed(data, where)
        if problem is not None:
            raise self._fail(problem)

    def read(self, n: int = -1) -> bytes:
        if n == 0:  # ijson probes read(0) to tell bytes from str
            return b""
        self.last_read_at = self.offset
        self._fill()
        if self._pos >= len(self._buf):
            return b""
        if n is None or n < 0:
            n = len(self._buf)
        if self._precise_from is not None and self.offset >= self._precise_from:
            n = 1
        out = self._buf[self._pos:self._pos + n]
        self._pos += len(out)
        self.delivered += len(out)
        if len(out) < n and self._precise_from is None and self._json_guard.in_long_token:
            # inside a long string or number: fill ijson's whole buffer (yajl re-lexes a
            # token spanning reads from its start, so small reads make it quadratic)
            parts = [out]
            got = len(out)
            while got < n:
                self._fill()
                more = self._buf[self._pos:self._pos + n - got]
                if not more:
                    break
                self._pos += len(more)
                self.delivered += len(more)
                parts.append(more)
                got += len(more)
            out = b"".join(parts)
        return out

    def chunk(self) -> bytes:
        """The rest of the current chunk (checked by the guards), b"" at the end."""
        self._fill()
        out = self._buf[self._pos:]
        self._pos = len(self._buf)
        self.delivered += len(out)
        return out

    def close(self) -> None:
        self._raw.close()


# --- items: the fast path, and ijson for everything else -----------------------------------


class _Diverge(Exception):
    """The fast path cannot vouch for what comes next: ijson takes over."""


_WS = re.compile(r"[ \t\n\r]*")
_NUMBER_START = frozenset("-0123456789")
_AFTER_NUMBER = frozenset(" \t\n\r,]")
_PARTIAL = re.compile(  # a proper prefix of one token, cut short by the end of the window
    r"t(?:ru?)?|f(?:a(?:ls?)?)?|n(?:ul?)?|u[0-9a-fA-F]{0,4}"
    r"|-?[0-9]*(?:\.[0-9]*)?(?:[eE][-+]?[0-9]*)?"
)
_INT_LIMIT = (1 << 63) - 1


def _int(text: str) -> int:
    """Integers that yajl (64-bit) reads the same way; others go to ijson."""
    if len(text) > 20:
        raise _Diverge
    value = int(text)
    if not -_INT_LIMIT < value < _INT_LIMIT:
        raise _Diverge
    return value


def _float(text: str) -> float:
    """Plain decimals only: without an exponent there is no overflow to tell apart."""
    if len(text) > 40 or "e" in text or "E" in text:
        raise _Diverge
    return float(text)


def _constant(name: str) -> Any:
    raise _Diverge  # NaN, Infinity: not JSON, yajl rejects them


def _scanner() -> Callable[[str, int], tuple[Any, int]]:
    decoder = json.JSONDecoder(parse_float=_float, parse_int=_int, parse_constant=_constant)
    scan: Callable[[str, int], tuple[Any, int]] = cast(Any, make_scanner)(decoder)
    return scan


def _cut_short(text: str, at: int, msg: str) -> bool:
    """Whether a scanner error at ``at`` only means that the window ends mid-item."""
    n = len(text)
    return (at >= n or msg.startswith("Unterminated string")
            or (n - at <= 24 and _PARTIAL.fullmatch(text, at) is not None))


def _no_lone_surrogate(item: Any) -> bool:
    """yajl pairs or replaces ``\\uD800``-style escapes its own way: only items without a
    lone surrogate decode the same."""
    try:
        json.dumps(item, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError, RecursionError):
        return False
    return True


def _surrogate_at(text: str, start: int) -> int:
    """Where the next ``\\uD800``-``\\uDFFF`` escape may start (len(text) if none)."""
    n = len(text)
    a, b = text.find("\\ud", start), text.find("\\uD", start)
    return min(a if a >= 0 else n, b if b >= 0 else n)


def _fast(stream: _YtdStream) -> Iterator[Any]:
    """The array's items, decoded by the C scanner one at a time from a window of one
    chunk plus the item in progress. Raises :class:`_Diverge` as soon as it cannot be sure
    to hand out exactly what ijson would, where ijson would (before reading further)."""
    scan = _scanner()
    decode = codecs.getincrementaldecoder("utf-8")().decode
    ws = _WS.match
    eof = False

    def more() -> str:
        nonlocal eof
        try:
            data = stream.chunk()
            if not data:
                eof = True
                return decode(b"", True)
            return decode(data)
        except (ArchiveError, UnicodeDecodeError):
            raise _Diverge from None

    buf = more()
    if not buf.startswith("["):
        raise _Diverge
    n, sur = len(buf), _surrogate_at(buf, 0)
    pos, state = 1, 0  # 0: item or "]" next; 1: item next (after ","); 2: "," or "]" next
    while True:
        if pos >= n or buf[pos] in " \t\n\r":
            m = ws(buf, pos)
            if m:
                pos = m.end()
            if pos == n:
                if eof:
                    raise _Diverge  # truncated
                buf, pos = more(), 0
                n, sur = len(buf), _surrogate_at(buf, 0)
                continue
        c = buf[pos]
        if state == 2:
            if c == ",":
                pos, state = pos + 1, 1
                continue
            if c == "]":
                break
            raise _Diverge
        if c == "]" and state == 0:
            break
        at, msg = -1, ""
        try:
            item, end = scan(buf, pos)
        except StopIteration as e:
            at, msg = e.value, "Expecting value"
        except json.JSONDecodeError as e:
            at, msg = e.pos, e.msg
        except (_Diverge, ValueError, RecursionError):
            raise _Diverge from None
        number = c in _NUMBER_START
        if at >= 0 or (number and end == n):  # the window ends inside the item
            if (at >= 0 and not _cut_short(buf, at, msg)) or eof or n - pos > MAX_ITEM_BYTES:
                raise _Diverge
            # Read at least as much again as the item so far before scanning it again:
            # the window doubles, so an item of n bytes is scanned O(n) times in all,
            # not once per chunk (which made one big tweet quadratic).
            parts, want, got = [buf[pos:]], n - pos, 0
            while True:
                data = more()
                parts.append(data)
                got += len(data)
                if eof or got >= want:
                    break
            buf, pos = "".join(parts), 0
            n, sur = len(buf), _surrogate_at(buf, 0)
            continue
        if number and buf[end] not in _AFTER_NUMBER:
            raise _Diverge  # "1." or "01": yajl reads these differently
        if sur < end:  # a \uD800-\uDFFF escape in this item
            if not _no_lone_surrogate(item):
                raise _Diverge
            sur = _surrogate_at(buf, end)
        yield item
        pos, state = end, 2
    pos += 1
    while (m := ws(buf, pos)) and m.end() == len(buf):  # only whitespace, up to the end
        if eof:
            return
        buf, pos = more(), 0
    raise _Diverge


def _items(zf: ArchiveFiles, member: str, on_bytes: Callable[[int], None] | None = None
           ) -> Iterator[Any]:
    """The items of one ``window.YTD… = [ … ]`` member, streamed: by the fast path, and
    when it gives up, by ijson from the start of the member, skipping the items already
    handed out (errors and their exact offsets come from there)."""
    stream = _YtdStream(zf, member, on_bytes=on_bytes)
    handed = 0
    try:
        try:
            for item in _fast(stream):
                handed += 1
                yield item
            return
        except _Diverge:
            pass
    finally:
        stream.close()
    zf.total_read -= stream.produced()  # read again below: count those bytes once
    yield from _ijson_items(zf, member, on_bytes, skip=handed, reported=stream.raw_bytes)


def _ijson_items(zf: ArchiveFiles, member: str, on_bytes: Callable[[int], None] | None, *,
                 skip: int = 0, reported: int = 0) -> Iterator[Any]:
    """The items after the first ``skip``, with ijson; ``reported``: bytes already passed
    to ``on_bytes`` (not passed again)."""
    seen = 0

    def forward(n: int) -> None:
        nonlocal seen
        before, seen = seen, seen + n
        fresh = seen - max(before, reported)
        if fresh > 0 and on_bytes is not None:
            on_bytes(fresh)

    stream = _YtdStream(zf, member, on_bytes=forward)
    try:
        try:
            items = ijson.items(stream, "item", use_float=True, buf_size=_IJSON_BUFFER)
            for index, item in enumerate(items):
                if index >= skip:
                    yield item
        except ArchiveError:
            raise
        except Exception as e:  # ijson's errors (JSONError, IncompleteJSONError, …)
            raise _locate(zf, member, stream.offset, e, stream.last_read_at) from None
    finally:
        stream.close()

def _locate(zf: ArchiveFiles, member: str, approx: int, first: BaseException,
            last_read_at: int | None = None) -> ArchiveError:
    """Re-parse up to the failure, one byte at a time near it, to name the exact byte
    (the failure is in the last read, which began at ``last_read_at``)."""
    start = approx - 2 * _CHUNK
    if last_read_at is not None:
        start = min(start, last_read_at - _CHUNK)
    stream = _YtdStream(zf, member, precise_from=max(start, 0))
    err: BaseException = first
    try:
        for _ in ijson.items(stream, "item", use_float=True):
            pass
        at, eof = approx, False
    except ArchiveError as e:
        return e
    except Exception as e:
        err, at, eof = e, max(stream.offset - 1, 0), stream.eof
    finally:
        stream.close()
    if eof:
        return ArchiveError(zf.path, f"JSON ends early at byte {stream.offset} "
                            f"(truncated file?)", member=member)
    return ArchiveError(zf.path, f"malformed JSON at byte {at} ({_first_line(err)})",
                        member=member)


def _load_small(zf: ArchiveFiles, member: str) -> Any:
    """A small ``window.X = …`` member (account.js, manifest.js), parsed whole."""
    data = zf.read(member, SMALL_FILE_LIMIT)
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    m = _PREFIX.match(data, bom)
    start = m.end() if m else bom
    body = data[start:].rstrip(b" \t\r\n;")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ArchiveError(zf.path, f"not UTF-8 at byte {start + e.start}", member=member) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        at = start + len(text[: e.pos].encode("utf-8"))
        raise ArchiveError(zf.path, f"malformed JSON at byte {at} ({e.msg})", member=member) from None
    except RecursionError:
        raise ArchiveError(zf.path, "JSON nested too deeply", member=member) from None


