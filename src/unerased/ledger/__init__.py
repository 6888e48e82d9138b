"""The evidence ledger: an RFC 9162 Merkle log over every stored observation.

Pure, bottom layer (no I/O): :mod:`~unerased.ledger.merkle` (hashing, proofs),
:mod:`~unerased.ledger.records` (the public leaf-record format of docs/receipts.md),
:mod:`~unerased.ledger.note` (signed checkpoints, C2SP signed notes),
:mod:`~unerased.ledger.timestamp` (RFC 3161) and :mod:`~unerased.ledger.published`
(what a published receipt may hold). On the store (top layer; every query is
the store's): :mod:`~unerased.ledger.log` (the stored tree, proofs, keys, checkpoints),
:mod:`~unerased.ledger.verify` (``unerased verify``) and
:mod:`~unerased.ledger.receipt` (receipts). The leaves themselves are appended by the
store's writer, in the same transaction as the rows they cover.

Names load at first use (see :mod:`unerased._lazy`): importing the pure modules never
loads the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import exports

if TYPE_CHECKING:
    from . import log, merkle, note, published, receipt, records, timestamp, verify
    from .log import (
        CheckpointRow,
        NodeReader,
        consistency_proof,
        consistency_proof_at,
        get_origin,
        inclusion_proof,
        inclusion_proof_at,
        key_paths,
        latest_checkpoint,
        list_checkpoints,
        load_signer,
        load_verifier,
        make_checkpoint,
        root_at,
        tree_root,
        tree_size,
    )
    from .merkle import MemoryTree
    from .receipt import ReceiptReport, ReceiptSummary, verify_receipt, write_receipt
    from .verify import Problem, VerifyReport, leaf_record, verify_archive

__all__ = [
    "CheckpointRow",
    "MemoryTree",
    "NodeReader",
    "Problem",
    "ReceiptReport",
    "ReceiptSummary",
    "VerifyReport",
    "consistency_proof",
    "consistency_proof_at",
    "get_origin",
    "inclusion_proof",
    "inclusion_proof_at",
    "key_paths",
    "latest_checkpoint",
    "leaf_record",
    "list_checkpoints",
    "load_signer",
    "load_verifier",
    "log",
    "make_checkpoint",
    "merkle",
    "note",
    "published",
    "receipt",
    "records",
    "root_at",
    "timestamp",
    "tree_root",
    "tree_size",
    "verify",
    "verify_archive",
    "verify_receipt",
    "write_receipt",
]

_WHERE = {name: "log" for name in (
    "CheckpointRow", "NodeReader", "consistency_proof", "consistency_proof_at", "get_origin",
    "inclusion_proof", "inclusion_proof_at", "key_paths", "latest_checkpoint",
    "list_checkpoints", "load_signer", "load_verifier", "make_checkpoint", "root_at",
    "tree_root", "tree_size",
)}
_WHERE |= {name: "receipt" for name in (
    "ReceiptReport", "ReceiptSummary", "verify_receipt", "write_receipt")}
_WHERE |= {name: "verify" for name in ("Problem", "VerifyReport", "leaf_record",
                                       "verify_archive")}
_WHERE |= {"MemoryTree": "merkle"}
_WHERE |= {m: m for m in ("log", "merkle", "note", "published", "receipt", "records",
                           "timestamp", "verify")}
__getattr__ = exports(__name__, _WHERE)
