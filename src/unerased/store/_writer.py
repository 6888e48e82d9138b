"""The one way to write: a :class:`Writer` is one transaction.

It takes the ledger lock first (``BEGIN IMMEDIATE`` on SQLite, ``SELECT … FOR UPDATE`` on
the ledger head on PostgreSQL), allocates row ids under that lock, buffers inserts and
flushes them with ``executemany``, and appends a ledger leaf for every leafed row in the
same transaction. Either all of it commits or none of it does.
"""

from __future__ import annotations

import operator
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from hashlib import sha256 as _sha256
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, func, select, update

from .._prepare import Prepared, prepare
from ..ledger import records as rec
from ..model import (
    AccountSnapshot,
    Capture,
    Event,
    PostSnapshot,
    PostStatus,
    canonical_json,
    iso,
    storable_json,
    utcnow,
)
from . import _claims
from . import _schema as s
from ._bulk import BulkInserter, execute_rows
from ._ledger import LedgerWrites
from ._redact import RedactedError, Redaction, RedactWrites
from ._search import index_sql
from ._state import StateWrites

if TYPE_CHECKING:
    from . import Store

_ANALYZE_AFTER = 20_000  # PostgreSQL: posts added before a lookup refreshes the statistics
_TRIM_MASK = 4095  # the node cache is trimmed every 4096 leaves
_MAX_TRACKED = 4_000_000  # post ids remembered per account in one transaction (~130 MB)
_TABLES_IN_ORDER = (
    s.accounts, s.account_status, s.posts, s.post_versions, s.media, s.media_completions,
    s.captures, s.imports, s.events,
)


def _dumps(v: Any) -> str:
    return storable_json(v, sort_keys=True)


@dataclass(slots=True)
class PostResult:
    post_pk: int
    is_new: bool
    version_pk: int | None  # the version added, None when nothing changed
    seq: int


