"""RFC 9162 Merkle tree hashing and proofs over a store of perfect subtree nodes.

Pure: no I/O. The tree is kept as *perfect subtree nodes*: node ``(level, index)``
is the hash of leaves ``[index * 2**level, (index + 1) * 2**level)``, so level 0
holds the leaf hashes. Every function that needs stored hashes takes a node
getter ``get_node(level, index) -> bytes`` (a SQL table in the store, a dict in
tests). Only perfect nodes are ever stored: the hash of a non-perfect range (the
root of a tree whose size is not a power of two, the right border of a proof) is
computed on the fly from O(log n) perfect nodes.

Hashes (RFC 9162 §2.1.1, SHA-256):

* leaf   ``SHA-256(0x00 || data)``
* node   ``SHA-256(0x01 || left || right)``
* empty  ``SHA-256("")``

Proofs follow RFC 9162 §2.1.3 (inclusion) and §2.1.4 (consistency); the
verifiers are the algorithms of §2.1.3.2 and §2.1.4.2.

Batch reads: ``inclusion_proof_ranges`` / ``consistency_proof_ranges`` name the
leaf ranges a proof is made of, and ``subtree_node_ids`` the perfect nodes one
range hash reads, so a store can fetch every node of a proof in one query and
hand a dict-backed getter to ``inclusion_proof`` / ``consistency_proof``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

from ..errors import MerkleError, ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MemoryTree",
    "MerkleError",
    "NodeGetter",
    "ProofError",
    "consistency_proof",
    "consistency_proof_ranges",
    "inclusion_proof",
    "inclusion_proof_ranges",
    "leaf_hash",
    "new_nodes_for_append",
    "node_hash",
    "root",
    "subtree_hash",
    "subtree_node_ids",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256

NodeGetter = Callable[[int, int], bytes]
"""``get_node(level, index)``: hash of leaves ``[index << level, (index + 1) << level)``."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_size(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MerkleError(f"{name} must be a non-negative integer, got {value!r}")


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise MerkleError(f"{name} must be a {HASH_SIZE}-byte hash, got {size}")


# --------------------------------------------------------------------------- append


def new_nodes_for_append(
    size: int, leaf: bytes, get_node: NodeGetter
) -> list[tuple[int, int, bytes]]:
    """Nodes to store when appending leaf number ``size`` (0-based) to a tree of ``size`` leaves.

    ``leaf`` is the leaf *hash* (``leaf_hash(data)``). Returns ``(level, index, hash)``
    for the leaf node ``(0, size)`` followed by every perfect node the new leaf
    completes, bottom-up. Reads one node per completed level: amortised O(1),
    worst case O(log n).
    """
    _check_size("size", size)
    _check_hash("leaf", leaf)
    h = bytes(leaf)
    level, index = 0, size
    out = [(0, size, h)]
    while index & 1:
        h = node_hash(get_node(level, index - 1), h)
        level += 1
        index >>= 1
        out.append((level, index, h))
    return out


# --------------------------------------------------------------------------- range hashes


def _walk(start: int, end: int, visit: Callable[[int, int], bytes]) -> bytes:
    """MTH(D[start:end]) for 0 <= start < end, reading perfect aligned nodes via ``visit``."""
    n = end - start
    if n & (n - 1) == 0 and start % n == 0:
        level = n.bit_length() - 1
        return visit(level, start >> level)
    k = _split(n)
    return node_hash(_walk(start, start + k, visit), _walk(start + k, end, visit))


def _check_range(start: int, end: int) -> None:
    _check_size("start", start)
    _check_size("end", end)
    if start > end:
        raise MerkleError(f"empty or reversed range [{start}, {end})")


def subtree_hash(start: int, end: int, get_node: NodeGetter) -> bytes:
    """RFC 9162 MTH of leaves ``[start, end)`` (the hash of that sub-list as a tree).

    O(log n) node reads when ``start`` is a multiple of the largest power of two
    <= ``end - start`` (true for the root and for every range inside a proof);
    an unaligned range is still correct but may read O(n) nodes.
    """
    _check_range(start, end)
    if start == end:
        return EMPTY_ROOT
    return _walk(start, end, get_node)


