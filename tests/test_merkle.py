"""RFC 9162 Merkle tree: published test vectors + properties against a naive reference."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_data import RFC9162
from unerased.ledger import merkle
from unerased.ledger.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    MerkleError,
    ProofError,
    consistency_proof,
    consistency_proof_ranges,
    inclusion_proof,
    inclusion_proof_ranges,
    leaf_hash,
    new_nodes_for_append,
    node_hash,
    root,
    subtree_hash,
    subtree_node_ids,
    verify_consistency,
    verify_inclusion,
)

VECTORS = RFC9162  # the shared folder's vectors (tests/shared_data.py)


def _vector_dir() -> Path:
    if not VECTORS.is_dir():  # a missing data set must fail loudly, never skip
        raise AssertionError(f"RFC 9162 test vectors not found at {VECTORS}")
    return VECTORS


def _cases(kind: str) -> list[tuple[str, dict[str, Any]]]:
    base = _vector_dir() / kind
    return [
        (str(p.relative_to(base)), json.loads(p.read_text())) for p in sorted(base.rglob("*.json"))
    ]


def _b64(s: str) -> bytes:
    return base64.b64decode(s)


INCLUSION = _cases("inclusion")
CONSISTENCY = _cases("consistency")


def test_vector_counts() -> None:
    # 98 + 98 cases, as the data set's README says: a partial copy must not pass quietly.
    assert len(INCLUSION) == 98
    assert len(CONSISTENCY) == 98
    assert sum(c["wantErr"] for _, c in INCLUSION) > 80
    assert sum(not c["wantErr"] for _, c in CONSISTENCY) >= 5


@pytest.mark.parametrize(("name", "case"), INCLUSION, ids=[n for n, _ in INCLUSION])
def test_inclusion_vectors(name: str, case: dict[str, Any]) -> None:
    args = (
        case["leafIdx"],
        case["treeSize"],
        _b64(case["leafHash"]),
        [_b64(p) for p in case["proof"] or []],
        _b64(case["root"]),
    )
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize(("name", "case"), CONSISTENCY, ids=[n for n, _ in CONSISTENCY])
def test_consistency_vectors(name: str, case: dict[str, Any]) -> None:
    args = (
        case["size1"],
        case["size2"],
        _b64(case["root1"]),
        _b64(case["root2"]),
        [_b64(p) for p in case["proof"] or []],
    )
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def _reference() -> tuple[list[bytes], list[bytes]]:
    data = json.loads((_vector_dir() / "reference-trees.json").read_text())
    return [bytes.fromhex(h) for h in data["leaf_inputs_hex"]], [
        bytes.fromhex(h) for h in data["roots_hex"]
    ]


def test_reference_roots() -> None:
    leaves, roots = _reference()
    assert len(roots) == 9
    tree = MemoryTree()
    assert tree.root() == roots[0] == EMPTY_ROOT == hashlib.sha256(b"").digest()
    for i, data in enumerate(leaves):
        assert tree.append(data) == i
        assert tree.root() == roots[i + 1]
    for size in range(9):
        assert tree.root(size) == roots[size]
        assert root(size, tree.get_node) == roots[size]


def test_vector_happy_paths_are_reproduced() -> None:
    """Our own proofs equal the published happy-path proofs over the reference tree."""
    leaves, _ = _reference()
    tree = MemoryTree.from_leaves(leaves)
    seen = 0
    for _, case in INCLUSION:
        if case["wantErr"] or case["treeSize"] > 8 or case["treeSize"] < 1:
            continue
        if _b64(case["root"]) != tree.root(case["treeSize"]):
            continue
        assert tree.inclusion_proof(case["leafIdx"], case["treeSize"]) == [
            _b64(p) for p in case["proof"] or []
        ]
        seen += 1
    for _, case in CONSISTENCY:
        if case["wantErr"] or not 0 < case["size1"] < case["size2"] <= 8:
            continue
        assert tree.consistency_proof(case["size1"], case["size2"]) == [
            _b64(p) for p in case["proof"] or []
        ]
        seen += 1
    assert seen >= 8


def test_hash_primitives() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert (
        node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )
    # domain separation: a leaf can never pass for an interior node
    assert leaf_hash(b"\x01" + b"a" * 64) != node_hash(b"a" * 32, b"a" * 32)


# --------------------------------------------------------------------------- naive reference


def ref_mth(d: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH, verbatim recursion over leaf inputs."""
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: list[bytes]) -> list[tuple[bytes, str]]:
    """RFC 9162 §2.1.3.1 PATH; each element tagged with the side of the sibling."""
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return ref_path(m, d[:k]) + [(ref_mth(d[k:]), "R")]
    return ref_path(m - k, d[k:]) + [(ref_mth(d[:k]), "L")]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[tuple[bytes, str]]:
    """RFC 9162 §2.1.4.1 SUBPROOF; each element tagged with its role in verification.

    "seed": MTH(D[m]) of the old tree's last subtree, "L": a left sibling inside
    both trees, "R": a right sibling only in the new tree.
    """
    n = len(d)
    if m == n:
        return [] if b else [(ref_mth(d), "seed")]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return ref_subproof(m, d[:k], b) + [(ref_mth(d[k:]), "R")]
    return ref_subproof(m - k, d[k:], False) + [(ref_mth(d[:k]), "L")]