class Writer(LedgerWrites, StateWrites, RedactWrites):
    def __init__(self, store: Store, conn: Connection) -> None:
        self.store = store
        self._conn = conn
        # bulk inserts run on a background thread (see _bulk), not on in-memory SQLite,
        # whose connection is tied to the thread that made it
        self._bulk_ok = conn.dialect.name != "sqlite" or _sqlite_file(conn)
        self._bulk: BulkInserter | None = None
        # account pk -> hashes of the post ids this transaction stored for it, for the
        # accounts that had no post before it; None: the account had posts
        self._stored_here: dict[int, set[int] | None] = {}
        self.now = iso(utcnow()) or ""
        q = select(s.ledger_head.c.size).where(s.ledger_head.c.id == 1)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        self.size: int = int(conn.execute(q).scalar_one())
        self._start_size = self.size
        # PostgreSQL: the post tables' changes since their statistics were refreshed, as
        # the server counted them before this transaction (None: not asked yet), and the
        # posts this transaction added since (see _fresh_stats)
        self._pg = conn.dialect.name == "postgresql"
        self._mods_before: int | None = None
        self._posts_added = 0
        self._next_id: dict[str, int] = {}
        # rows waiting for their INSERT, per table (see _Pending)
        self._pend = {t.name: _Pending(*_insert_sql(conn, t)) for t in _TABLES_IN_ORDER}
        self._leaves = _Pending(_insert_sql(conn, s.ledger_leaves)[0])  # idx kind ref salt hash
        self._tree = _Pending(_insert_sql(conn, s.ledger_nodes)[0])  # level idx hash
        self._fts = _Pending(index_sql(conn))  # version id, terms
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._accounts: dict[tuple[str, str], dict[str, Any]] = {}
        self._capture_ids: set[str] = set()
        self._salts, self._salt_at = b"", 0
        self.blobs = store.blobs.staging()  # blobs written, made durable in finish()
        self.media_completed = 0  # media files attached to stored versions (see _complete)
        self._capture_bodies: dict[str, bytes] = {}  # this transaction's (see _redact.py)
        self.redactions_done: list[Redaction] = []  # their blobs go after the commit

    @property
    def _connection(self) -> Connection:
        """The transaction's connection, once every row added so far is in it (private:
        SQL stays in the store; other layers use the Writer's methods)."""
        self.flush()
        if self._bulk is not None:
            self._bulk.sync()
        return self._conn

    def _insert_many(self, sql: str, rows: Sequence[Any]) -> None:
        if not self._bulk_ok:
            execute_rows(self._conn, sql, rows)
            return
        if self._bulk is None:
            self._bulk = BulkInserter(self._conn)
        self._bulk.submit(sql, rows)

    def abort(self) -> None:
        """Stop the bulk thread and remove the staged blobs after a failure (the
        transaction then rolls back)."""
        if self._bulk is not None:
            self._bulk.cancel()
        self.blobs.discard()

    # ---------------------------------------------------------------- ids, ledger

    def alloc(self, table: Table) -> int:
        name = table.name
        if name not in self._next_id:
            cur = self._connection.execute(select(func.max(table.c.id))).scalar()
            self._next_id[name] = max(int(cur or 0), self._id_floor(name)) + 1  # never reused
        n = self._next_id[name]
        self._next_id[name] = n + 1
        return n

    def _get_node(self, level: int, idx: int) -> bytes:
        h = self._nodes.get((level, idx))
        if h is not None:
            return h
        if level == 0:  # a leaf's hash is kept in its ledger_leaves row only
            row = self._connection.execute(
                select(s.ledger_leaves.c.leaf_hash).where(s.ledger_leaves.c.idx == idx)
            ).scalar()
        else:
            row = self._connection.execute(
                select(s.ledger_nodes.c.hash).where(
                    s.ledger_nodes.c.level == level, s.ledger_nodes.c.idx == idx
                )
            ).scalar()
        if row is None:
            raise RuntimeError(f"ledger node ({level}, {idx}) is missing")
        h = bytes(row)
        self._nodes[(level, idx)] = h
        return h

    def _leaf(self, kind: str, ref: str | int, record: Mapping[str, Any]) -> None:
        self._append_leaf(kind, ref, canonical_json(record))

    def _append_leaf(self, kind: str, ref: str | int, record_json: bytes) -> None:
        """Append the leaf of a row whose record serialises to ``record_json``.

        ``merkle.new_nodes_for_append`` written out for the hot path (same nodes: the
        ledger tests compare the stored tree with merkle's): the leaf's hash is level 0,
        kept in its ``ledger_leaves`` row; each perfect node it completes is a
        ``ledger_nodes`` row."""
        salt = self._salt()
        size = self.size
        h = _sha256(b"\x00" + salt + record_json).digest()
        self._nodes[(0, size)] = h
        if self._leaves.add((size, kind, str(ref), salt, h)):
            self._insert_many(self._leaves.sql, self._leaves.take())
        if size & 1:
            nodes, get = self._nodes, self._nodes.get
            level, index, done = 0, size, []
            while index & 1:
                left = get((level, index - 1)) or self._get_node(level, index - 1)
                h = _sha256(b"\x01" + left + h).digest()
                level += 1
                index >>= 1
                nodes[(level, index)] = h
                done.append((level, index, h))
            if self._tree.extend(done):
                self._insert_many(self._tree.sql, self._tree.take())
        self.size = size + 1
        if not self.size & _TRIM_MASK:
            self._trim_nodes()

    def _salt(self) -> bytes:
        """A fresh random salt, cut from a buffer the OS CSPRNG fills 256 salts at a time
        (one system call per salt was measurable on the import path)."""
        at = self._salt_at
        if at + rec.SALT_BYTES > len(self._salts):
            self._salts, at = os.urandom(rec.SALT_BYTES * 256), 0
        self._salt_at = at + rec.SALT_BYTES
        return self._salts[at : at + rec.SALT_BYTES]

    def _add(self, table: Table, row: dict[str, Any]) -> None:
        p = self._pend[table.name]
        if p.add(row):
            self._insert_many(p.sql, p.take())

    def flush(self) -> None:
        """Issue the INSERTs of every row added so far (on the bulk thread: use ``conn``
        to wait for them)."""
        for p in (*self._pend.values(), self._leaves, self._tree, self._fts):
            if p.rows:
                self._insert_many(p.sql, p.take(everything=True))

    def _trim_nodes(self) -> None:
        """Keep only what future appends can need cached: the perfect subtrees the tree's
        size decomposes into (each is the left sibling of a node to come; reading one back
        from the database would wait for every pending insert) and the last few leaves."""
        size = self.size
        edge = {(lv, (size >> lv) - 1) for lv in range(size.bit_length()) if size >> lv & 1}
        self._nodes = {
            k: v for k, v in self._nodes.items()
            if k in edge or ((k[1] + 1) << k[0]) >= size - 64
        }

    def finish(self) -> None:
        if (done := self._redact_recaptured(self._capture_bodies)) is not None:
            self.redactions_done.append(done)
        self.flush()
        self.blobs.commit()  # durable before the rows commit
        if self._bulk is not None:
            self._bulk.sync()
            self._bulk.close()
            self._bulk = None
        if self.size != self._start_size:
            self._connection.execute(
                update(s.ledger_head).where(s.ledger_head.c.id == 1).values(size=self.size)
            )

    # ---------------------------------------------------------------- accounts

    def account_row(self, platform: str, account_id: str) -> dict[str, Any] | None:
        key = (platform, account_id)
        if key in self._accounts:
            return self._accounts[key]
        r = self._connection.execute(
            select(s.accounts).where(
                s.accounts.c.platform == platform, s.accounts.c.account_id == account_id
            )
        ).mappings().first()
        if r is None:
            return None
        row = dict(r)
        self._accounts[key] = row
        return row

    def upsert_account(
        self, snap: AccountSnapshot, source: str, *, at: str | None = None
    ) -> dict[str, Any]:
        """Insert or update an account; a change of status, handle, name or profile is
        appended to its status history (a leaf). Returns the current row."""
        if self.account_redacted(snap.platform, snap.account_id):
            raise RedactedError(f"{snap.platform} account {snap.account_id} was redacted: "
                                "`unerased unredact` it first (docs/redaction.md)")
        at = at or iso(snap.observed_at) or self.now
        profile_json = _dumps(dict(snap.profile))
        row = self.account_row(snap.platform, snap.account_id)
        if row is None:
            row = {
                "id": self.alloc(s.accounts),
                "platform": snap.platform,
                "account_id": snap.account_id,
                "handle": snap.handle,
                "display_name": snap.display_name,
                "url": snap.url,
                "status": str(snap.status),
                "profile_json": profile_json,
                "created_at": iso(snap.created_at),
                "first_seen": at,
                "last_seen": at,
                "watched": False,
                "watch_uri": None,
                "service": None,
                "tags_json": "{}",
                "next_check": None,
                "last_check": None,
                "check_error": None,
                "state_json": "{}",
                "claimed_by": None,
                "claimed_until": None,
                "state_version": 0,
                "proxy": None,
            }
            self._connection.execute(s.accounts.insert(), [row])  # needed by later lookups at once
            self._accounts[(snap.platform, snap.account_id)] = row
            self._stored_here[row["id"]] = set()
            self._status_row(row, source, at)
            return row
        changed = (
            row["status"] != str(snap.status)
            or (snap.handle is not None and row["handle"] != snap.handle)
            or (snap.display_name is not None and row["display_name"] != snap.display_name)
            or (bool(snap.profile) and row["profile_json"] != profile_json)
        )
        values: dict[str, Any] = {"last_seen": at}
        if changed:
            values.update(status=str(snap.status))
            if snap.handle is not None:
                values["handle"] = snap.handle
            if snap.display_name is not None:
                values["display_name"] = snap.display_name
            if snap.profile:
                values["profile_json"] = profile_json
            if snap.url:
                values["url"] = snap.url
        self.update_account(row["id"], **values)
        if changed:
            self._status_row(row, source, at)
        return row

    def update_account(self, account_pk: int, **values: Any) -> None:
        self._connection.execute(update(s.accounts).where(s.accounts.c.id == account_pk).values(**values))
        self._cached(account_pk, **values)

    # ---------------------------------------------------------------- checks (_claims.py)

    def check_state(
        self, account_pk: int
    ) -> tuple[dict[str, Any] | None, list[_claims.KnownPost]]:
        """The account's row and known posts as this transaction sees them (every
        earlier write committed: writers are serialised by the ledger lock)."""
        return _claims.check_state(self._connection, account_pk)

    def compare_and_set_state(self, account_pk: int, expected: int) -> bool:
        """Bump the account's ``state_version`` if it is still ``expected`` (what the
        check read); False when another check's result was stored since."""
        ok = _claims.compare_and_set_state(self._connection, account_pk, expected)
        if ok:
            self._cached(account_pk, state_version=expected + 1)
        return ok

    def release_claim(self, account_pk: int, collector: str) -> None:
        """Release ``collector``'s claim on the account (never another collector's)."""
        _claims.release_claim(self._connection, account_pk, collector)

    def _cached(self, account_pk: int, **values: Any) -> None:
        for row in self._accounts.values():
            if row["id"] == account_pk:
                row.update(values)

    def _status_row(self, account: Mapping[str, Any], source: str, at: str) -> None:
        row = {
            "id": self.alloc(s.account_status),
            "account_pk": account["id"],
            "at": at,
            "status": account["status"],
            "handle": account["handle"],
            "display_name": account["display_name"],
            "profile_json": account["profile_json"],
            "source": source,
        }
        self._add(s.account_status, row)
        self._leaf("account_status", row["id"], rec.account_status_record(row, account))

    # ---------------------------------------------------------------- posts

    def add_posts(
        self,
        account: Mapping[str, Any],
        snaps: Sequence[PostSnapshot],
        source: str,
        prepared: Sequence[Prepared] | None = None,
    ) -> list[PostResult]:
        """Record a batch of post snapshots of one account. A snapshot whose version key
        is known, or whose content equals the latest version, changes nothing (but
        refreshes ``last_seen``); otherwise it becomes a new version. ``prepared``, when
        given, is :func:`prepare` of each snapshot (``raw`` may then be None)."""
        snaps, prepared = self._keep_unredacted(account, snaps, prepared, source)
        ids = self._maybe_stored(account["id"], {sn.post_id for sn in snaps})
        if ids and self._pg:
            self._fresh_stats()
        known: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids, 500):
            for r in self._connection.execute(
                select(s.posts).where(
                    s.posts.c.account_pk == account["id"], s.posts.c.post_id.in_(chunk)
                )
            ).mappings():
                known[r["post_id"]] = dict(r)
        vers: dict[int, dict[str, Any]] = {}  # post_pk -> {"keys": set, "last_hash", "seq"}
        if known:
            pks = [p["id"] for p in known.values()]
            for chunk in _chunks(pks, 500):
                for vr in self._connection.execute(
                    select(
                        s.post_versions.c.post_pk, s.post_versions.c.seq,
                        s.post_versions.c.version_key, s.post_versions.c.content_hash,
                        s.post_versions.c.id,
                    ).where(s.post_versions.c.post_pk.in_(chunk)).order_by(
                        s.post_versions.c.post_pk, s.post_versions.c.seq
                    )
                ):
                    v = vers.setdefault(vr.post_pk, {"keys": set(), "last_hash": None, "seq": 0,
                                                     "pks": {}})
                    v["keys"].add(vr.version_key)
                    v["last_hash"] = vr.content_hash
                    v["seq"] = vr.seq
                    v["pks"][vr.version_key] = v["last_pk"] = vr.id
        out: list[PostResult] = []
        touched: dict[int, dict[str, Any]] = {}
        completing: list[tuple[int, PostSnapshot, Mapping[str, Any]]] = []
        for n, sn in enumerate(snaps):
            # prepared by the import's reader; else only what an unchanged post needs
            prep = prepared[n] if prepared is not None else None
            at = (prep.observed_at if prep else iso(sn.observed_at)) or self.now
            post = known.get(sn.post_id)
            chash = prep.content_hash if prep else sn.content_hash()
            vkey = sn.version_key or chash
            if post is None:
                post = {
                    "id": self.alloc(s.posts),
                    "account_pk": account["id"],
                    "platform": sn.platform,
                    "post_id": sn.post_id,
                    "url": sn.url,
                    "created_at": prep.created_at if prep else iso(sn.created_at),
                    "kind": sn.kind,
                    "reply_to": sn.reply_to,
                    "repost_of": sn.repost_of,
                    "quote_of": sn.quote_of,
                    "status": str(PostStatus.DELETED if sn.deleted else PostStatus.PRESENT),
                    "first_seen": at,
                    "last_seen": None if sn.deleted else at,
                    "first_missing": None,
                    "gone_count": 0,
                    "deleted_at": at if sn.deleted else None,
                    "deleted_reason": "user_deleted" if sn.deleted else None,
                    "n_versions": 1,  # its first version follows at once
                    "state_json": "{}",
                }
                self._add(s.posts, post)
                self._posts_added += 1
                known[sn.post_id] = post
                if (mine := self._stored_here.get(account["id"])) is not None:
                    mine.add(hash(sn.post_id))
                vers[post["id"]] = {"keys": set(), "last_hash": None, "seq": 0}
                is_new = True
            else:
                is_new = False
            v = vers[post["id"]]
            if vkey in v["keys"] or v["last_hash"] == chash:
                if not sn.deleted and sn.observed_at is not None:  # seen again, and when
                    touched.setdefault(post["id"], {})["last_seen"] = at
                out.append(PostResult(post["id"], is_new, None, v["seq"]))
                if "pks" in v and any(m.content is not None for m in sn.media):
                    vpk = v["pks"].get(vkey) or (v.get("last_pk") if v["last_hash"] == chash
                                                 else None)
                    if vpk is not None:  # a stored version: it may lack a media file
                        completing.append((vpk, sn, post))
                continue
            v["seq"] += 1
            v["keys"].add(vkey)
            v["last_hash"] = chash
            v["last_pk"] = None  # the latest version is this transaction's, not a stored one
            vpk = self._add_version(account, post, sn, v["seq"], vkey, source, at,
                                    prep or prepare(sn))
            if v["seq"] > 1:
                touched.setdefault(post["id"], {})["n_versions"] = v["seq"]
            out.append(PostResult(post["id"], is_new, vpk, v["seq"]))
        if touched:
            self._update_posts(touched)
        if completing:
            self._complete_media(account, completing, source)
        return out

    def _complete_media(
        self, account: Mapping[str, Any],
        completing: Sequence[tuple[int, PostSnapshot, Mapping[str, Any]]], source: str,
    ) -> None:
        """Attach media files that stored versions lack and these snapshots carry: each
        is an appended ``media_completions`` row with its own leaf; the media row of the
        earlier import stays as it was (append-only)."""
        vpks = list({vpk for vpk, _, _ in completing})
        missing: dict[tuple[int, int], dict[str, Any]] = {}
        for chunk in _chunks(vpks, 500):
            for r in self._connection.execute(
                select(s.media).where(s.media.c.version_pk.in_(chunk), s.media.c.sha256.is_(None))
            ).mappings():
                missing[(r["version_pk"], r["seq"])] = dict(r)
        if not missing:
            return
        done: set[int] = set()
        media_pks = [r["id"] for r in missing.values()]
        for chunk in _chunks(media_pks, 500):
            done.update(self._connection.execute(
                select(s.media_completions.c.media_pk)
                .where(s.media_completions.c.media_pk.in_(chunk))
            ).scalars())
        for vpk, sn, post in completing:
            for i, m in enumerate(sn.media, 1):
                row = missing.get((vpk, i))
                if (row is None or m.content is None or row["id"] in done
                        or (row["url"] or row["filename"]) != (m.url or m.filename)):
                    continue
                done.add(row["id"])
                crow = {
                    "id": self.alloc(s.media_completions), "media_pk": row["id"],
                    "version_pk": vpk, "seq": i, "filename": m.filename, "mime": m.mime,
                    "sha256": self.blobs.add(m.content), "size": len(m.content),
                    "at": self.now, "source": source,
                }
                self._add(s.media_completions, crow)
                self._leaf("media_completions", crow["id"],
                           rec.media_completion_record(crow, post, account))
                self.media_completed += 1

    def _update_posts(self, touched: dict[int, dict[str, Any]]) -> None:
        """Apply column updates to posts: to the row itself while its INSERT is still
        pending, else by UPDATEs issued after it."""
        pending = {r["id"]: r for r in self._pend["posts"].rows}
        by_cols: dict[tuple[str, ...], list[tuple[Any, ...]]] = defaultdict(list)
        for pk, values in touched.items():
            if pk in pending:
                pending[pk].update(values)
                continue
            cols = tuple(sorted(values))
            by_cols[cols].append((*(values[c] for c in cols), pk))
        mark = "?" if self._conn.dialect.paramstyle == "qmark" else "%s"
        for cols, params in by_cols.items():  # in order after the inserts, on the bulk thread
            sets = ", ".join(f"{c} = {mark}" for c in cols)
            self._insert_many(f"UPDATE posts SET {sets} WHERE id = {mark}", params)

    def _fresh_stats(self) -> None:
        """PostgreSQL: refresh the post tables' statistics before a lookup when many posts
        were added since they were computed (by this transaction, or by earlier ones on a
        server whose autovacuum is off or behind). Without them the planner reads all of
        an account's posts for every batch's lookup instead of using (account_pk,
        post_id), and a large import into an account that has posts turns quadratic.
        ANALYZE inside the transaction counts its own rows."""
        if self._mods_before is None:
            self._mods_before = int(self._connection.exec_driver_sql(
                "SELECT coalesce(max(n_mod_since_analyze), 0) FROM pg_stat_user_tables "
                "WHERE relid = 'posts'::regclass"
            ).scalar() or 0)
        if self._mods_before + self._posts_added >= _ANALYZE_AFTER:
            self._connection.exec_driver_sql("ANALYZE posts, post_versions")
            self._mods_before = self._posts_added = 0

    def _maybe_stored(self, account_pk: int, post_ids: set[str]) -> list[str]:
        """Which of these post ids may already be stored for the account: all of them,
        unless the account had no post when this transaction began; then only those
        this transaction stored (so importing into a new account never waits for the
        bulk inserts to read back; a hash collision costs a needless lookup)."""
        if account_pk not in self._stored_here:
            had_posts = self._connection.execute(
                select(s.posts.c.id).where(s.posts.c.account_pk == account_pk).limit(1)
            ).first()
            self._stored_here[account_pk] = None if had_posts else set()
        mine = self._stored_here[account_pk]
        if mine is None:
            return list(post_ids)
        if len(mine) > _MAX_TRACKED:  # bound memory: look everything up from now on
            self._stored_here[account_pk] = None
            return list(post_ids)
        return [p for p in post_ids if hash(p) in mine]

    def _add_version(
        self,
        account: Mapping[str, Any],
        post: Mapping[str, Any],
        sn: PostSnapshot,
        seq: int,
        vkey: str,
        source: str,
        at: str,
        prep: Prepared,
    ) -> int:
        vpk = self.alloc(s.post_versions)
        vrow = {
            "id": vpk,
            "post_pk": post["id"],
            "seq": seq,
            "version_key": vkey,
            "content_hash": prep.content_hash,
            "text": sn.text,
            "html": sn.html,
            "lang": sn.lang,
            "edited_at": prep.edited_at,
            "observed_at": at,
            "source": source,
            "raw_json": prep.raw_json,
        }
        mrows = []
        for i, m in enumerate(sn.media, 1):
            sha = size = None
            if m.content is not None:
                sha = self.blobs.add(m.content)
                size = len(m.content)
            mrows.append({
                "id": self.alloc(s.media), "version_pk": vpk, "seq": i, "url": m.url,
                "filename": m.filename, "mime": m.mime, "kind": m.kind, "alt": m.alt,
                "sha256": sha, "size": size,
            })
        self._add(s.post_versions, vrow)
        for mr in mrows:
            self._add(s.media, mr)
        if mrows:
            self._leaf("post_versions", vpk, rec.post_version_record(vrow, post, account, mrows))
        else:
            self._append_leaf("post_versions", vpk,
                              rec.post_version_json(vrow, post, account, prep.raw_sha256))
        if self._fts.add((vpk, prep.terms)):
            self._insert_many(self._fts.sql, self._fts.take())
        return vpk

    def update_post(self, post_pk: int, **values: Any) -> None:
        self._connection.execute(update(s.posts).where(s.posts.c.id == post_pk).values(**values))

    def post_pks(self, account_pk: int, post_ids: Iterable[str]) -> dict[str, int]:
        """The row numbers of an account's posts with these post ids (those stored, this
        transaction's included)."""
        conn = self._connection
        out: dict[str, int] = {}
        ids = sorted(post_ids)
        for i in range(0, len(ids), 500):
            for r in conn.execute(
                select(s.posts.c.id, s.posts.c.post_id).where(
                    s.posts.c.account_pk == account_pk,
                    s.posts.c.post_id.in_(ids[i : i + 500]),
                )
            ):
                out[r.post_id] = r.id
        return out

    # ---------------------------------------------------------------- captures, events

    def add_capture(self, cap: Capture, account_pk: int | None = None) -> str:
        cid = cap.id
        if cid in self._capture_ids or self._connection.execute(
            select(s.captures.c.id).where(s.captures.c.id == cid)
        ).first():
            return cid
        self._capture_ids.add(cid)
        self._capture_bodies[cid] = cap.body
        body_sha = self.blobs.add(cap.body)
        if cap.request_body:
            self.blobs.add(cap.request_body)
        r = cap.record()
        row = {
            "id": cid,
            "seq": self.alloc_capture_seq(),
            "account_pk": account_pk,
            "started_at": r["started_at"],
            "method": r["method"],
            "url": r["url"],
            "request_headers_json": _dumps(r["request_headers"]),
            "request_body_sha256": r["request_body_sha256"],
            "status": r["status"],
            "reason": r["reason"],
            "response_headers_json": _dumps(r["response_headers"]),
            "body_sha256": body_sha,
            "error": r["error"],
            "http_version": r["http_version"],
        }
        self._add(s.captures, row)
        self._leaf("captures", cid, rec.capture_leaf_record(row))
        return cid

    def alloc_capture_seq(self) -> int:
        if "captures" not in self._next_id:
            cur = self._connection.execute(select(func.max(s.captures.c.seq))).scalar()
            self._next_id["captures"] = max(int(cur or 0), self._id_floor("captures.seq")) + 1
        n = self._next_id["captures"]
        self._next_id["captures"] = n + 1
        return n

    def add_event(self, ev: Event, account_pk: int, post_pk: int | None = None) -> int:
        eid = self.alloc(s.events)
        row: dict[str, Any] = {
            "id": eid,
            "type": str(ev.type),
            "at": iso(ev.at),
            "platform": ev.platform,
            "account_pk": account_pk,
            "account": ev.account,
            "account_id": ev.account_id,
            "post_pk": post_pk,
            "post_id": ev.post_id,
            "detail_json": _dumps(dict(ev.detail)),
            "evidence_json": _dumps(list(ev.evidence)),
        }
        self._add(s.events, row)
        self._leaf("events", eid, rec.event_record(row))
        return eid

    def add_import(
        self, kind: str, filename: str, sha256: str, size: int, account_pk: int | None,
        counts: Mapping[str, int],
    ) -> int:
        iid = self.alloc(s.imports)
        row: dict[str, Any] = {
            "id": iid, "at": self.now, "kind": kind, "filename": filename,
            "sha256": sha256, "size": size, "account_pk": account_pk,
            "counts_json": _dumps(dict(counts)),
        }
        self._add(s.imports, row)
        self._leaf("imports", iid, rec.import_record(row))
        return iid