def subtree_node_ids(start: int, end: int) -> list[tuple[int, int]]:
    """The perfect nodes ``(level, index)`` that ``subtree_hash(start, end)`` reads, left to right."""
    _check_range(start, end)
    ids: list[tuple[int, int]] = []
    if start == end:
        return ids

    def visit(level: int, index: int) -> bytes:
        ids.append((level, index))
        return EMPTY_ROOT

    _walk(start, end, visit)
    return ids


def root(size: int, get_node: NodeGetter) -> bytes:
    """Root hash of the tree holding the first ``size`` leaves: popcount(size) node reads."""
    return subtree_hash(0, size, get_node)


# --------------------------------------------------------------------------- proofs


def inclusion_proof_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose hashes form the RFC 9162 PATH(index, D[size]), leaf level first."""
    _check_size("index", index)
    _check_size("size", size)
    if index >= size:
        raise MerkleError(f"leaf index {index} is outside a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    start, n, m = 0, size, index
    while n > 1:
        k = _split(n)
        if m < k:
            ranges.append((start + k, start + n))
            n = k
        else:
            ranges.append((start, start + k))
            start, m, n = start + k, m - k, n - k
    ranges.reverse()
    return ranges


def consistency_proof_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose hashes form the RFC 9162 PROOF(old_size, D[new_size])."""
    _check_size("old_size", old_size)
    _check_size("new_size", new_size)
    if old_size > new_size:
        raise MerkleError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == 0:
        raise MerkleError("a consistency proof from the empty tree is meaningless")
    ranges: list[tuple[int, int]] = []
    start, n, m, whole = 0, new_size, old_size, True
    while m != n:
        k = _split(n)
        if m <= k:
            ranges.append((start + k, start + n))
            n = k
        else:
            ranges.append((start, start + k))
            start, m, n, whole = start + k, m - k, n - k, False
    if not whole:
        ranges.append((start, start + m))
    ranges.reverse()
    return ranges


def inclusion_proof(index: int, size: int, get_node: NodeGetter) -> list[bytes]:
    """RFC 9162 §2.1.3.1 inclusion proof for leaf ``index`` in the tree of ``size`` leaves."""
    return [_walk(s, e, get_node) for s, e in inclusion_proof_ranges(index, size)]


def consistency_proof(old_size: int, new_size: int, get_node: NodeGetter) -> list[bytes]:
    """RFC 9162 §2.1.4.1 consistency proof between tree sizes ``0 < old_size <= new_size``."""
    return [_walk(s, e, get_node) for s, e in consistency_proof_ranges(old_size, new_size)]


# --------------------------------------------------------------------------- verification


