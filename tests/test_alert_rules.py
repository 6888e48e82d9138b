"""The alert rules (alerts/rules.py), pure: one test per row of docs/alerts.md's table
(the row's name is in the test's name), and the parsing of the CLI's values."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from unerased.alerts.rules import (
    COLLECTOR_SILENT,
    HEARTBEAT,
    MASS_DELETION,
    SILENT,
    Rule,
    collector_silent_alerts,
    delivery_id,
    event_alerts,
    heartbeat_alerts,
    make_test_alert,
    mass_alerts,
    mass_bursts,
    parse_duration,
    parse_kinds,
    parse_tag,
    parse_target,
    sign,
    silent_alerts,
)
from unerased.errors import UsageError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rule(**kw: Any) -> Rule:
    base: dict[str, Any] = {"id": 1, "target": "https://hooks.example/x", "secret": "ab" * 16,
                            "created_at": T0 - timedelta(days=1)}
    return Rule(**{**base, **kw})


def ev(i: int, type: str, at: datetime, *, account: str = "alice", tags: dict[str, str] | None
       = None) -> dict[str, Any]:
    return {"id": i, "type": type, "at": _iso(at), "platform": "bluesky", "account": account,
            "account_id": f"did:plc:{account}", "account_uri": f"bsky:{account}",
            "account_pk": 1 if account == "alice" else 2, "post_id": f"p{i}", "detail": {},
            "evidence": [], "tags": tags or {}}


def dels(*minutes: float) -> list[dict[str, Any]]:
    return [ev(i + 1, "post_deleted", T0 + timedelta(minutes=m)) for i, m in enumerate(minutes)]


ACC = {"platform": "bluesky", "account": "alice", "account_id": "did:plc:alice",
       "account_uri": "bsky:alice", "tags": {}}


# ---------------------------------------------------------------- the table's rows


@pytest.mark.parametrize(("kind", "on", "alerts"), [
    ("account_deleted", None, 1),  # a closure alerts by default
    ("account_suspended", None, 1),
    ("account_deactivated", None, 1),
    ("post_deleted", None, 0),  # one deleted post is not a closure nor a mass deletion
    ("post_edited", None, 0),
    ("post_deleted", ("post_deleted",), 1),
    ("account_suspended", ("post_deleted",), 0),  # --on replaces the default
])
def test_row_closure_default(kind: str, on: tuple[str, ...] | None, alerts: int) -> None:
    got = event_alerts([rule(on_types=on)], [ev(7, kind, T0)], T0)
    assert len(got) == alerts
    if alerts:
        a = got[0]
        assert a.kind == kind and a.rule_id == 1
        assert a.payload["account"]["account_uri"] == "bsky:alice"
        assert [e["id"] for e in a.payload["events"]] == [7]
        assert a.payload["delivery_id"] == a.delivery_id == delivery_id(1, kind, 7)


def test_row_tag_filter() -> None:
    r = rule(on_types=("post_deleted",), tag=("region", "north"))
    events = [ev(1, "post_deleted", T0, tags={"region": "north"}),
              ev(2, "post_deleted", T0, account="bob", tags={"region": "south"}),
              ev(3, "post_deleted", T0, account="carol")]
    assert [a.payload["events"][0]["id"] for a in event_alerts([r], events, T0)] == [1]


def test_row_rule_sees_only_events_after_it_was_made() -> None:
    r = rule(created_at=T0)
    got = event_alerts([r], [ev(1, "account_deleted", T0 - timedelta(seconds=1)),
                             ev(2, "account_deleted", T0 + timedelta(seconds=1))], T0)
    assert [a.payload["events"][0]["id"] for a in got] == [2]


def test_row_disabled_rule_alerts_nothing() -> None:
    assert event_alerts([rule(enabled=False)], [ev(1, "account_deleted", T0)], T0) == []


@pytest.mark.parametrize(("minutes", "n", "within_min", "bursts"), [
    ((0, 1, 2, 3, 4), 5, 10, [[1, 2, 3, 4, 5]]),  # five within ten minutes: one alert
    ((0, 1, 2, 3), 5, 10, []),  # four: none
    ((0, 4, 8, 12, 16), 5, 10, []),  # five, but never five within ten minutes
    ((0, 1, 2, 3, 4, 5, 6, 7, 8, 9), 5, 10, [[1, 2, 3, 4, 5]]),  # a longer burst: still one
    ((0, 1, 2, 3, 4, 30, 31, 32, 33, 34), 5, 10, [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]),
    ((0, 1, 2, 3, 4, *range(12, 60, 8)), 5, 10, [[1, 2, 3, 4, 5]]),  # slow tail: same burst
    ((0, 0, 0), 3, 1, [[1, 2, 3]]),  # one check finds three at once
])
def test_row_mass_deletion_bursts(minutes: tuple[float, ...], n: int, within_min: int,
                                  bursts: list[list[int]]) -> None:
    got = mass_bursts(dels(*minutes), n, within_min * 60)
    assert [[int(d["id"]) for d in b] for b in got] == bursts


def test_row_mass_deletion_one_alert_with_count_and_events() -> None:
    r = rule(min_posts=3, within_s=600)
    got = mass_alerts(r, ACC, dels(0, 1, 2, 3, 4), cursor=0, now=T0)
    assert len(got) == 1
    a = got[0]
    assert a.kind == MASS_DELETION
    assert a.payload["count"] == 3 and a.payload["rule"] == 1
    assert [e["id"] for e in a.payload["events"]] == [1, 2, 3]
    assert a.payload["account"]["account"] == "alice"
    assert a.delivery_id == delivery_id(1, MASS_DELETION, 1, 2, 3)


def test_row_mass_deletion_not_again_after_the_cursor() -> None:
    r = rule(min_posts=3, within_s=600)
    # the burst alerted when events 1-3 were new; events 4, 5 (same burst) come later
    assert mass_alerts(r, ACC, dels(0, 1, 2, 3, 4), cursor=3, now=T0) == []
    assert len(mass_alerts(r, ACC, dels(0, 1, 2), cursor=2, now=T0)) == 1


def test_row_mass_deletion_tag_filter() -> None:
    r = rule(min_posts=2, within_s=600, tag=("risk", "high"))
    assert mass_alerts(r, ACC, dels(0, 1), cursor=0, now=T0) == []
    tagged = {**ACC, "tags": {"risk": "high"}}
    assert len(mass_alerts(r, tagged, dels(0, 1), cursor=0, now=T0)) == 1


def test_row_mass_deletion_default_window() -> None:
    r = rule()  # the default: closures and mass deletions, 5 within an hour
    assert MASS_DELETION in r.kinds and r.mass_window == (5, 3600)
    assert len(mass_alerts(r, ACC, dels(0, 10, 20, 30, 40), cursor=0, now=T0)) == 1
    assert mass_alerts(r, ACC, dels(0, 20, 40, 60, 80), cursor=0, now=T0) == []


@pytest.mark.parametrize(("days_ago", "silent_days", "alerts"), [
    (9, 7, 1), (7, 7, 1), (6.9, 7, 0), (None, 7, 0)])
def test_row_account_silent(days_ago: float | None, silent_days: int, alerts: int) -> None:
    last = None if days_ago is None else _iso(T0 - timedelta(days=days_ago))
    accounts = [{**ACC, "pk": 1, "last_post": last}]
    got = silent_alerts([rule(silent_days=silent_days)], accounts, T0)
    assert len(got) == alerts
    if alerts:
        assert got[0].kind == SILENT and got[0].payload["last_post"] is not None
        # evaluated again later: the same silence, the same delivery id
        again = silent_alerts([rule(silent_days=silent_days)], accounts, T0 + timedelta(hours=5))
        assert again[0].delivery_id == got[0].delivery_id


def test_row_account_silent_tag_filter() -> None:
    accounts = [{**ACC, "pk": 1, "last_post": _iso(T0 - timedelta(days=30))},
                {**ACC, "pk": 2, "tags": {"risk": "high"},
                 "last_post": _iso(T0 - timedelta(days=30))}]
    got = silent_alerts([rule(silent_days=3, tag=("risk", "high"))], accounts, T0)
    assert len(got) == 1 and got[0].payload["account"]["tags"] == {"risk": "high"}


@pytest.mark.parametrize(("ago_min", "within_s", "alerts"), [
    (31, None, 1), (29, None, 1 - 1), (11, 600, 1), (9, 600, 0)])
def test_row_collector_silent(ago_min: int, within_s: int | None, alerts: int) -> None:
    r = rule(on_types=(COLLECTOR_SILENT,), within_s=within_s)
    beats = {"heartbeat:laptop": _iso(T0 - timedelta(minutes=ago_min)),
             "heartbeat:vps": {"at": _iso(T0)}}
    got = collector_silent_alerts([r], beats, T0)
    assert len(got) == alerts
    if alerts:
        assert got[0].payload["collector"] == "laptop"
        later = collector_silent_alerts([r], beats, T0 + timedelta(hours=1))
        assert [a.delivery_id for a in later][:1] == [got[0].delivery_id]  # once per silence


def test_row_heartbeat_once_per_period() -> None:
    r = rule(on_types=(HEARTBEAT,), within_s=600)
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # a period boundary (epoch-aligned)
    ids = {heartbeat_alerts([r], start + timedelta(minutes=m), "c1")[0].delivery_id
           for m in range(0, 30)}
    assert len(ids) == 3  # minutes 0-9, 10-19, 20-29
    assert heartbeat_alerts([rule()], start, "c1") == []  # only rules that ask for it


def test_row_test_alert_is_new_each_time() -> None:
    a, b = make_test_alert(rule(), T0, "n1"), make_test_alert(rule(), T0, "n2")
    assert a.kind == b.kind == "test" and a.delivery_id != b.delivery_id


# ---------------------------------------------------------------- signature, parsing


def test_signature_is_hmac_sha256_of_the_body() -> None:
    import hashlib
    import hmac

    body = b'{"kind":"test"}'
    want = hmac.new(bytes.fromhex("ab" * 16), body, hashlib.sha256).hexdigest()
    assert sign("ab" * 16, body) == "sha256=" + want
    assert sign("ab" * 16, body + b" ") != sign("ab" * 16, body)


@pytest.mark.parametrize(("text", "seconds"), [
    ("30m", 1800), ("90s", 90), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("45", 45),
    ("1.5h", 5400)])
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "5x", "m", "-3m", "1e9d", "30 minutes"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(UsageError, match="--within"):
        parse_duration(text)


def test_parse_kinds_and_tag_and_target() -> None:
    assert parse_kinds("account_deleted, post_deleted") == ("account_deleted", "post_deleted")
    with pytest.raises(UsageError, match="nonsense"):
        parse_kinds("account_deleted,nonsense")
    assert parse_tag("risk=high") == ("risk", "high")
    with pytest.raises(UsageError):
        parse_tag("risk")
    assert parse_target("mailto:ops@example.org") == "mailto:ops@example.org"
    assert parse_target("https://hooks.example/x?y=1") == "https://hooks.example/x?y=1"
    for bad in ("ftp://x", "mailto:nobody", "https://", "hooks.example", "https://u:p@h/",
                "http://h:99999/"):
        with pytest.raises(UsageError, match="alert target"):
            parse_target(bad)


def test_rule_kinds() -> None:
    assert rule().kinds == {"account_deleted", "account_suspended", "account_deactivated",
                            MASS_DELETION}
    assert rule(on_types=("post_deleted",), silent_days=3).kinds == {"post_deleted", SILENT}
    assert MASS_DELETION in rule(on_types=("account_deleted",), min_posts=3).kinds
    row = {"id": 3, "target": "mailto:a@b.c", "secret": "00", "created_at":
           "2026-03-01T12:00:00.000000Z", "on_types": '["heartbeat"]', "tag_key": "k",
           "tag_value": "v", "min_posts": None, "within_s": 60, "silent_days": None,
           "enabled": 1}
    r = Rule.from_row(row)
    assert r.on_types == ("heartbeat",) and r.tag == ("k", "v") and r.created_at == T0


def test_every_row_of_the_docs_table_has_its_test_and_back() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "alerts.md").read_text("utf-8")
    rows = set(re.findall(r"^\| `([a-z_]+)` \|", doc, re.MULTILINE))
    tests = {n.removeprefix("test_row_") for n in globals() if n.startswith("test_row_")}
    assert rows and rows == tests