class _Pending:
    """Rows waiting for one INSERT statement. They go out in chunks of ``ROWS`` (one
    multi-row statement each, see _bulk.execute_rows), so the statement text repeats
    and the bulk thread takes the GIL once per chunk, not once per row."""

    ROWS = 512
    __slots__ = ("sql", "convert", "rows")

    def __init__(self, sql: str, convert: Callable[[Any], tuple[Any, ...]] | None = None
                 ) -> None:
        self.sql, self.convert = sql, convert
        self.rows: list[Any] = []

    def add(self, row: Any) -> bool:
        """Queue a row; True when a full chunk is ready (then call :meth:`take`)."""
        self.rows.append(row)
        return len(self.rows) >= self.ROWS

    def extend(self, rows: Iterable[Any]) -> bool:
        self.rows.extend(rows)
        return len(self.rows) >= self.ROWS

    def take(self, *, everything: bool = False) -> list[Any]:
        if everything or len(self.rows) == self.ROWS:
            out, self.rows = self.rows, []
        else:
            out, self.rows = self.rows[: self.ROWS], self.rows[self.ROWS :]
        return out if self.convert is None else list(map(self.convert, out))


_INSERT_SQL: dict[tuple[str, str], tuple[str, Callable[[dict[str, Any]], tuple[Any, ...]]]] = {}


def _insert_sql(
    conn: Connection, t: Table
) -> tuple[str, Callable[[dict[str, Any]], tuple[Any, ...]]]:
    """INSERT text in the driver's own parameter style, and a C-speed row → tuple getter."""
    key = (conn.dialect.name, t.name)
    if key not in _INSERT_SQL:
        cols = tuple(c.name for c in t.columns)
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        sql = f"INSERT INTO {t.name} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"
        _INSERT_SQL[key] = (sql, operator.itemgetter(*cols))
    return _INSERT_SQL[key]


def _sqlite_file(conn: Connection) -> bool:
    db = conn.engine.url.database or ""
    return db not in ("", ":memory:") and "mode=memory" not in str(conn.engine.url)


def _chunks(items: Sequence[Any], n: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
