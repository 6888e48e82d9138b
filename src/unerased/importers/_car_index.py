"""A compact index of a CAR file's blocks: CID -> where the block's bytes are.

A dict of ``bytes`` keys and ``(start, end)`` tuples costs 150–250 bytes per block,
which on a CAR of small blocks (a like is ~150 bytes, a hostile block a few) is several
times the file. Here a block costs 9 (or 17) bytes in flat arrays plus 8–16 bytes of an
open-addressing hash table: well under the size of the smallest possible block (a
length prefix, a 36-byte CID and data), so the index stays below the file's size.

The CID bytes themselves are not copied: they are compared in place in the
memory-mapped file. Slots are found with Python's ``hash()`` of the CID (SipHash, keyed
per process), so a hostile file cannot make the table degrade by choosing colliding
CIDs.
"""

from __future__ import annotations

import mmap
from array import array

__all__ = ["BlockIndex"]


class BlockIndex:
    """Blocks are :meth:`add`-ed in file order, then :meth:`seal` builds the table;
    :meth:`find` gives a block's number (the first block with that CID wins, as a dict's
    ``setdefault`` would), :meth:`span` where its data is."""

    __slots__ = ("_data", "_body", "_cid_len", "_end", "_table", "_mask")

    def __init__(self, data: mmap.mmap | bytes) -> None:
        self._data = data
        code = "I" if len(data) < (1 << 32) else "Q"
        self._body = array(code)  # where each block's CID starts
        self._end = array(code)  # where its data ends
        self._cid_len = bytearray()  # its CID's length (at most 80 bytes)
        self._table = array("I")
        self._mask = 0

    def __len__(self) -> int:
        return len(self._body)

    def add(self, body: int, cid_end: int, end: int) -> None:
        self._body.append(body)
        self._cid_len.append(cid_end - body)
        self._end.append(end)

    def _cid(self, i: int) -> bytes:
        start = self._body[i]
        return bytes(self._data[start : start + self._cid_len[i]])

    def seal(self) -> None:
        """Build the hash table (load factor at most 1/2)."""
        n = len(self._body)
        size = 8
        while size < 2 * n:
            size <<= 1
        table = array("I", bytes(4 * size))
        mask = size - 1
        self._table, self._mask = table, mask
        for i in range(n):
            cid = self._cid(i)
            slot = hash(cid) & mask
            while True:
                j = table[slot]
                if j == 0:
                    table[slot] = i + 1
                    break
                if self._cid(j - 1) == cid:
                    break  # a duplicate: the first one stays
                slot = (slot + 1) & mask

    def find(self, cid: bytes) -> int | None:
        """The number of the block with this CID, or None."""
        table, mask = self._table, self._mask
        if not len(table):
            return None
        slot = hash(cid) & mask
        n = len(cid)
        while True:
            j = table[slot]
            if j == 0:
                return None
            i = j - 1
            if self._cid_len[i] == n and self._cid(i) == cid:
                return i
            slot = (slot + 1) & mask

    def span(self, i: int) -> tuple[int, int]:
        """(start, end) of block ``i``'s data in the file."""
        return self._body[i] + self._cid_len[i], self._end[i]
