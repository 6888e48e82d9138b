"""``unerased verify``: check the whole archive against its ledger.

In one read snapshot of the database it

1. streams the ledger leaves in index order, page by page, and beside them every leafed
   table in id order (captures in ``seq`` order), merge-joined: each leaf's record is
   rebuilt from its row exactly as the writer built it (``ledger/records.py``: a post
   version with its post, account and media rows; an account status with its account;
   a capture, whose id must also be the sha256 of its canonical record; an import; an
   event; a media completion, which must name a media row of its own version) and
   hashed with the leaf's salt — a leaf without a row, a row without a leaf, a missing
   or duplicated leaf index are all reported;
2. rebuilds every perfect node of the tree from the leaves and compares it with
   ``ledger_nodes`` (levels 1 and up: missing, changed and extra nodes; level 0 is each
   leaf's own ``leaf_hash``, compared in step 1);
3. recomputes the sha256 of every blob a row names (capture bodies, request bodies,
   media) and notes blobs no row names (orphans: reported, harmless);
4. checks every checkpoint: its signature with the home's public key, its note against
   its row, the consistency proof from the checkpoint before it, and its root against
   the tree rebuilt from the archive.

The first problem found is reported precisely (table and row id, leaf index, blob
digest, checkpoint size); checking goes on up to ``max_problems``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import BlobError, DatabaseError
from ..model import canonical_json
from ..store import LEAFED, ArchiveScan
from . import log, merkle, note
from . import records as rec

if TYPE_CHECKING:
    from ..store import BlobStore, Connection, Store

__all__ = ["EMPTY_SHA256", "Problem", "VerifyReport", "leaf_record", "verify_archive"]

ProgressFn = Callable[[int, int], None]

PAGE = 20_000
ROW_PAGE = 5_000
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
KINDS: tuple[str, ...] = LEAFED


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing that does not verify. ``str()`` is one line naming the bad item."""

    code: str
    message: str
    table: str | None = None
    row: str | None = None
    leaf: int | None = None
    blob: str | None = None
    checkpoint: int | None = None

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code, "message": self.message, "table": self.table, "row": self.row,
            "leaf": self.leaf, "blob": self.blob, "checkpoint": self.checkpoint,
        }


@dataclass
class VerifyReport:
    problems: list[Problem] = field(default_factory=list)
    leaves: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    media: int = 0
    nodes: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    orphan_blobs: int = 0
    checkpoints: int = 0
    seconds: float = 0.0
    truncated: bool = False  # stopped after max_problems
    redacted: list[dict[str, Any]] = field(default_factory=list)  # leaves, docs/redaction.md
    redactions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def summary(self) -> str:
        if not self.ok:
            more = len(self.problems) - 1
            tail = f" (and {more}{'+' if self.truncated else ''} more)" if more else ""
            return f"{self.problems[0]}{tail}"
        orphans = f"; {self.orphan_blobs} unreferenced blobs (harmless)" if self.orphan_blobs else ""
        redacted = ""
        if self.redactions:
            last = self.redactions[-1]
            redacted = (f"; {len(self.redacted)} leaves redacted by {len(self.redactions)} "
                        f"redaction{'s' if len(self.redactions) != 1 else ''} (the last "
                        f"{last['at']}: {last['reason']})")
        return (
            f"archive verified: {self.leaves} leaves, {sum(self.rows.values())} rows, "
            f"{self.nodes} tree nodes, {self.blobs} blobs ({self.blob_bytes} bytes), "
            f"{self.checkpoints} checkpoints in {self.seconds:.1f}s{orphans}{redacted}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "leaves": self.leaves, "rows": dict(self.rows), "media": self.media,
            "nodes": self.nodes, "blobs": self.blobs, "blob_bytes": self.blob_bytes,
            "orphan_blobs": self.orphan_blobs, "checkpoints": self.checkpoints,
            "seconds": round(self.seconds, 3), "truncated": self.truncated,
            "first_problem": None if self.first is None else self.first.to_json(),
            "problems": [p.to_json() for p in self.problems],
            "redacted": list(self.redacted), "redactions": list(self.redactions),
        }


class _Stop(Exception):
    """Too many problems: stop checking."""