def _eq(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(bytes(a), bytes(b))


def _proof_hashes(proof: Sequence[bytes]) -> list[bytes]:
    out = []
    for i, p in enumerate(proof):
        if not isinstance(p, bytes | bytearray) or len(p) != HASH_SIZE:
            raise ProofError(f"proof element {i} is not a {HASH_SIZE}-byte hash")
        out.append(bytes(p))
    return out


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    RFC 9162 §2.1.3.2. Raises ``ProofError`` on any failure.
    """
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ProofError(f"bad leaf index {index!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ProofError(f"bad tree size {size!r}")
    if index >= size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    if not isinstance(leaf_hash, bytes | bytearray) or len(leaf_hash) != HASH_SIZE:
        raise ProofError(f"leaf hash is not a {HASH_SIZE}-byte hash")
    if not isinstance(root, bytes | bytearray) or len(root) != HASH_SIZE:
        raise ProofError(f"root is not a {HASH_SIZE}-byte hash")
    path = _proof_hashes(proof)
    fn, sn = index, size - 1
    r = bytes(leaf_hash)
    for p in path:
        if sn == 0:
            raise ProofError(
                f"inclusion proof has {len(path)} hashes: too many for leaf {index} of {size}"
            )
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(
            f"inclusion proof has {len(path)} hashes: too few for leaf {index} of {size}"
        )
    if not _eq(r, root):
        raise ProofError(
            f"inclusion proof for leaf {index} does not lead to the root of tree size {size}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree ``(new_size, new_root)`` extends the tree ``(old_size, old_root)``.

    RFC 9162 §2.1.4.2 for ``0 < old_size < new_size``. Equal sizes need an empty
    proof and equal roots. A proof from size 0 is rejected: it would prove
    nothing (every tree extends the empty one). Raises ``ProofError``.
    """
    for name, value in (("old size", old_size), ("new size", new_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ProofError(f"bad {name} {value!r}")
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if old_size == new_size:
        if len(proof):
            raise ProofError("tree sizes are equal but the consistency proof is not empty")
        if not _eq(bytes(old_root), bytes(new_root)):
            raise ProofError(f"two different roots for the same tree size {old_size}")
        return
    if not len(proof):
        raise ProofError("empty consistency proof")
    for what, given_root in (("old root", old_root), ("new root", new_root)):
        if not isinstance(given_root, bytes | bytearray) or len(given_root) != HASH_SIZE:
            raise ProofError(f"{what} is not a {HASH_SIZE}-byte hash")
    path = _proof_hashes(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, bytes(old_root))
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof has too many hashes")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof has too few hashes")
    if not _eq(fr, old_root):
        raise ProofError(f"consistency proof does not lead to the old root (size {old_size})")
    if not _eq(sr, new_root):
        raise ProofError(f"consistency proof does not lead to the new root (size {new_size})")


# --------------------------------------------------------------------------- in-memory tree


class MemoryTree:
    """An in-memory append-only tree keeping every perfect node (tests, receipts, benchmarks).

    ``levels[level][index]`` is node ``(level, index)``; ``get_node`` is the
    getter the module functions take.
    """

    __slots__ = ("levels",)

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = [[]]

    @classmethod
    def from_leaves(cls, leaves: Sequence[bytes]) -> MemoryTree:
        """A tree holding ``leaf_hash(d)`` for every ``d`` in ``leaves``."""
        tree = cls()
        for data in leaves:
            tree.append(data)
        return tree

    @classmethod
    def from_hashes(cls, hashes: Sequence[bytes]) -> MemoryTree:
        """A tree whose leaf hashes are ``hashes`` (as the store keeps them)."""
        tree = cls()
        for h in hashes:
            tree.append_hash(h)
        return tree

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def __len__(self) -> int:
        return len(self.levels[0])

    def get_node(self, level: int, index: int) -> bytes:
        try:
            if level < 0 or index < 0:
                raise IndexError
            return self.levels[level][index]
        except IndexError:
            raise MerkleError(f"no node ({level}, {index}) in a tree of size {self.size}") from None

    def append(self, data: bytes) -> int:
        """Append a leaf holding ``data``; return its index."""
        return self._push(_sha256(b"\x00" + data).digest())

    def append_hash(self, leaf: bytes) -> int:
        """Append a leaf given its leaf hash; return its index."""
        _check_hash("leaf", leaf)
        return self._push(bytes(leaf))

    def _push(self, h: bytes) -> int:
        # the nodes new_nodes_for_append would return, stored in place
        levels = self.levels
        row = levels[0]
        index = len(row)
        row.append(h)
        level, i = 0, index
        while i & 1:
            h = _sha256(b"\x01" + row[i - 1] + h).digest()
            level += 1
            i >>= 1
            if level == len(levels):
                levels.append([])
            row = levels[level]
            row.append(h)
        return index

    def _size(self, size: int | None) -> int:
        if size is None:
            return self.size
        _check_size("size", size)
        if size > self.size:
            raise MerkleError(f"tree size {size} is beyond the {self.size} leaves held")
        return size

    def leaf_hash(self, index: int) -> bytes:
        return self.get_node(0, index)

    def root(self, size: int | None = None) -> bytes:
        return root(self._size(size), self.get_node)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self._size(size), self.get_node)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return consistency_proof(old_size, self._size(new_size), self.get_node)