def ref_proof(m: int, d: list[bytes]) -> list[tuple[bytes, str]]:
    return ref_subproof(m, d, True)


def _leaves(n: int, salt: bytes) -> list[bytes]:
    # distinct leaves: with equal leaves, "wrong index" proofs can be genuinely valid
    return [b"%d:" % i + salt for i in range(n)]


def _sides(m: int, n: int) -> list[str]:
    return [side for _, side in ref_path(m, _leaves(n, b"s"))]


def _recipe(m: int, n: int) -> list[str]:
    return [role for _, role in ref_proof(m, _leaves(n, b"s"))]


def _flip(proof: list[bytes], i: int, bit: int) -> list[bytes]:
    out = list(proof)
    b = bytearray(out[i])
    b[bit // 8] ^= 1 << (bit % 8)
    out[i] = bytes(b)
    return out


def _fails(fn: Any, *args: Any) -> bool:
    try:
        fn(*args)
    except ProofError:
        return True
    return False


# --------------------------------------------------------------------------- properties

sizes = st.integers(min_value=1, max_value=300)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(min_value=0, max_value=300), salt=st.binary(max_size=8))
def test_root_matches_reference(n: int, salt: bytes) -> None:
    d = _leaves(n, salt)
    tree = MemoryTree.from_leaves(d)
    assert tree.root() == ref_mth(d)
    nodes: dict[tuple[int, int], bytes] = {}
    for i, data in enumerate(d):  # the store's way: new_nodes_for_append into a table
        for level, index, h in new_nodes_for_append(
            i, leaf_hash(data), lambda lv, ix: nodes[(lv, ix)]
        ):
            assert (level, index) not in nodes
            nodes[(level, index)] = h
    # exactly the perfect nodes: n leaves give 2n - popcount(n) nodes
    assert len(nodes) == 2 * n - bin(n).count("1")
    assert root(n, lambda lv, ix: nodes[(lv, ix)]) == ref_mth(d)
    for (level, index), h in nodes.items():
        assert h == ref_mth(d[index << level : (index + 1) << level])


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n=sizes)
def test_subtree_hash_any_range(data: st.DataObject, n: int) -> None:
    d = _leaves(n, b"x")
    tree = MemoryTree.from_leaves(d)
    start = data.draw(st.integers(min_value=0, max_value=n))
    end = data.draw(st.integers(min_value=start, max_value=n))
    assert subtree_hash(start, end, tree.get_node) == ref_mth(d[start:end])
    reads: list[tuple[int, int]] = []

    def get(level: int, index: int) -> bytes:
        reads.append((level, index))
        return tree.get_node(level, index)

    subtree_hash(start, end, get)
    assert reads == subtree_node_ids(start, end)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), n=sizes, salt=st.binary(max_size=8))
def test_inclusion_matches_reference_and_verifies(data: st.DataObject, n: int, salt: bytes) -> None:
    d = _leaves(n, salt)
    tree = MemoryTree.from_leaves(d)
    m = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = tree.inclusion_proof(m)
    assert proof == [h for h, _ in ref_path(m, d)]
    rt = tree.root()
    lh = leaf_hash(d[m])
    verify_inclusion(m, n, lh, proof, rt)

    # O(log n) reads: at most one read per proof level plus the one right border
    reads = sum(len(subtree_node_ids(s, e)) for s, e in inclusion_proof_ranges(m, n))
    assert reads <= 2 * max(1, n.bit_length())

    if proof:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        bit = data.draw(st.integers(min_value=0, max_value=255))
        assert _fails(verify_inclusion, m, n, lh, _flip(proof, i, bit), rt)
        assert _fails(verify_inclusion, m, n, lh, proof[:i] + proof[i + 1 :], rt)
    extra = data.draw(st.integers(min_value=0, max_value=len(proof)))
    assert _fails(
        verify_inclusion, m, n, lh, proof[:extra] + [leaf_hash(b"extra")] + proof[extra:], rt
    )
    assert _fails(verify_inclusion, m, n, leaf_hash(d[m] + b"!"), proof, rt)
    assert _fails(verify_inclusion, m, n, lh, proof, node_hash(rt, rt))
    # a wrong index never verifies (leaves are distinct)
    other = data.draw(st.integers(min_value=0, max_value=n))
    if other != m:
        assert _fails(verify_inclusion, other, n, lh, proof, rt)
    # a wrong size verifies exactly when the path has the same shape (same
    # sibling sides): the hashes alone cannot tell the two trees apart then
    n2 = data.draw(st.integers(min_value=0, max_value=2 * n + 2))
    if n2 != n:
        same_shape = m < n2 and _sides(m, n2) == _sides(m, n)
        assert _fails(verify_inclusion, m, n2, lh, proof, rt) is not same_shape


