"""The ledger's own tables, read and written for :mod:`unerased.ledger`.

``ledger_head`` (the tree's size), ``ledger_leaves`` (each leaf's row, salt and hash: the
tree's level 0), ``ledger_nodes`` (perfect subtrees of level 1 and up), ``checkpoints``
and ``meta``. The writer appends leaves and nodes itself (``_writer.py``, on the hot
path); everything else the ledger's code asks of these tables is here: reads through
:class:`LedgerTables` on a connection from ``Store.reader()`` (or a snapshot), writes
through the :class:`LedgerWrites` methods of the :class:`~unerased.store.Writer`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import WriteConflict
from . import _schema as s

_FETCH_CHUNK = 400  # (level, idx) pairs per query: 800 bind parameters
_PG_FETCH = (
    "SELECT w.level, w.idx, coalesce(n.hash, l.leaf_hash) "
    "FROM unnest(%(l)s::int[], %(i)s::bigint[]) AS w(level, idx) "
    "LEFT JOIN ledger_nodes n ON w.level > 0 AND n.level = w.level AND n.idx = w.idx "
    "LEFT JOIN ledger_leaves l ON w.level = 0 AND l.idx = w.idx"
)


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    """A row of the ``checkpoints`` table: a signed note of the tree at ``size``."""

    size: int
    root: bytes
    at: str
    note: str
    timestamp_der: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "root": self.root.hex(),
            "at": self.at,
            "note": self.note,
            "timestamp": None if self.timestamp_der is None
            else base64.b64encode(self.timestamp_der).decode("ascii"),
        }


class LeafRow(NamedTuple):
    """A row of ``ledger_leaves``: leaf ``idx`` covers row ``ref`` of table ``kind``."""

    idx: int
    kind: str
    ref: str
    salt: bytes
    leaf_hash: bytes


def _checkpoint(r: Any) -> CheckpointRow:
    ts = r.timestamp_der
    return CheckpointRow(int(r.size), bytes(r.root), str(r.at), str(r.note),
                         None if ts is None else bytes(ts))


def _by_kind(refs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    by_kind: dict[str, list[str]] = {}
    for kind, ref in refs:
        by_kind.setdefault(kind, []).append(ref)
    return by_kind


class LedgerTables:
    """Reads of the ledger's tables through one connection (one transaction)."""

    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def head_size(self) -> int:
        """The number of leaves in the ledger (``ledger_head.size``)."""
        return int(self.conn.execute(
            select(s.ledger_head.c.size).where(s.ledger_head.c.id == 1)).scalar_one())

    def fetch_nodes(self, ids: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored perfect nodes ``(level, idx)`` among ``ids``, in as few queries as
        possible (level 0, a leaf's hash, from ``ledger_leaves``; the others from
        ``ledger_nodes``).

        Written as ``level = L AND idx IN (…) OR …`` (one term per level): both backends
        answer that from the primary key, which a row-value ``IN`` is not on SQLite. The
        SQL is built as text from integers only (building it as SQLAlchemy expressions
        costs more than the query: a proof must take well under a millisecond)."""
        conn = self.conn
        want = sorted({(int(lv), int(ix)) for lv, ix in ids})
        out: dict[tuple[int, int], bytes] = {}
        if conn.dialect.name == "postgresql" and want:
            # one statement text whatever the proof: psycopg prepares it, and the planner
            # joins the wanted ids to the primary keys (the OR form cost 0.5 ms of planning)
            for level, idx, h in conn.exec_driver_sql(_PG_FETCH, {"l": [k[0] for k in want],
                                                                  "i": [k[1] for k in want]}):
                if h is not None:
                    out[(int(level), int(idx))] = bytes(h)
            return out
        for i in range(0, len(want), _FETCH_CHUNK):
            by_level: dict[int, list[str]] = {}
            for level, idx in want[i : i + _FETCH_CHUNK]:
                by_level.setdefault(level, []).append(str(idx))
            parts = []
            leaves = by_level.pop(0, None)
            if leaves:  # level 0: a leaf's hash is kept in its ledger_leaves row only
                parts.append(f"SELECT 0, idx, leaf_hash FROM ledger_leaves "  # noqa: S608 - ints
                             f"WHERE idx IN ({','.join(leaves)})")
            if by_level:
                where = " OR ".join(f"(level = {lv} AND idx IN ({','.join(ix)}))"
                                    for lv, ix in by_level.items())
                parts.append(f"SELECT level, idx, hash FROM ledger_nodes WHERE {where}")  # noqa: S608
            for level, idx, h in conn.exec_driver_sql(" UNION ALL ".join(parts)):
                out[(int(level), int(idx))] = bytes(h)
        return out

    def checkpoints(self) -> list[CheckpointRow]:
        """Every checkpoint, smallest tree first."""
        return [_checkpoint(r) for r in self.conn.execute(
            select(s.checkpoints).order_by(s.checkpoints.c.size))]

    def latest_checkpoint(self, *, at_least: int = 0) -> CheckpointRow | None:
        """The checkpoint of the largest tree (of ``at_least`` leaves or more)."""
        r = self.conn.execute(
            select(s.checkpoints).where(s.checkpoints.c.size >= at_least)
            .order_by(s.checkpoints.c.size.desc()).limit(1)
        ).first()
        return None if r is None else _checkpoint(r)

    def meta(self, key: str) -> str | None:
        """A value of the ``meta`` table (the log's origin, its key…), None if unset."""
        v = self.conn.execute(select(s.meta.c.value).where(s.meta.c.key == key)).scalar()
        return None if v is None else str(v)

    def leaves_of(self, refs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], LeafRow]:
        """The leaves covering rows ``(kind, ref)`` (those that have one), by row."""
        lc = s.ledger_leaves.c
        found: dict[tuple[str, str], LeafRow] = {}
        for kind, kref in _by_kind(refs).items():
            for i in range(0, len(kref), 500):
                for row in self.conn.execute(
                    select(lc.idx, lc.kind, lc.ref, lc.salt, lc.leaf_hash)
                    .where(lc.kind == kind, lc.ref.in_(kref[i : i + 500]))
                ):
                    found[(str(row.kind), str(row.ref))] = LeafRow(
                        int(row.idx), str(row.kind), str(row.ref), bytes(row.salt),
                        bytes(row.leaf_hash))
        return found

    def max_leaf_index(self, refs: Sequence[tuple[str, str]]) -> int:
        """The largest leaf index covering any of the rows ``(kind, ref)``; -1 if none."""
        lc = s.ledger_leaves.c
        best = -1
        for kind, kref in _by_kind(refs).items():
            for i in range(0, len(kref), 500):
                got = self.conn.execute(
                    select(lc.idx).where(lc.kind == kind, lc.ref.in_(kref[i : i + 500]))
                    .order_by(lc.idx.desc()).limit(1)).scalar()
                if got is not None:
                    best = max(best, int(got))
        return best


class LedgerWrites:
    """The :class:`~unerased.store.Writer`'s writes to the ledger's tables other than
    leaves and nodes (which it appends itself): ``meta`` and ``checkpoints``."""

    @property
    def _connection(self) -> Connection:  # provided by Writer
        raise NotImplementedError

    @property
    def ledger(self) -> LedgerTables:
        """Reads of the ledger's tables inside this transaction."""
        return LedgerTables(self._connection)

    def set_meta(self, key: str, value: str) -> None:
        """Add ``key`` to the ``meta`` table (a key is set once: never overwritten)."""
        self._connection.execute(insert(s.meta).values(key=key, value=value))

    def add_checkpoint(self, row: CheckpointRow) -> None:
        """Store a signed checkpoint. :class:`~unerased.errors.WriteConflict` when one
        of that size exists already (a concurrent signer was first)."""
        try:
            self._connection.execute(insert(s.checkpoints).values(
                size=row.size, root=row.root, at=row.at, note=row.note,
                timestamp_der=row.timestamp_der))
        except IntegrityError:
            raise WriteConflict(f"a checkpoint of size {row.size} exists already") from None

    def set_checkpoint_timestamp(self, size: int, timestamp_der: bytes) -> None:
        """Keep an RFC 3161 token for the checkpoint of ``size`` that had none."""
        self._connection.execute(update(s.checkpoints).where(s.checkpoints.c.size == size)
                                 .values(timestamp_der=timestamp_der))