class _NotKept(Exception):
    """A tree node the checkpoint checks did not plan for."""


# --------------------------------------------------------------------------- records


def _record_of(kind: str, row: Mapping[str, Any], media: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if kind == "post_versions":
        return rec.post_version_record(row, row, row, media)
    if kind == "account_status":
        return rec.account_status_record(row, row)
    if kind == "captures":
        return rec.capture_leaf_record(row)
    if kind == "imports":
        return rec.import_record(row)
    if kind == "events":
        return rec.event_record(row)
    if kind == "media_completions":
        return rec.media_completion_record(row, row, row)
    if kind == "redactions":
        return rec.redaction_record(row)
    raise KeyError(kind)


def leaf_record(conn: Connection, kind: str, ref: str) -> dict[str, Any] | None:
    """The record leaf ``(kind, ref)`` commits to, rebuilt from the database (None when
    its row, or the post/account it needs, is missing)."""
    scan = ArchiveScan(conn)
    row = scan.row(kind, ref)
    if row is None:
        return None
    if kind == "post_versions":
        if row["p_id"] is None or row["a_id"] is None:
            return None
        return _record_of(kind, row, scan.media_of(int(ref)))
    if kind in ("account_status", "media_completions") and row["a_id"] is None:
        return None
    return _record_of(kind, row, ())


# --------------------------------------------------------------------------- row cursors


class _Cursor:
    """The rows of one leafed table in ledger order (id; captures: seq), paged."""

    def __init__(self, scan: ArchiveScan, kind: str, page: int) -> None:
        self.scan = scan
        self.kind = kind
        self.page = page
        self.last: int = 0  # last key fetched
        self.buf: deque[Any] = deque()
        self.done = False
        self.media: dict[int, list[Any]] = {}
        self.orphans: list[Any] = []  # media rows whose version is not in the table
        self.rows = 0
        self.media_rows = 0

    def key(self, row: Any) -> int:
        return int(row["seq"] if self.kind == "captures" else row["id"])

    def _fetch(self) -> None:
        k, n, last = self.kind, self.page, self.last
        rows = self.scan.rows_page(k, last, n)
        if len(rows) < n:
            self.done = True
        if rows:
            hi = self.key(rows[-1])
            if k == "post_versions":
                for items in self.media.values():  # the previous page's: no version took them
                    self.orphans.extend(items)
                self.media = self.scan.media_between(last, hi)
                self.media_rows += sum(len(v) for v in self.media.values())
            self.last = hi
            self.buf.extend(rows)

    def peek(self) -> Mapping[str, Any] | None:
        if not self.buf and not self.done:
            self._fetch()
        return self.buf[0] if self.buf else None

    def pop(self) -> tuple[Mapping[str, Any], list[Any]]:
        """The next row, with its media rows (post versions)."""
        self.rows += 1
        row = self.buf.popleft()
        media = self.media.pop(int(row["id"]), []) if self.kind == "post_versions" else []
        return row, media


# --------------------------------------------------------------------------- the check


class _Verifier:
    def __init__(
        self,
        conn: Connection,
        blobs: BlobStore,
        verifier_key: str | None,
        progress: ProgressFn | None,
        max_problems: int,
        page: int,
        check_orphans: bool,
    ) -> None:
        self.conn = conn
        self.scan = ArchiveScan(conn)
        self.blobs = blobs
        self.vkey = verifier_key
        self.progress = progress
        self.max_problems = max_problems
        self.page = page
        self.check_orphans = check_orphans
        self.report = VerifyReport()
        self.cursors = {k: _Cursor(self.scan, k, ROW_PAGE) for k in KINDS}
        self.seen_blobs: set[bytes] = set()
        self.blob_queue: list[tuple[str, str, str, int | None]] = []  # digest, table, row, size
        # tree rebuild: the right edge (left siblings waiting for a right one), per level
        self.left: list[bytes | None] = []
        self.tree_ok = True
        self.keep: set[tuple[int, int]] = set()  # nodes the checkpoints need
        self.kept: dict[tuple[int, int], bytes] = {}
        self.redacted: dict[int, Mapping[str, Any]] = {}  # leaf index -> its redaction

    # -- problems

    def problem(self, code: str, message: str, **where: Any) -> None:
        self.report.problems.append(Problem(code, message, **where))
        if len(self.report.problems) >= self.max_problems:
            self.report.truncated = True
            raise _Stop

    # -- main

    def run(self) -> VerifyReport:
        t0 = time.perf_counter()
        conn = self.conn
        size = self.scan.head_size()
        checkpoints = log.list_checkpoints(conn)
        self._plan_checkpoints(checkpoints, size)
        try:
            self._load_redactions()
            self._leaves(size)
            self._rest(size)
            self._checkpoints(checkpoints, size)
            if self.check_orphans:
                self._orphans()
        except _Stop:
            pass
        r = self.report
        r.rows = {k: c.rows for k, c in self.cursors.items()}
        r.media = self.cursors["post_versions"].media_rows
        r.seconds = time.perf_counter() - t0
        return r

    def _plan_checkpoints(self, checkpoints: Sequence[log.CheckpointRow], size: int) -> None:
        sizes = [c.size for c in checkpoints if 0 < c.size <= size]
        for a, b in zip([None, *sizes], sizes, strict=False):
            self.keep.update(merkle.subtree_node_ids(0, b))
            if a is not None and a < b:
                for x, y in merkle.consistency_proof_ranges(a, b):
                    self.keep.update(merkle.subtree_node_ids(x, y))

    # -- 1. leaves, rows and nodes

    def _stored_nodes(self, a: int, b: int) -> dict[tuple[int, int], bytes]:
        """Stored nodes completed by leaves a..b (inclusive): every perfect node of level
        1 and up whose last leaf is in the range."""
        rows = self.scan.nodes_completed_by(a, b)
        return {(int(lv), int(ix)): _b(h) for lv, ix, h in rows}

    def _leaves(self, size: int) -> None:
        scan, rep = self.scan, self.report
        expected = 0
        while True:
            rows = scan.leaves_page(expected, self.page)
            if not rows:
                break
            stored = self._stored_nodes(int(rows[0][0]), int(rows[-1][0]))
            page = {int(r[0]): _b(r[4]) for r in rows}  # stored leaf hashes: level 0
            for idx, kind, ref, salt, lh in rows:
                idx = int(idx)
                if idx != expected:
                    self._gap(expected, idx)
                if idx >= size:
                    self.problem("leaf_beyond_head",
                                 f"ledger leaf {idx} is beyond the ledger head (size {size}): "
                                 "the head was changed or a leaf added outside a transaction",
                                 leaf=idx)
                h = self._leaf(idx, str(kind), str(ref), _b(salt))
                self._tree_add(idx, str(kind), str(ref), h, _b(lh), stored, page)
                expected = idx + 1
            rep.leaves = expected
            self._check_blobs()
            if self.progress is not None:
                self.progress(expected, size)
        if expected < size:
            self._gap(expected, size)

    def _gap(self, expected: int, got: int) -> None:
        span = f"{expected}" if got == expected + 1 else f"{expected}–{got - 1}"
        self.tree_ok = False
        self.problem("leaf_missing", f"ledger leaf {span} is missing (a leaf row was deleted)",
                     leaf=expected)

    def _load_redactions(self) -> None:
        """The leaves redactions name: verified as "redacted" (their row and salt are
        gone; their stored hash builds the tree) instead of failing."""
        lifted: dict[int, list[dict[str, Any]]] = {}
        for pk, at, why in self.scan.lifted():
            lifted.setdefault(int(pk), []).append({"at": at, "reason": why})
        for r in self.scan.redactions():
            try:
                leaves = [int(i) for i in json.loads(r["leaves_json"])]
                n_caps = len(json.loads(r["captures_json"]))
            except (ValueError, TypeError):
                self.problem("redaction_malformed", f"redactions row {r['id']} cannot be read",
                             table="redactions", row=str(r["id"]))
                continue
            own = self.scan.leaf_index("redactions", str(r["id"]))
            for i in leaves:
                if own is not None and i >= int(own):
                    self.problem("redaction_order", f"redactions row {r['id']} (leaf {own}) "
                                 f"names leaf {i}, which is not before it",
                                 table="redactions", row=str(r["id"]), leaf=i)
                self.redacted.setdefault(i, r)
            self.report.redactions.append({
                "id": r["id"], "at": r["at"], "reason": r["reason"], "target": r["target"],
                "leaf": None if own is None else int(own), "leaves": len(leaves),
                "captures": n_caps, "lifted": lifted.get(int(r["id"]), [])})

    def _redacted_leaf(self, idx: int, kind: str, ref: str, salt: bytes) -> None:
        """A redacted leaf: its row and its salt must be gone."""
        r = self.redacted[idx]
        self.report.redacted.append({"leaf": idx, "table": kind, "row": ref,
                                     "redaction": r["id"], "at": r["at"],
                                     "reason": r["reason"]})
        cur = self.cursors.get(kind)
        row = None if cur is None else cur.peek()
        if cur is not None and row is not None and (
                row["id"] == ref if kind == "captures" else str(row["id"]) == ref):
            cur.pop()
            self.problem("redaction_incomplete", f"ledger leaf {idx} was redacted (redaction "
                         f"{r['id']}) but {kind} row {ref} is still there", table=kind,
                         row=ref, leaf=idx)
        elif salt:
            self.problem("redaction_incomplete", f"ledger leaf {idx} was redacted (redaction "
                         f"{r['id']}) but its salt is still there", table=kind, row=ref,
                         leaf=idx)

    def _leaf(self, idx: int, kind: str, ref: str, salt: bytes) -> bytes | None:
        """Match leaf ``idx`` with its row; returns the recomputed leaf hash (None if the
        row cannot be found, or was redacted)."""
        if idx in self.redacted:
            self._redacted_leaf(idx, kind, ref, salt)
            return None
        cur = self.cursors.get(kind)
        if cur is None:
            self.problem("leaf_bad_kind", f"ledger leaf {idx} names an unknown table {kind!r}",
                         leaf=idx)
            return None
        while True:
            row = cur.peek()
            if row is not None and (row["id"] == ref if kind == "captures" else
                                    str(row["id"]) == ref):
                _, media = cur.pop()
                return self._check_row(idx, kind, ref, salt, row, media)
            # not the next row: find out who is wrong
            want = self.scan.row(kind, ref)
            if want is None:
                self.problem("leaf_without_row",
                             f"ledger leaf {idx} covers {kind} row {ref}, which is missing "
                             "(the row was deleted)", table=kind, row=ref, leaf=idx)
                return None
            if row is not None and cur.key(row) < cur.key(want):
                cur.pop()
                self._row_without_leaf(kind, row)
                continue
            self.problem("leaf_out_of_order",
                         f"ledger leaf {idx} covers {kind} row {ref} a second time or out of "
                         "order", table=kind, row=ref, leaf=idx)
            return None

    def _row_without_leaf(self, kind: str, row: Mapping[str, Any]) -> None:
        ref = str(row["id"])
        found = self.scan.leaf_index(kind, ref)
        why = ("its leaf is missing or the row was added outside the ledger" if found is None
               else f"its leaf {found} is out of order")
        self.problem("row_without_leaf", f"{kind} row {ref} has no ledger leaf ({why})",
                     table=kind, row=ref, leaf=None if found is None else int(found))

    def _check_row(
        self, idx: int, kind: str, ref: str, salt: bytes, row: Mapping[str, Any],
        media: Sequence[Mapping[str, Any]],
    ) -> bytes | None:
        if kind == "post_versions":
            if row["p_id"] is None:
                self.problem("row_missing", f"posts row {row['post_pk']} is missing (post_versions "
                             f"row {ref}, leaf {idx}, belongs to it)", table="posts",
                             row=str(row["post_pk"]), leaf=idx)
                return None
            if row["a_id"] is None:
                self.problem("row_missing", f"accounts row {row['account_pk']} is missing "
                             f"(post_versions row {ref}, leaf {idx}, belongs to it)",
                             table="accounts", row=str(row["account_pk"]), leaf=idx)
                return None
            for m in media:
                if m["sha256"] is not None:
                    self.blob_queue.append((m["sha256"], "media", str(m["id"]), m["size"]))
        elif kind == "account_status":
            if row["a_id"] is None:
                self.problem("row_missing", f"accounts row {row['account_pk']} is missing "
                             f"(account_status row {ref}, leaf {idx}, belongs to it)",
                             table="accounts", row=str(row["account_pk"]), leaf=idx)
                return None
        elif kind == "media_completions":
            if not self._check_completion(idx, ref, row):
                return None
        elif kind == "captures":
            try:
                cid = hashlib.sha256(canonical_json(rec.capture_record(row))).hexdigest()
            except ValueError:
                cid = ""
            if cid != ref:
                self.problem("capture_id", f"captures row {ref} (leaf {idx}) was changed: its id "
                             "is not the sha256 of its record", table=kind, row=ref, leaf=idx)
            self.blob_queue.append((row["body_sha256"], kind, ref, None))
            if row["request_body_sha256"] != EMPTY_SHA256:
                self.blob_queue.append((row["request_body_sha256"], kind, ref, None))
        try:
            data = rec.leaf_data(salt, _record_of(kind, row, media))
        except (ValueError, TypeError) as e:  # unparseable JSON columns
            self.problem("leaf_mismatch", f"{kind} row {ref} (leaf {idx}) cannot be read: {e}",
                         table=kind, row=ref, leaf=idx)
            return None
        return merkle.leaf_hash(data)

    def _check_completion(self, idx: int, ref: str, row: Mapping[str, Any]) -> bool:
        """A media completion must name an existing media row of its version (at its seq)
        and a post and account; its blob is checked with the others."""
        where = f"media_completions row {ref} (leaf {idx})"
        if row["a_id"] is None:
            self.problem("row_missing", f"the post or account of {where} is missing",
                         table="media_completions", row=ref, leaf=idx)
            return False
        if (row["m_id"] is None or row["m_version_pk"] != row["version_pk"]
                or row["m_seq"] != row["seq"]):
            self.problem("media_completion_target", f"{where} completes media row "
                         f"{row['media_pk']}, which is not media {row['seq']} of version "
                         f"{row['version_pk']} (a row was deleted or changed)",
                         table="media_completions", row=ref, leaf=idx)
        self.blob_queue.append((row["sha256"], "media_completions", ref, row["size"]))
        return True

    def _tree_add(
        self, idx: int, kind: str, ref: str, h: bytes | None, stored_leaf: bytes,
        stored: dict[tuple[int, int], bytes], page: dict[int, bytes],
    ) -> None:
        if h is not None and h != stored_leaf:
            h = self._leaf_differs(idx, kind, ref, h, stored_leaf, stored, page)
        if h is None:  # no row to rebuild from (named already): use the ledger's own hash
            h = stored_leaf
        if not self.tree_ok:
            return
        level, i = 0, idx
        while True:
            if level:
                got = stored.get((level, i))
                self.report.nodes += got is not None
                if got is None:
                    self.problem("node_missing",
                                 f"ledger node (level {level}, index {i}) is missing", leaf=idx)
                elif got != h:
                    self.problem("node_mismatch", f"ledger node (level {level}, index {i}) was "
                                 "changed: it is not the hash of the leaves below it", leaf=idx)
            if (level, i) in self.keep:
                self.kept[(level, i)] = h
            if len(self.left) <= level:
                self.left.append(None)
            if not i & 1:
                self.left[level] = h
                return
            left = self.left[level]
            assert left is not None
            self.left[level] = None
            h = merkle.node_hash(left, h)
            level += 1
            i >>= 1

    def _leaf_differs(
        self, idx: int, kind: str, ref: str, h: bytes, stored_leaf: bytes,
        stored: dict[tuple[int, int], bytes], page: dict[int, bytes],
    ) -> bytes:
        """The row rebuilt hashes to ``h``, not to the leaf's stored hash: find out which
        of the two was changed from the level-1 node above them (the hash of this leaf and
        its sibling), and return the hash the tree above should be rebuilt with."""
        parent = stored.get((1, idx >> 1))
        if idx & 1:
            sib = self.left[0] if self.left and self.tree_ok else None
        else:
            sib = page.get(idx + 1)
        if parent is not None and sib is not None:
            def up(x: bytes) -> bytes:
                return merkle.node_hash(sib, x) if idx & 1 else merkle.node_hash(x, sib)
            if up(h) == parent:
                self.problem("leaf_hash", f"ledger leaf {idx} ({kind} row {ref}): its stored leaf "
                             "hash was changed", table=kind, row=ref, leaf=idx)
                return h
            if up(stored_leaf) == parent:
                self.problem("leaf_mismatch", f"{kind} row {ref} does not match ledger leaf {idx}: "
                             "the row (or its post, account or media rows) or the leaf's salt "
                             "was changed", table=kind, row=ref, leaf=idx)
                return stored_leaf  # the ledger itself is intact: do not cascade up the tree
        self.problem("leaf_mismatch", f"{kind} row {ref} does not match ledger leaf {idx}: the "
                     "row (or its post, account or media rows), the leaf's salt or its stored "
                     "hash was changed", table=kind, row=ref, leaf=idx)
        return h

    # -- blobs

    def _check_blobs(self) -> None:
        queue, self.blob_queue = self.blob_queue, []
        for digest, table, row, size in queue:
            try:
                key = bytes.fromhex(digest)
                if len(key) != 32:
                    raise ValueError
            except (ValueError, TypeError):
                self.problem("blob_bad_digest", f"{table} row {row} names a malformed blob "
                             f"digest {str(digest)[:80]!r}", table=table, row=row)
                continue
            if key in self.seen_blobs:
                continue
            self.seen_blobs.add(key)
            try:
                got, n = self.blobs.hash_file(digest)
            except BlobError as e:
                if self.blobs.exists(digest):  # there, but fails authentication (encrypted)
                    self.problem("blob_mismatch", f"{e} ({table} row {row})", table=table,
                                 row=row, blob=digest)
                else:
                    self.problem("blob_missing", f"blob {digest} is missing ({table} row "
                                 f"{row})", table=table, row=row, blob=digest)
                continue
            self.report.blobs += 1
            self.report.blob_bytes += n
            if got != digest:
                self.problem("blob_mismatch", f"blob {digest} was changed: its content hashes to "
                             f"{got} ({table} row {row})", table=table, row=row, blob=digest)
            elif size is not None and size != n:
                self.problem("blob_size", f"{table} row {row}: blob {digest} is {n} bytes, the "
                             f"row says {size}", table=table, row=row, blob=digest)

    # -- 2. what is left after the leaves

    def _rest(self, size: int) -> None:
        for kind, cur in self.cursors.items():
            while (row := cur.peek()) is not None:
                cur.pop()
                self._row_without_leaf(kind, row)
        vcur = self.cursors["post_versions"]
        for items in vcur.media.values():
            vcur.orphans.extend(items)
        vcur.media = {}
        for m in vcur.orphans:
            self.problem("media_orphan", f"media row {m['id']} belongs to no post version "
                         f"(version {m['version_pk']} is missing)", table="media", row=str(m["id"]))
        if self.scan.media_count() != vcur.media_rows:
            m = self.scan.first_orphan_media()
            if m is not None:
                self.problem("media_orphan", f"media row {m[0]} belongs to no post version "
                             f"(version {m[1]} is missing)", table="media", row=str(m[0]))
        self._extra_nodes(size)

    def _extra_nodes(self, size: int) -> None:
        expected = 0
        level = 0
        while size >> level:
            expected += size >> level
            level += 1
        total = self.scan.node_count()
        if total <= self.report.nodes or not self.tree_ok:
            return
        extra = self.scan.first_node_outside(size, level)
        if extra is not None:
            self.problem("node_extra", f"ledger node (level {extra[0]}, index {extra[1]}) is "
                         f"outside the tree of {size} leaves (added outside the ledger)")

    # -- 3. checkpoints

    def _checkpoints(self, checkpoints: Sequence[log.CheckpointRow], size: int) -> None:
        if not checkpoints:
            return
        origin = log.get_origin(self.conn)
        if origin is None:
            self.problem("origin_missing", "the log's origin (meta ledger_origin) is missing "
                         f"though {len(checkpoints)} checkpoints exist",
                         checkpoint=checkpoints[0].size)
        if self.vkey is None:
            self.problem("no_key", f"{len(checkpoints)} checkpoints cannot be checked: no public "
                         "key (keys/ledger.pub in the home, or --key)",
                         checkpoint=checkpoints[0].size)
            return

        def get(level: int, i: int) -> bytes:
            try:
                return self.kept[(level, i)]
            except KeyError:  # planned for consecutive checkpoints only
                raise _NotKept from None

        prev: note.Checkpoint | None = None
        for row in checkpoints:
            where = f"checkpoint of size {row.size}"
            self.report.checkpoints += 1
            try:
                cp = note.Checkpoint.open(row.note, self.vkey)
            except note.NoteError as e:
                self.problem("checkpoint_signature", f"{where}: its signed note does not verify "
                             f"with the log's public key ({e}): forged or signed by another key",
                             checkpoint=row.size)
                continue
            if cp.size != row.size or cp.root != row.root:
                self.problem("checkpoint_row", f"{where}: the row's size or root differs from "
                             "its signed note", checkpoint=row.size)
            if origin is not None and cp.origin != origin:
                self.problem("checkpoint_origin", f"{where}: signed for the log {cp.origin!r}, "
                             f"this database is {origin!r}", checkpoint=row.size)
            if cp.size > size:
                self.problem("checkpoint_beyond", f"{where} is beyond the ledger ({size} leaves): "
                             "leaves were removed after it was signed", checkpoint=cp.size)
                continue
            if not self.tree_ok:
                continue
            if cp.size == 0:
                if cp.root != merkle.EMPTY_ROOT:
                    self.problem("checkpoint_root", f"{where}: not the root of the empty tree",
                                 checkpoint=0)
                continue
            if prev is not None and prev.size < cp.size:
                try:
                    proof = merkle.consistency_proof(prev.size, cp.size, get)
                    merkle.verify_consistency(prev.size, cp.size, prev.root, cp.root, proof)
                except _NotKept:
                    pass  # a checkpoint between them failed (reported): no proof planned
                except merkle.MerkleError as e:
                    self.problem("checkpoint_inconsistent", f"{where} is not consistent with the "
                                 f"checkpoint of size {prev.size} before it ({e})",
                                 checkpoint=cp.size)
                    prev = cp
                    continue
            if merkle.root(cp.size, get) != cp.root:
                self.problem("checkpoint_root", f"{where}: its root is not the root of the tree "
                             "rebuilt from the archive (history was rewritten after it was "
                             "signed)", checkpoint=cp.size)
            prev = cp

    # -- 4. orphan blobs

    def _orphans(self) -> None:
        n = 0
        for d in self.blobs.iter_digests():
            try:
                key = bytes.fromhex(d)
            except ValueError:
                n += 1
                continue
            if key not in self.seen_blobs:
                n += 1
        self.report.orphan_blobs = n


def _b(v: Any) -> bytes:
    """A binary column as bytes; anything else (SQLite stores what it is given) as b"",
    which then fails the comparison it is part of."""
    return bytes(v) if isinstance(v, bytes | bytearray | memoryview) else b""


def verify_archive(
    store: Store,
    *,
    progress: ProgressFn | None = None,
    verifier_key: str | None = None,
    max_problems: int = 100,
    page: int = PAGE,
    check_orphans: bool = True,
) -> VerifyReport:
    """Check the whole archive against its ledger (see the module docstring).

    ``verifier_key`` defaults to the home's ``keys/ledger.pub``. Runs in one read
    snapshot (REPEATABLE READ on PostgreSQL) so concurrent writers do not disturb it."""
    vkey = verifier_key if verifier_key is not None else log.load_verifier(store.home)
    try:
        with store.snapshot() as conn:
            return _Verifier(conn, store.blobs, vkey, progress, max_problems, page,
                             check_orphans).run()
    except DatabaseError as e:  # a damaged database (dropped table…): name it
        what = e.detail
    except (ValueError, TypeError, OverflowError) as e:  # a text where a number belongs…
        lines = str(e).strip().splitlines()
        what = lines[0] if lines else type(e).__name__
    return VerifyReport(problems=[Problem("malformed", f"the database cannot be checked: {what}")])