@settings(max_examples=200, deadline=None)
@given(data=st.data(), n=st.integers(min_value=2, max_value=300), salt=st.binary(max_size=8))
def test_consistency_matches_reference_and_verifies(
    data: st.DataObject, n: int, salt: bytes
) -> None:
    d = _leaves(n, salt)
    tree = MemoryTree.from_leaves(d)
    m = data.draw(st.integers(min_value=1, max_value=n - 1))
    proof = tree.consistency_proof(m)
    assert proof == [h for h, _ in ref_proof(m, d)]
    r1, r2 = tree.root(m), tree.root()
    verify_consistency(m, n, r1, r2, proof)

    reads = sum(len(subtree_node_ids(s, e)) for s, e in consistency_proof_ranges(m, n))
    assert reads <= 2 * n.bit_length() + 1

    i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
    bit = data.draw(st.integers(min_value=0, max_value=255))
    assert _fails(verify_consistency, m, n, r1, r2, _flip(proof, i, bit))
    assert _fails(verify_consistency, m, n, r1, r2, proof[:i] + proof[i + 1 :])
    extra = data.draw(st.integers(min_value=0, max_value=len(proof)))
    assert _fails(
        verify_consistency, m, n, r1, r2, proof[:extra] + [leaf_hash(b"x")] + proof[extra:]
    )
    assert _fails(verify_consistency, m, n, r2, r1, proof)
    assert _fails(verify_consistency, m, n, r1, node_hash(r2, r2), proof)
    assert _fails(verify_consistency, m, n, node_hash(r1, r1), r2, proof)
    # a fork: same old tree, different new leaves -> the old proof cannot bridge to it
    forked = MemoryTree.from_leaves(d[:m] + _leaves(n - m, salt + b"fork"))
    assert _fails(verify_consistency, m, n, r1, forked.root(), proof)
    # wrong sizes verify exactly when the verification recipe is the same
    m2 = data.draw(st.integers(min_value=0, max_value=n + 2))
    n2 = data.draw(st.integers(min_value=0, max_value=2 * n + 2))
    if (m2, n2) != (m, n):
        same = 0 < m2 < n2 and _recipe(m2, n2) == _recipe(m, n)
        assert _fails(verify_consistency, m2, n2, r1, r2, proof) is not same


@settings(max_examples=100, deadline=None)
@given(n=st.integers(min_value=1, max_value=200))
def test_consistency_equal_sizes_and_chain(n: int) -> None:
    tree = MemoryTree.from_leaves(_leaves(n, b"c"))
    assert tree.consistency_proof(n) == []
    verify_consistency(n, n, tree.root(), tree.root(), [])
    assert _fails(verify_consistency, n, n, tree.root(), tree.root(), [tree.root()])
    assert _fails(verify_consistency, 0, n, EMPTY_ROOT, tree.root(), [])
    for m in range(1, n):
        verify_consistency(m, n, tree.root(m), tree.root(), tree.consistency_proof(m, n))


def test_known_shape_ambiguity_is_inherent() -> None:
    """Document the one acceptance the shape rule allows: leaf 0 of 3 vs of 4.

    The size-3 proof [l1, l2] verifies as a size-4 proof for root(3) because l2
    stands where H(l2, l3) would be. Receipts therefore always carry the size.
    """
    tree = MemoryTree.from_leaves(_leaves(3, b""))
    proof = tree.inclusion_proof(0)
    verify_inclusion(0, 4, tree.leaf_hash(0), proof, tree.root())
    assert _sides(0, 3) == _sides(0, 4)


# --------------------------------------------------------------------------- API edges


