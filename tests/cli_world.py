"""A small archive of four platforms for the command-line tests (tests/test_cli_*.py):
accounts whose canonical URIs, profile URLs, handles and ids the tests name, posts whose
platform ids collide across accounts, events, one watched account. Written through the
store's writer, on whichever backend the ``store`` fixture gives."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from unerased.cli import cli
from unerased.model import AccountSnapshot, Event, EventType, PostSnapshot
from unerased.store import Store

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)

X_ALICE = AccountSnapshot("x", "1001", handle="alice", display_name="Alice",
                          url="https://x.com/alice")
X_DIGITS = AccountSnapshot("x", "2002", handle="12345", url="https://x.com/12345")
X_ID_12345 = AccountSnapshot("x", "12345", handle="zed", url="https://x.com/zed")
BSKY = AccountSnapshot("bluesky", "did:plc:abcdefgh", handle="alice.bsky.social",
                       url="https://bsky.app/profile/did:plc:abcdefgh")
MASTO = AccountSnapshot("mastodon", "109@social.example", handle="bob@social.example",
                        url="https://social.example/@bob")
RSS = AccountSnapshot("rss", "https://blog.example/feed.xml",
                      handle="https://blog.example/feed.xml", url="https://blog.example/")

CANONICAL = {
    "x_alice": "x:alice",
    "bsky": "bluesky:alice.bsky.social",
    "masto": "mastodon:@bob@social.example",
    "rss": "rss:https://blog.example/feed.xml",
}

BSKY_POST = "at://did:plc:abcdefgh/app.bsky.feed.post/3kxyzabc"


def _post(acc: AccountSnapshot, pid: str, text: str, url: str | None = None) -> PostSnapshot:
    return PostSnapshot(acc.platform, acc.account_id, pid, text, created_at=T0, url=url)


def seed(store: Store) -> dict[str, int]:
    """The world; returns account row ids by name."""
    rows: dict[str, int] = {}
    with store.writer() as w:
        for name, acc, posts in (
            ("x_alice", X_ALICE, [
                _post(X_ALICE, "123", "alice says hello censorship",
                      "https://x.com/alice/status/123"),
                _post(X_ALICE, "555", "alice again about censorship",
                      "https://x.com/alice/status/555"),
            ]),
            ("x_digits", X_DIGITS, [_post(X_DIGITS, "777", "digits account")]),
            ("x_zed", X_ID_12345, [_post(X_ID_12345, "778", "zed account")]),
            ("bsky", BSKY, [_post(BSKY, BSKY_POST, "a skeet about censorship",
                                  "https://bsky.app/profile/did:plc:abcdefgh/post/3kxyzabc")]),
            ("masto", MASTO, [_post(MASTO, "123", "a toot about censorship",
                                    "https://social.example/@bob/123")]),
            ("rss", RSS, [_post(RSS, "https://blog.example/p/1", "a blog post on censorship",
                                "https://blog.example/p/1")]),
        ):
            row = w.upsert_account(acc, "import:test")
            rows[name] = row["id"]
            w.add_posts(row, posts, "import:test")
        w.update_account(rows["x_alice"], watched=True, watch_uri="x:Alice")
        pk = w.post_pks(rows["x_alice"], ["123"])["123"]
        w.add_event(Event(EventType.POST_DELETED, T1, "x", "alice", "1001", "123",
                          {"reason": "unknown"}), rows["x_alice"], pk)
        w.add_event(Event(EventType.ACCOUNT_SUSPENDED, T1, "bluesky", None,
                          "did:plc:abcdefgh"), rows["bsky"])
    return rows


def cli_run(home: Path, db: str | None, *args: str, env: dict[str, str] | None = None,
            catch: bool = False) -> Result:
    base = ["--home", str(home)] + (["--db", db] if db else [])
    return CliRunner().invoke(cli, [*base, *args], catch_exceptions=catch, env=env)


def jsonl(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def one_error_line(r: Result, code: int) -> str:
    """The one line a failing command wrote on stderr (asserting there is exactly one,
    no traceback, and the exit code)."""
    assert r.exit_code == code, (r.exit_code, r.output)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("unerased: error: "), lines[0]
    assert "Traceback" not in r.output
    return lines[0]


def names(rows: Sequence[dict[str, Any]], key: str) -> set[Any]:
    return {r[key] for r in rows}
