"""A guard in front of a streaming JSON parser: what a hostile file could use to make the
parser slow or greedy is refused before the parser sees the bytes.

yajl (ijson's C backend) re-lexes a token that spans its read buffer from the token's
start on every read: a string or a number of L bytes costs L²/(2·buffer) — a 16 MB
number took 4.8 s, a 32 MB string 4.6 s (and ijson's prefixed parsers use memory
quadratic in the nesting depth). So each chunk is reduced, with C-speed ``bytes``
operations only (no Python loop per byte), to its structure outside strings, and the
guard refuses nesting deeper than ``max_depth``, one item (a value at ``item_depth`` + 1)
larger than ``max_item``, one string longer than ``max_string`` and one number longer
than ``max_number``. Lengths of strings and numbers are counted in whole chunks that lie
inside them (so up to two chunks more may pass): cheap, and enough to bound the cost.
"""

from __future__ import annotations

import re

__all__ = ["JsonGuard"]

_QUOTED = re.compile(rb'"[^"]*"')
_BRACKETS = bytes.maketrans(b"[{]}", b"(())")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_NUMBER_CHARS = b"0123456789+-.eE"


class JsonGuard:
    """Feed it every chunk, in order, before the parser gets it; :meth:`feed` returns
    the problem (one line, naming ``where``) or None."""

    def __init__(self, *, max_depth: int, max_item: int, item_depth: int, max_string: int,
                 max_number: int = 1 << 20) -> None:
        self.max_depth, self.max_item, self.item_depth = max_depth, max_item, item_depth
        self.max_string, self.max_number = max_string, max_number
        self._carry = b""  # an escaping backslash split from what it escapes
        self._in_string = False
        self._depth = 0
        self._item_bytes = 0
        self._string_bytes = 0  # whole chunks inside the string now open
        self._number_bytes = 0  # whole chunks inside the number now going on

    @property
    def in_long_token(self) -> bool:
        """Whether the last chunk ended inside a string or a run of digits (then the parser
        had better get big reads: see the module's note on yajl)."""
        return self._in_string or self._number_bytes > 0

    def feed(self, data: bytes, where: int) -> str | None:
        was_in_string = self._in_string
        seg = self._carry + data
        k = len(seg) - len(seg.rstrip(b"\\"))
        self._carry = b"\\" if k % 2 else b""
        if k:
            seg = seg[: len(seg) - k]
        if b"\\" in seg:
            seg = seg.replace(b"\\\\", b"").replace(b'\\"', b"")
        br = seg.translate(_BRACKETS, _NOT_STRUCTURE)
        if was_in_string and b'"' not in br:  # the whole chunk is inside one string
            self._string_bytes += len(data)
            if self._string_bytes > self.max_string:
                return (f"a JSON string is longer than {self.max_string >> 20} MiB "
                        f"near byte {where}")
            return self._grow_item(len(data), where) if self._depth > self.item_depth else None
        self._string_bytes = 0
        if not was_in_string and not data.translate(None, _NUMBER_CHARS):
            self._number_bytes += len(data)  # the whole chunk is digits (a number)
            if self._number_bytes > self.max_number:
                return f"a JSON number is longer than {self.max_number} bytes near byte {where}"
        else:
            self._number_bytes = 0
        if was_in_string:
            br = b'"' + br
        br = br.replace(b'""', b"")  # strings without brackets (nearly all of them)
        self._in_string = False
        if b'"' in br:
            br = _QUOTED.sub(b"", br)
            q = br.find(b'"')
            if q >= 0:  # a string runs on into the next chunk
                self._in_string = True
                br = br[:q]
        passes = 0
        while b"()" in br:
            br = br.replace(b"()", b"")
            passes += 1
            if passes > self.max_depth:
                break
        closes = len(br) - len(br.lstrip(b")"))
        opens = len(br) - closes
        if self._depth + opens + passes > self.max_depth:
            return f"JSON nested deeper than {self.max_depth} levels near byte {where}"
        low = self._depth - closes
        self._depth = max(low + opens, 0)
        if low <= self.item_depth:
            self._item_bytes = 0
            return None
        return self._grow_item(len(data), where)

    def _grow_item(self, n: int, where: int) -> str | None:
        self._item_bytes += n
        if self._item_bytes > self.max_item:
            return f"one item is larger than {self.max_item >> 20} MiB near byte {where}"
        return None
