"""Reading the stored ledger back in tests."""

from __future__ import annotations

from sqlalchemy import select

from unerased.store import Store
from unerased.store import _schema as schema


def stored_leaf_hashes(store: Store) -> list[bytes]:
    """Every ``ledger_leaves.leaf_hash``, in leaf order (the tree's level 0)."""
    with store.reader() as conn:
        return [bytes(h) for (h,) in conn.execute(
            select(schema.ledger_leaves.c.leaf_hash).order_by(schema.ledger_leaves.c.idx))]