def test_new_nodes_for_append_reads() -> None:
    tree = MemoryTree.from_leaves(_leaves(7, b""))
    reads: list[tuple[int, int]] = []

    def get(level: int, index: int) -> bytes:
        reads.append((level, index))
        return tree.get_node(level, index)

    lh = leaf_hash(b"7:")
    nodes = new_nodes_for_append(7, lh, get)
    assert [(lv, ix) for lv, ix, _ in nodes] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert reads == [(0, 6), (1, 2), (2, 0)]
    assert nodes[-1][2] == ref_mth(_leaves(8, b""))
    reads.clear()
    assert new_nodes_for_append(8, lh, get) == [(0, 8, lh)]
    assert reads == []


def test_argument_errors() -> None:
    tree = MemoryTree.from_leaves(_leaves(5, b""))
    with pytest.raises(MerkleError):
        new_nodes_for_append(5, b"short", tree.get_node)
    with pytest.raises(MerkleError):
        new_nodes_for_append(-1, leaf_hash(b""), tree.get_node)
    with pytest.raises(MerkleError):
        inclusion_proof(5, 5, tree.get_node)
    with pytest.raises(MerkleError):
        inclusion_proof(-1, 5, tree.get_node)
    with pytest.raises(MerkleError):
        consistency_proof(0, 5, tree.get_node)
    with pytest.raises(MerkleError):
        consistency_proof(4, 3, tree.get_node)
    with pytest.raises(MerkleError):
        subtree_hash(3, 2, tree.get_node)
    with pytest.raises(MerkleError):
        tree.root(6)
    with pytest.raises(MerkleError):
        tree.get_node(3, 0)  # the size-8 node does not exist yet
    with pytest.raises(MerkleError):
        tree.get_node(-1, 0)
    with pytest.raises(MerkleError):
        tree.append_hash(b"")
    assert subtree_hash(2, 2, tree.get_node) == EMPTY_ROOT
    assert subtree_node_ids(4, 4) == []
    assert inclusion_proof_ranges(0, 1) == []
    assert consistency_proof_ranges(3, 3) == []


def test_verify_rejects_malformed_inputs() -> None:
    tree = MemoryTree.from_leaves(_leaves(6, b""))
    proof = tree.inclusion_proof(2)
    lh, rt = tree.leaf_hash(2), tree.root()
    verify_inclusion(2, 6, lh, proof, rt)
    for bad in (
        (-1, 6, lh, proof, rt),
        (2, -6, lh, proof, rt),
        (True, 6, lh, proof, rt),
        (2, 6, lh[:31], proof, rt),
        (2, 6, lh, proof, rt + b"\x00"),
        (2, 6, lh, [*proof[:-1], proof[-1][:16]], rt),
        (2, 6, lh, [*proof[:-1], "not bytes"], rt),
    ):
        with pytest.raises(ProofError):
            verify_inclusion(*bad)
    cproof = tree.consistency_proof(3)
    verify_consistency(3, 6, tree.root(3), rt, cproof)
    with pytest.raises(ProofError):
        verify_consistency(3, 6, tree.root(3)[:8], rt, cproof)
    with pytest.raises(ProofError):
        verify_consistency(3, 6, tree.root(3), rt, [*cproof, b"\x00" * 31])
    with pytest.raises(ProofError):
        verify_consistency(-3, 6, tree.root(3), rt, cproof)


def test_proof_error_is_merkle_error() -> None:
    assert issubclass(ProofError, MerkleError)
    assert issubclass(MerkleError, ValueError)
    assert set(merkle.__all__) >= {"verify_inclusion", "verify_consistency", "MemoryTree"}


def test_dict_backed_getter_like_the_store() -> None:
    """Prefetch every node a proof needs in one batch, then build it from a dict."""
    n = 1000
    tree = MemoryTree.from_leaves(_leaves(n, b"db"))
    table = {(lv, ix): h for lv, nodes in enumerate(tree.levels) for ix, h in enumerate(nodes)}
    needed = {nid for s, e in inclusion_proof_ranges(617, n) for nid in subtree_node_ids(s, e)}
    batch = {nid: table[nid] for nid in needed}
    proof = inclusion_proof(617, n, lambda lv, ix: batch[(lv, ix)])
    verify_inclusion(617, n, tree.leaf_hash(617), proof, tree.root())
    needed = {nid for s, e in consistency_proof_ranges(300, n) for nid in subtree_node_ids(s, e)}
    batch = {nid: table[nid] for nid in needed}
    verify_consistency(
        300,
        n,
        tree.root(300),
        tree.root(),
        consistency_proof(300, n, lambda lv, ix: batch[(lv, ix)]),
    )
