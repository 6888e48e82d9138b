"""The SQL schema (SQLAlchemy Core). Runs on SQLite and PostgreSQL.

Ids are allocated by the writer under the ledger lock (see ``_writer.py``), so every row
id is known before insert and batches need no RETURNING round-trips. Rows covered by
the ledger (``LEAFED``) are never updated after insert except for columns listed in
``MUTABLE`` — those hold the *current* state, whose history lives in leafed rows.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)

metadata = MetaData()

# Integer primary keys: BIGINT on PostgreSQL; on SQLite exactly "INTEGER PRIMARY KEY", the
# alias of the rowid (a BIGINT key there is a second B-tree that every insert maintains).
ID = BigInteger().with_variant(Integer(), "sqlite")

# Timestamps are stored as ISO 8601 UTC text ("2026-11-26T14:32:24.123456Z"): identical on
# both backends, sortable, and exactly what goes into ledger records.
TS = String(32)

accounts = Table(
    "accounts",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("platform", String(16), nullable=False),
    Column("account_id", String(512), nullable=False),
    Column("handle", String(512)),
    Column("display_name", Text),
    Column("url", Text),
    Column("status", String(16), nullable=False),
    Column("profile_json", Text, nullable=False, default="{}"),
    Column("created_at", TS),
    Column("first_seen", TS, nullable=False),
    Column("last_seen", TS, nullable=False),
    # watching
    Column("watched", Boolean, nullable=False, default=False),
    Column("watch_uri", Text),
    Column("service", Text),
    Column("tags_json", Text, nullable=False, default="{}"),
    Column("next_check", TS),
    Column("last_check", TS),
    Column("check_error", Text),
    Column("state_json", Text, nullable=False, default="{}"),  # detector's extra state
    # collecting (migration 0004; see _claims.py): the lease of the collector checking
    # the account, the version its stored checks bump (compare-and-set), its own proxy
    Column("claimed_by", String(128)),
    Column("claimed_until", TS),
    Column("state_version", BigInteger, nullable=False, default=0, server_default="0"),
    Column("proxy", Text),
    # the adaptive schedule's per-account state, JSON (migration 0005)
    Column("schedule_json", Text),
    UniqueConstraint("platform", "account_id", name="uq_accounts_platform_account"),
    Index("ix_accounts_watched_next", "watched", "next_check"),
)

account_status = Table(  # leafed: the status history of an account
    "account_status",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("account_pk", BigInteger, nullable=False),
    Column("at", TS, nullable=False),
    Column("status", String(16), nullable=False),
    Column("handle", String(512)),
    Column("display_name", Text),
    Column("profile_json", Text, nullable=False),
    Column("source", Text, nullable=False),  # "import:<sha256>" or "capture:<id>"
    Index("ix_account_status_account", "account_pk", "id"),
)

posts = Table(
    "posts",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("account_pk", BigInteger, nullable=False),
    Column("platform", String(16), nullable=False),
    Column("post_id", String(512), nullable=False),
    Column("url", Text),
    Column("created_at", TS),
    Column("kind", String(16), nullable=False),
    Column("reply_to", String(512)),
    Column("repost_of", String(512)),
    Column("quote_of", String(512)),
    # current state (history: post_versions and events)
    Column("status", String(16), nullable=False),
    Column("first_seen", TS, nullable=False),
    Column("last_seen", TS),
    Column("first_missing", TS),
    Column("gone_count", Integer, nullable=False, default=0),
    Column("deleted_at", TS),
    Column("deleted_reason", String(32)),
    Column("n_versions", Integer, nullable=False, default=1),
    Column("state_json", Text, nullable=False, default="{}"),
    UniqueConstraint("account_pk", "post_id", name="uq_posts_account_post"),
    Index("ix_posts_post_id", "post_id"),
    Index("ix_posts_account_created", "account_pk", "created_at"),
)

post_versions = Table(  # leafed
    "post_versions",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("post_pk", BigInteger, nullable=False),
    Column("seq", Integer, nullable=False),  # 1, 2, … in the order we learnt them
    Column("version_key", String(512), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("html", Text),
    Column("lang", String(32)),
    Column("edited_at", TS),
    Column("observed_at", TS, nullable=False),
    Column("source", Text, nullable=False),
    Column("raw_json", Text),
    # in migration 0001's order: SQLite numbers their indexes (sqlite_autoindex_…_1, _2)
    # in this order, and a new archive's schema is made from this table (_fresh.py)
    UniqueConstraint("post_pk", "seq", name="uq_versions_post_seq"),
    UniqueConstraint("post_pk", "version_key", name="uq_versions_post_key"),
)

media = Table(  # covered by the leaf of its version
    "media",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("version_pk", BigInteger, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("url", Text),
    Column("filename", Text),
    Column("mime", String(128)),
    Column("kind", String(16)),
    Column("alt", Text),
    Column("sha256", String(64)),  # None while not fetched
    Column("size", BigInteger),
    Index("ix_media_version", "version_pk"),
)

media_completions = Table(  # leafed: a media file a later import brought for a stored version
    "media_completions",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("media_pk", BigInteger, nullable=False),  # the media row it completes (unchanged)
    Column("version_pk", BigInteger, nullable=False),
    Column("seq", Integer, nullable=False),  # the media row's seq in its version
    Column("filename", Text),
    Column("mime", String(128)),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("at", TS, nullable=False),
    Column("source", Text, nullable=False),  # "import:<sha256>"
    Index("ix_media_completions_media", "media_pk"),
    Index("ix_media_completions_version", "version_pk"),
)

captures = Table(  # leafed; id is the sha256 of the canonical capture record
    "captures",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False, unique=True),
    Column("account_pk", BigInteger),
    Column("started_at", TS, nullable=False),
    Column("method", String(16), nullable=False),
    Column("url", Text, nullable=False),
    Column("request_headers_json", Text, nullable=False),
    Column("request_body_sha256", String(64), nullable=False),
    Column("status", Integer),
    Column("reason", Text),
    Column("response_headers_json", Text, nullable=False),
    Column("body_sha256", String(64), nullable=False),
    Column("error", Text),
    Column("http_version", String(16), nullable=False),
    Index("ix_captures_account", "account_pk", "seq"),
)

imports = Table(  # leafed: one row per archive import
    "imports",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("at", TS, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("filename", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("account_pk", BigInteger),
    Column("counts_json", Text, nullable=False),
)

events = Table(  # leafed
    "events",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=False),
    Column("type", String(32), nullable=False),
    Column("at", TS, nullable=False),
    Column("platform", String(16), nullable=False),
    Column("account_pk", BigInteger, nullable=False),
    Column("account", String(512)),
    Column("account_id", String(512), nullable=False),
    Column("post_pk", BigInteger),
    Column("post_id", String(512)),
    Column("detail_json", Text, nullable=False),
    Column("evidence_json", Text, nullable=False),
    Index("ix_events_at", "at"),
    Index("ix_events_type_at", "type", "at"),
)

# --- ledger (RFC 9162 Merkle log) ---

ledger_leaves = Table(
    "ledger_leaves",
    metadata,
    Column("idx", ID, primary_key=True, autoincrement=False),
    Column("kind", String(32), nullable=False),  # table name of the covered row
    Column("ref", String(64), nullable=False),  # its id
    Column("salt", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary, nullable=False),
    Index("ix_ledger_leaves_ref", "kind", "ref"),
)

# perfect subtrees of level >= 1: hash of leaves [idx*2^level, (idx+1)*2^level); level 0
# (a leaf's hash) is ledger_leaves.leaf_hash, kept once (migration 0002)
ledger_nodes = Table(
    "ledger_nodes",
    metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", ID, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
    sqlite_with_rowid=False,  # one B-tree keyed by (level, idx)
)

ledger_head = Table(  # one row; locked by every writer (serialises appends on PostgreSQL)
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", ID, primary_key=True, autoincrement=False),
    Column("root", LargeBinary, nullable=False),
    Column("at", TS, nullable=False),
    Column("note", Text, nullable=False),  # the signed note, as published
    Column("timestamp_der", LargeBinary),  # optional RFC 3161 token over the note
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# --- alerts and the collector's state (migration 0005; see _alerts.py, _state.py) ---

alert_rules = Table(  # who is told of what: `unerased alert add`
    "alert_rules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("target", Text, nullable=False),  # https://… or mailto:…
    Column("on_types", Text),  # JSON list of event/alert kinds; None: the default
    Column("tag_key", Text),
    Column("tag_value", Text),
    Column("min_posts", Integer),
    Column("within_s", Integer),
    Column("silent_days", Integer),
    Column("secret", Text, nullable=False),  # hex HMAC-SHA256 key
    Column("created_at", TS, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=true()),
    # ids never reused (SQLite AUTOINCREMENT; a PostgreSQL sequence never goes back): a
    # rule's id is part of its alerts' delivery ids and of its outbox rows
    sqlite_autoincrement=True,
)

alert_outbox = Table(  # every alert to deliver, until delivered or failed
    "alert_outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("delivery_id", String(128), nullable=False, unique=True),
    Column("rule_id", Integer),
    Column("kind", String(32), nullable=False),
    Column("payload", Text, nullable=False),  # JSON, as sent
    Column("state", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt", TS),  # a pending delivery's due time, or its claim's end
    Column("last_error", Text),
    Column("created_at", TS, nullable=False),
    Column("delivered_at", TS),
    Index("ix_alert_outbox_due", "state", "next_attempt"),
)

collector_state = Table(  # a collector's key/value state across restarts (JSON values)
    "collector_state",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", TS, nullable=False),
)

web_users = Table(  # people who may use the web UI (`unerased user add`, docs/web.md)
    "web_users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),  # viewer, editor, admin
    Column("password_hash", Text),  # Argon2id (PHC string); None: only login links so far
    Column("created_at", TS, nullable=False),
    # ids never reused: sessions, tokens and links name their user by id
    sqlite_autoincrement=True,
)

web_sessions = Table(  # a signed-in browser: the cookie holds the id, this its SHA-256
    "web_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", Integer, nullable=False, index=True),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
)

web_api_tokens = Table(  # `unerased user token NAME`: the SHA-256 of the token only
    "web_api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", TS, nullable=False),
    Column("last_used", TS),
)

web_login_links = Table(  # one-time login links: the SHA-256 of the token, single use
    "web_login_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, nullable=False, index=True),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("used_at", TS),
)

LEAFED = ("account_status", "post_versions", "captures", "imports", "events",
          "media_completions")
