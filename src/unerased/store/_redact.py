"""Redaction: removing a post's or an account's content while the ledger stays verifiable.

docs/redaction.md states the rule. In one write transaction :meth:`RedactWrites.redact`
deletes the rows that hold the content (post versions, their media rows and media
completions, the post rows, the events about them, an account's status history and its
row), every raw capture that holds it (those the rows name as their source or evidence,
an account's own captures, the captures whose body is one of the media files, and every
capture whose body contains one of the texts), their full-text terms and alert payloads,
wipes the salts of their leaves (the salted leaf hashes stay, so the tree and every
checkpoint stay valid, and a guessed text can no longer be confirmed against a hash),
remembers the post or account in ``redacted_ids`` (a later import or poll does not bring
it back) and appends a ``redactions`` row with its own leaf (record kind ``redaction``:
which leaves and captures, when and why — never the content).

Files and free pages are not transactional: the blobs no kept row names any more are
removed after the commit (:meth:`RedactQueries.remove_blobs`), and then the database's
free pages are scrubbed (:meth:`RedactQueries.scrub`: SQLite ``secure_delete`` during
the deletes, then a WAL checkpoint and ``VACUUM``; PostgreSQL ``VACUUM FULL`` of the
tables touched).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, or_, select, update

from ..errors import BlobError, StoreError, UnerasedError
from ..ledger import records as rec
from ..refs import account_matches, post_matches
from ..text.tokenize import index_terms
from . import _schema as s

if TYPE_CHECKING:
    from sqlalchemy import Engine, Table

    from ._blobs import BlobStore
    from ._writer import Writer

__all__ = ["RedactQueries", "RedactWrites", "RedactedError", "Redaction"]

_CHUNK = 500
_MIN_NEEDLE = 4  # shorter texts are not searched for in capture bodies (too common)
_SUBSTRING_MAX = 500  # more needles than this (an account): JSON strings compared whole
_JSON_STRING = re.compile(rb'"((?:[^"\\]|\\.)*)"')
_SCRUB_TABLES = ("posts", "post_versions", "media", "media_completions", "events",
                 "account_status", "accounts", "captures", "post_fts", "ledger_leaves",
                 "alert_outbox")


class RedactedError(StoreError):
    """A redacted account cannot be stored again without ``unerased unredact``."""


@dataclass
class Redaction:
    """What one redaction removed (``unerased redact --json`` prints :meth:`to_json`)."""

    id: int
    target: str
    reason: str
    at: str
    leaves: list[int]
    captures: list[str]
    posts: int = 0
    versions: int = 0
    blobs: set[str] = field(default_factory=set)  # candidates: removed if no kept row names them
    blobs_removed: int = 0
    unredact: list[str] = field(default_factory=list)  # what `unerased unredact` takes

    def to_json(self) -> dict[str, Any]:
        return {"redaction": self.id, "target": self.target, "reason": self.reason,
                "at": self.at, "leaves": len(self.leaves), "captures": len(self.captures),
                "posts": self.posts, "versions": self.versions,
                "blobs_removed": self.blobs_removed, "unredact": list(self.unredact)}


def _chunks(items: Sequence[Any], n: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _in(conn: Connection, table: Table, col: str, keys: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for chunk in _chunks(list(keys)):
        out += [dict(r) for r in conn.execute(
            select(table).where(table.c[col].in_(chunk))).mappings()]
    return out


def _delete_in(conn: Connection, table: Table, col: str, keys: Iterable[Any]) -> None:
    for chunk in _chunks(list(keys)):
        conn.execute(delete(table).where(table.c[col].in_(chunk)))


def _str_list(text: str | None) -> list[str]:
    try:
        v = json.loads(text or "null")
    except ValueError:
        return []
    return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []


def _state_captures(state_json: str | None) -> list[str]:
    try:
        v = json.loads(state_json or "{}")
    except ValueError:
        return []
    if not isinstance(v, dict):
        return []
    return [x for k in ("seen_evidence", "evidence") if isinstance(v.get(k), list)
            for x in v[k] if isinstance(x, str)]


def needles(texts: Iterable[str | None]) -> set[bytes]:
    """The byte strings a capture body holding one of ``texts`` contains: the text as
    UTF-8, as JSON escapes it (ASCII-only or not), and HTML-escaped (feeds)."""
    out: set[bytes] = set()
    for t in texts:
        if t is None or len(t.strip()) < _MIN_NEEDLE:
            continue
        for form in (t, json.dumps(t)[1:-1], json.dumps(t, ensure_ascii=False)[1:-1],
                     html.escape(t, quote=False)):
            out.add(form.encode("utf-8", "surrogatepass"))
    return out


def _holds(body: bytes, words: set[bytes]) -> bool:
    """Whether ``body`` holds one of ``words``: as a substring, or — past
    ``_SUBSTRING_MAX`` words (an account's texts), where that costs too much — as a whole
    JSON string of the body (a platform's answer gives a post's text as one string)."""
    if len(words) <= _SUBSTRING_MAX:
        return any(w in body for w in words)
    return any(m in words for m in _JSON_STRING.findall(body))


def _sources(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    return [r["source"][8:] for r in rows if str(r["source"] or "").startswith("capture:")]


class RedactWrites:
    """The :class:`~unerased.store.Writer`'s redaction (see the module docstring) and
    the filter that keeps redacted posts and accounts out of later writes."""

    # provided by Writer
    now: str
    store: Any
    _capture_ids: set[str]
    redactions_done: list[Redaction]

    @property
    def _connection(self) -> Connection:
        raise NotImplementedError

    def alloc(self, table: Table) -> int:
        raise NotImplementedError

    def _leaf(self, kind: str, ref: str | int, record: Mapping[str, Any]) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- row ids

    def _id_floor(self, name: str) -> int:
        """The largest id (``captures.seq``: seq) a redaction removed from table ``name``:
        ids are never given again, as leaves and other rows named the removed ones."""
        v = self._connection.execute(
            select(s.meta.c.value).where(s.meta.c.key == f"id_floor:{name}")).scalar()
        return int(v) if v is not None else 0

    def _raise_floors(self, removed: Mapping[str, Iterable[int]]) -> None:
        for name, ids in removed.items():
            top = max(ids, default=0)
            if top > self._id_floor(name):
                key = f"id_floor:{name}"
                self._connection.execute(delete(s.meta).where(s.meta.c.key == key))
                self._connection.execute(s.meta.insert().values(key=key, value=str(top)))

    # ---------------------------------------------------------------- the filter

    def _redacted_of(self, platform: str, account_id: str) -> frozenset[str | None]:
        """The post ids of the account kept out (None in the set: the whole account)."""
        cache: dict[tuple[str, str], frozenset[str | None]] = self.__dict__.setdefault(
            "_redacted_cache", {})
        key = (platform, account_id)
        if key not in cache:
            r = s.redacted_ids.c
            cache[key] = frozenset(self._connection.execute(
                select(r.post_id).where(r.platform == platform, r.account_id == account_id,
                                        r.lifted_at.is_(None))).scalars())
        return cache[key]

    def account_redacted(self, platform: str, account_id: str) -> bool:
        """True when the account was redacted (and not lifted by ``unredact``)."""
        return None in self._redacted_of(platform, account_id)

    @property
    def redacted_seen(self) -> list[str]:
        """Post ids of redacted posts this transaction was given and did not store."""
        seen: list[str] = self.__dict__.setdefault("_redacted_seen", [])
        return seen

    def _keep_unredacted(self, account: Mapping[str, Any], snaps: Sequence[Any],
                         prepared: Sequence[Any] | None, source: str
                         ) -> tuple[Sequence[Any], Sequence[Any] | None]:
        """The snapshots whose post is not redacted (and their prepared forms). Each one
        left out is counted in :attr:`redacted_seen`; the capture it came from, when this
        transaction stored it, is redacted at :meth:`_redact_recaptured`."""
        gone = self._redacted_of(account["platform"], account["account_id"])
        if not gone:
            return snaps, prepared
        if None not in gone and gone.isdisjoint([sn.post_id for sn in snaps]):
            return snaps, prepared
        keep = [i for i, sn in enumerate(snaps) if None not in gone and sn.post_id not in gone]
        src: set[str] = self.__dict__.setdefault("_recaptured", set())
        words: set[bytes] = self.__dict__.setdefault("_recaptured_words", set())
        kept = set(keep)
        for i, sn in enumerate(snaps):
            if i in kept:
                continue
            self.redacted_seen.append(sn.post_id)
            if source.startswith("capture:") and source[8:] in self._capture_ids:
                src.add(source[8:])
            words |= needles([sn.text, sn.html])
        return ([snaps[i] for i in keep],
                None if prepared is None else [prepared[i] for i in keep])

    def _redact_recaptured(self, bodies: Mapping[str, bytes]) -> Redaction | None:
        """A redacted post came back in a capture this transaction stored (a poll's
        listing): that capture, and every other of this transaction's captures whose
        body holds the post's text, is redacted at once, with its own redaction record."""
        found: set[str] = set(self.__dict__.pop("_recaptured", ()))
        words: set[bytes] = self.__dict__.pop("_recaptured_words", set())
        found |= {cid for cid, body in bodies.items() if _holds(body, words)}
        if not found:
            return None
        return self._apply(target="recapture", reason="a redacted post was seen again",
                           versions=[], media=[], completions=[], events=[], statuses=[],
                           captures=sorted(found), posts=[], account=None, post_ids=[])

    def lift(self, ids: Sequence[int], reason: str, at: str) -> None:
        """``unredact``: these ``redacted_ids`` rows no longer keep their post or account
        out of the archive (the rows stay, with the time and reason of the decision)."""
        r = s.redacted_ids.c
        self._connection.execute(update(s.redacted_ids).where(r.id.in_(list(ids)))
                                 .values(lifted_at=at, lifted_reason=reason))
        self.__dict__.pop("_redacted_cache", None)

    # ---------------------------------------------------------------- redact

    def redact(self, *, reason: str, account_pk: int, post_pk: int | None = None) -> Redaction:
        """Redact one post (``post_pk``) or a whole account (``post_pk`` None) in this
        transaction (module docstring). The blobs it frees are in ``Redaction.blobs``."""
        conn = self._connection
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA secure_delete=ON")
        found = conn.execute(select(s.accounts).where(s.accounts.c.id == account_pk)
                             ).mappings().first()
        if found is None:
            raise StoreError(f"account row:{account_pk} is not in the archive")
        acc: dict[str, Any] = dict(found)
        p = s.posts.c
        q = select(s.posts).where(p.account_pk == account_pk)
        if post_pk is not None:
            q = q.where(p.id == post_pk)
        posts = [dict(r) for r in conn.execute(q).mappings()]
        if post_pk is not None and not posts:
            raise StoreError(f"post row:{post_pk} of account row:{account_pk} is not in the "
                             "archive")
        post_ids = [r["post_id"] for r in posts]
        versions = _in(conn, s.post_versions, "post_pk", [r["id"] for r in posts])
        vpks = [v["id"] for v in versions]
        media = _in(conn, s.media, "version_pk", vpks)
        completions = _in(conn, s.media_completions, "version_pk", vpks)
        e = s.events.c
        if post_pk is None:
            events = [dict(r) for r in conn.execute(
                select(s.events).where(e.account_pk == account_pk)).mappings()]
            statuses = [dict(r) for r in conn.execute(select(s.account_status).where(
                s.account_status.c.account_pk == account_pk)).mappings()]
        else:
            events = [dict(r) for r in conn.execute(select(s.events).where(
                e.account_pk == account_pk,
                or_(e.post_pk == post_pk, e.post_id.in_(post_ids)))).mappings()]
            statuses = []
        linked = _sources(versions) + _sources(completions) + _sources(statuses)
        linked += [c for ev in events for c in _str_list(ev["evidence_json"])]
        linked += [c for r in posts for c in _state_captures(r["state_json"])]
        digests = {m["sha256"] for m in media if m["sha256"]}
        digests |= {c["sha256"] for c in completions}
        c = s.captures.c
        if post_pk is None:
            linked += list(conn.execute(select(c.id).where(c.account_pk == account_pk)).scalars())
        if digests:  # a media file fetched by a capture: its body is the content
            for chunk in _chunks(sorted(digests)):
                linked += list(conn.execute(select(c.id).where(c.body_sha256.in_(chunk))).scalars())
        words = needles([t for v in versions for t in (v["text"], v["html"])])
        captures = set(linked) | set(self._captures_holding(words, set(linked)))
        done = self._apply(target="post" if post_pk is not None else "account", reason=reason,
                           versions=versions, media=media, completions=completions,
                           events=events, statuses=statuses, captures=sorted(captures),
                           posts=posts, account=acc, post_ids=post_ids)
        self.redactions_done.append(done)
        return done

    def _captures_holding(self, words: set[bytes], skip: set[str]) -> Iterator[str]:
        """Ids of stored captures whose body contains one of ``words``."""
        if not words:
            return
        blobs: BlobStore = self.store.blobs
        c = s.captures.c
        last = -1
        while True:
            rows = self._connection.execute(
                select(c.seq, c.id, c.body_sha256).where(c.seq > last).order_by(c.seq)
                .limit(_CHUNK)).all()
            if not rows:
                return
            for seq, cid, body_sha in rows:
                last = int(seq)
                if cid in skip:
                    continue
                try:
                    body = blobs.read(str(body_sha))
                except BlobError:
                    continue
                if _holds(body, words):
                    yield str(cid)

    def _apply(self, *, target: str, reason: str, versions: Sequence[Mapping[str, Any]],
               media: Sequence[Mapping[str, Any]], completions: Sequence[Mapping[str, Any]],
               events: Sequence[Mapping[str, Any]], statuses: Sequence[Mapping[str, Any]],
               captures: Sequence[str], posts: Sequence[Mapping[str, Any]],
               account: Mapping[str, Any] | None, post_ids: Sequence[str]) -> Redaction:
        conn = self._connection
        stored_caps = _in(conn, s.captures, "id", list(captures))
        refs = ([("post_versions", str(v["id"])) for v in versions]
                + [("media_completions", str(m["id"])) for m in completions]
                + [("events", str(ev["id"])) for ev in events]
                + [("account_status", str(st["id"])) for st in statuses]
                + [("captures", str(cp["id"])) for cp in stored_caps])
        leaves = sorted(self._leaf_indices(refs))
        blobs = {m["sha256"] for m in media if m["sha256"]} | {m["sha256"] for m in completions}
        blobs |= {cp["body_sha256"] for cp in stored_caps}
        blobs |= {cp["request_body_sha256"] for cp in stored_caps}
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA secure_delete=ON")
            for v in versions:  # contentless FTS5: a row is deleted given its very terms
                conn.exec_driver_sql(
                    "INSERT INTO post_fts (post_fts, rowid, terms) VALUES ('delete', ?, ?)",
                    (v["id"], index_terms(v["text"])))
            if versions:  # merge the segments: the deleted rows' terms leave the index
                conn.exec_driver_sql("INSERT INTO post_fts (post_fts) VALUES ('optimize')")
        else:
            for chunk in _chunks([v["id"] for v in versions]):
                conn.exec_driver_sql("DELETE FROM post_fts WHERE version_pk = ANY(%(v)s)",
                                     {"v": list(chunk)})
        _delete_in(conn, s.media, "id", [m["id"] for m in media])
        _delete_in(conn, s.media_completions, "id", [m["id"] for m in completions])
        _delete_in(conn, s.post_versions, "id", [v["id"] for v in versions])
        _delete_in(conn, s.events, "id", [ev["id"] for ev in events])
        _delete_in(conn, s.account_status, "id", [st["id"] for st in statuses])
        _delete_in(conn, s.captures, "id", [cp["id"] for cp in stored_caps])
        _delete_in(conn, s.posts, "id", [r["id"] for r in posts])
        self._raise_floors({
            "media": [m["id"] for m in media], "media_completions": [m["id"] for m in completions],
            "post_versions": [v["id"] for v in versions], "events": [ev["id"] for ev in events],
            "account_status": [st["id"] for st in statuses], "posts": [r["id"] for r in posts],
            "captures.seq": [int(cp["seq"]) for cp in stored_caps],
            "accounts": [int(account["id"])] if account is not None and target == "account"
            else []})
        self._drop_alerts(account, post_ids, target)
        for chunk in _chunks(leaves):
            conn.execute(update(s.ledger_leaves).where(s.ledger_leaves.c.idx.in_(chunk))
                         .values(salt=b""))
        rid = self.alloc(s.redactions)
        cap_ids = sorted(str(cp["id"]) for cp in stored_caps)
        row: dict[str, Any] = {"id": rid, "at": self.now, "reason": reason, "target": target,
                               "leaves_json": json.dumps(leaves),
                               "captures_json": json.dumps(cap_ids)}
        conn.execute(s.redactions.insert(), [row])
        self._leaf("redactions", rid, rec.redaction_record(row))
        if account is not None:
            keys = [None] if target == "account" else list(post_ids)
            conn.execute(s.redacted_ids.insert(), [
                {"id": self.alloc(s.redacted_ids), "redaction_pk": rid,
                 "platform": account["platform"], "account_id": account["account_id"],
                 "post_id": k, "lifted_at": None, "lifted_reason": None} for k in keys])
            if target == "account":
                conn.execute(delete(s.accounts).where(s.accounts.c.id == account["id"]))
            self.__dict__.pop("_redacted_cache", None)
        done = Redaction(rid, target, reason, self.now, leaves, cap_ids, len(posts),
                         len(versions), blobs)
        if account is not None:
            done.unredact = ([f"{account['platform']}:{account['account_id']}"]
                             if target == "account" else list(post_ids))
        return done

    def _leaf_indices(self, refs: Sequence[tuple[str, str]]) -> list[int]:
        lc = s.ledger_leaves.c
        by_kind: dict[str, list[str]] = {}
        for kind, ref in refs:
            by_kind.setdefault(kind, []).append(ref)
        out: list[int] = []
        for kind, krefs in by_kind.items():
            for chunk in _chunks(krefs):
                out += [int(i) for i in self._connection.execute(
                    select(lc.idx).where(lc.kind == kind, lc.ref.in_(chunk))).scalars()]
        return out

    def _drop_alerts(self, account: Mapping[str, Any] | None, post_ids: Sequence[str],
                     target: str) -> None:
        """Alerts not yet delivered, or kept after delivery, carry event JSON (a post's
        text in an edit's detail): those about the redacted post or account go."""
        if account is None:
            return
        field_ = "account_id" if target == "account" else "post_id"
        values = [account["account_id"]] if target == "account" else list(post_ids)
        marks = {f'"{field_}":{sep}{json.dumps(v, ensure_ascii=asc)}'
                 for v in values for sep in ("", " ") for asc in (True, False)}
        if not marks:
            return
        o = s.alert_outbox.c
        doomed = [int(r.id) for r in self._connection.execute(select(o.id, o.payload))
                  if any(m in r.payload for m in marks)]
        _delete_in(self._connection, s.alert_outbox, "id", doomed)


class RedactQueries:
    """The :class:`~unerased.store.Store`'s side of redaction: what is redacted, lifting
    it (``unredact``), and the cleaning that follows the transaction."""

    engine: Engine
    blobs: BlobStore

    def reader(self) -> AbstractContextManager[Connection]:  # provided by Store
        raise NotImplementedError

    def writer(self) -> AbstractContextManager[Writer]:  # provided by Store
        raise NotImplementedError

    def redacted_matching(self, ref: str, *, lifted: bool = False) -> list[dict[str, Any]]:
        """The ``redacted_ids`` rows (with their redaction's time and reason) that ``ref``
        names: a post by its id (or an at:// URI's suffix) or an account by its
        platform id (``platform:ID`` or the bare id). ``lifted``: those lifted too."""
        want_posts = [m for m in post_matches(ref) if m.post_id or m.post_id_suffix]
        try:
            want_accounts = [m for m in account_matches(ref) if m.account_id or m.handle]
        except UnerasedError:
            want_accounts = []
        r, d = s.redacted_ids.c, s.redactions.c
        q = select(s.redacted_ids, d.at, d.reason).join(s.redactions, d.id == r.redaction_pk)
        if not lifted:
            q = q.where(r.lifted_at.is_(None))
        out = []
        with self.reader() as conn:
            for row in conn.execute(q.order_by(r.id)).mappings():
                pid = row["post_id"]
                hit = pid is not None and any(
                    (m.platform in (None, row["platform"]))
                    and (m.post_id == pid or (m.post_id_suffix and pid.endswith(m.post_id_suffix)))
                    for m in want_posts)
                hit = hit or (pid is None and any(
                    m.platform in (None, row["platform"])
                    and row["account_id"] in (m.account_id, m.handle) for m in want_accounts))
                if hit:
                    out.append(dict(row))
        return out

    def redact(self, *, reason: str, account_pk: int, post_pk: int | None = None,
               scrub: bool = True) -> Redaction:
        """Redact a post or an account (:meth:`RedactWrites.redact`), remove the blobs it
        freed, then (``scrub``) the database's free pages."""
        with self.writer() as w:
            done = w.redact(reason=reason, account_pk=account_pk, post_pk=post_pk)
        if scrub:
            self.scrub()
        return done

    def lift_redaction(self, ids: Sequence[int], reason: str, at: str) -> None:
        """``unredact``: allow archiving these redacted posts or accounts again."""
        with self.writer() as w:
            w.lift(ids, reason, at)

    def remove_blobs(self, digests: Iterable[str]) -> int:
        """Remove the blobs among ``digests`` that no row names, under the write lock (no
        writer can name one meanwhile); returns how many files were removed."""
        removed = 0
        with self.writer() as w:
            conn = w._connection
            want = sorted({d for d in digests if d})
            named: set[str] = set()
            for chunk in _chunks(want):
                for col in (s.media.c.sha256, s.media_completions.c.sha256,
                            s.captures.c.body_sha256, s.captures.c.request_body_sha256):
                    named |= set(conn.execute(select(col).where(col.in_(chunk))).scalars())
            for dg in want:
                if dg in named:
                    continue
                try:
                    path = self.blobs.path(dg)
                    path.unlink()
                    removed += 1
                except (BlobError, FileNotFoundError):
                    continue
                except OSError as e:
                    raise BlobError(f"cannot remove blob {dg}: {e.strerror}") from None
        return removed

    def scrub(self) -> None:
        """Leave no removed content in the database's free pages: SQLite checkpoints its
        WAL, ``VACUUM``s the file and truncates the WAL; PostgreSQL rewrites the tables a
        redaction touches (``VACUUM FULL``; the server's WAL and backups are its
        operator's, docs/redaction.md)."""
        sqlite = self.engine.dialect.name == "sqlite"
        try:  # outside any transaction: the driver's own connection, autocommit
            raw = self.engine.raw_connection()
            try:
                if not sqlite:
                    raw.driver_connection.autocommit = True  # type: ignore[union-attr]
                cur = raw.cursor()
                if sqlite:
                    for sql in ("PRAGMA secure_delete=ON", "PRAGMA wal_checkpoint(TRUNCATE)",
                                "VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"):
                        cur.execute(sql)
                else:
                    cur.execute(f"VACUUM FULL {', '.join(_SCRUB_TABLES)}")
                cur.close()
            finally:
                if not sqlite:
                    raw.driver_connection.autocommit = False  # type: ignore[union-attr]
                raw.close()
        except Exception as e:  # noqa: BLE001 - the driver's, named in one line
            from ._engine import driver_detail

            raise StoreError(f"the redaction is committed, but the database could not be "
                             f"vacuumed (docs/redaction.md says how to do it by hand): "
                             f"{driver_detail(e)}") from None

    def redaction_count(self) -> int:
        with self.reader() as conn:
            return int(conn.execute(select(func.count()).select_from(s.redactions)).scalar_one())
