"""Alert rules, pure: from events, last-post times and heartbeats to alerts.

No I/O: the caller (:mod:`unerased.alerts.enqueue`) reads the store and enqueues what
these functions return; every rule below is a row of ``docs/alerts.md`` with its test
(tests/test_alert_rules.py).

Kinds a rule may ask for (``--on``):

- an event type (:class:`~unerased.model.EventType`: ``account_deleted``,
  ``post_deleted``, …): one alert per such event of an account the rule covers;
- ``mass_deletion``: at least ``min_posts`` ``post_deleted`` events of one account
  within ``within_s`` seconds — ONE alert per burst (:func:`mass_bursts`);
- ``account_silent``: a watched account whose newest post is ``silent_days`` old;
- ``collector_silent``: a collector whose heartbeat is older than ``within_s``;
- ``heartbeat``: a periodic "still alive" from the collector (every ``within_s``).

The default (no ``--on``) is account closures (deleted, suspended, deactivated) and
mass deletions. ``--min-posts`` adds ``mass_deletion``, ``--silent-days`` adds
``account_silent``. ``--tag K=V`` limits a rule to accounts so tagged.

Every alert has a ``delivery_id``: the sha256 of the rule id, the kind and what the
alert covers (event ids; an account and its last post time; a collector and its last
heartbeat; a heartbeat period), so that making it again gives the same id and the
outbox keeps one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import UsageError
from ..model import EventType, iso, parse_iso

__all__ = [
    "ALL_KINDS",
    "CLOSURES",
    "COLLECTOR_SILENT",
    "DEFAULT_COLLECTOR_SILENCE_S",
    "DEFAULT_HEARTBEAT_S",
    "DEFAULT_KINDS",
    "DEFAULT_MIN_POSTS",
    "DEFAULT_WITHIN_S",
    "HEARTBEAT",
    "MASS_DELETION",
    "SILENT",
    "TEST",
    "Alert",
    "Rule",
    "collector_silent_alerts",
    "delivery_id",
    "event_alerts",
    "heartbeat_alerts",
    "make_test_alert",
    "mass_alerts",
    "mass_bursts",
    "parse_duration",
    "parse_kinds",
    "parse_tag",
    "parse_target",
    "sign",
    "silent_alerts",
]

MASS_DELETION = "mass_deletion"
SILENT = "account_silent"
COLLECTOR_SILENT = "collector_silent"
HEARTBEAT = "heartbeat"
TEST = "test"
CLOSURES = ("account_deleted", "account_suspended", "account_deactivated")
EVENT_KINDS = tuple(str(t) for t in EventType)
ALL_KINDS = (*EVENT_KINDS, MASS_DELETION, SILENT, COLLECTOR_SILENT, HEARTBEAT)
DEFAULT_KINDS = (*CLOSURES, MASS_DELETION)
DEFAULT_MIN_POSTS = 5
DEFAULT_WITHIN_S = 3600  # the mass-deletion window when none is given
DEFAULT_COLLECTOR_SILENCE_S = 1800
DEFAULT_HEARTBEAT_S = 900


@dataclass(frozen=True, slots=True)
class Rule:
    """An ``alert_rules`` row."""

    id: int
    target: str
    secret: str
    created_at: datetime
    on_types: tuple[str, ...] | None = None
    tag: tuple[str, str] | None = None
    min_posts: int | None = None
    within_s: int | None = None
    silent_days: int | None = None
    enabled: bool = True

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Rule:
        on = row.get("on_types")
        if isinstance(on, str):
            on = json.loads(on)
        created = row["created_at"]
        return cls(
            id=int(row["id"]), target=str(row["target"]), secret=str(row["secret"]),
            created_at=created if isinstance(created, datetime)
            else (parse_iso(created) or datetime.min.replace(tzinfo=UTC)),
            on_types=None if on is None else tuple(str(k) for k in on),
            tag=(str(row["tag_key"]), str(row.get("tag_value") or ""))
            if row.get("tag_key") else None,
            min_posts=row.get("min_posts"), within_s=row.get("within_s"),
            silent_days=row.get("silent_days"), enabled=bool(row.get("enabled", True)),
        )

    @property
    def kinds(self) -> frozenset[str]:
        """What the rule alerts on: ``--on`` (else :data:`DEFAULT_KINDS`), plus
        ``mass_deletion`` when ``min_posts`` is set, ``account_silent`` when
        ``silent_days`` is."""
        kinds = set(self.on_types if self.on_types is not None else DEFAULT_KINDS)
        if self.min_posts is not None:
            kinds.add(MASS_DELETION)
        if self.silent_days is not None:
            kinds.add(SILENT)
        return frozenset(kinds)

    @property
    def mass_window(self) -> tuple[int, int]:
        """``(min_posts, within_s)`` of the mass-deletion rule, defaults filled in."""
        return (self.min_posts or DEFAULT_MIN_POSTS, self.within_s or DEFAULT_WITHIN_S)

    def covers(self, tags: Mapping[str, Any] | None) -> bool:
        """Whether an account with ``tags`` is one this rule watches (``--tag K=V``)."""
        if self.tag is None:
            return True
        k, v = self.tag
        return tags is not None and k in tags and str(tags[k]) == v


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert to deliver: its stable id, rule, kind and the JSON sent."""

    delivery_id: str
    rule_id: int | None
    kind: str
    payload: Mapping[str, Any] = field(default_factory=dict)


def delivery_id(rule_id: int | None, kind: str, *covers: Any) -> str:
    """The stable id of an alert: sha256 (hex) of the rule, the kind and what it covers."""
    raw = json.dumps([rule_id, kind, *covers], separators=(",", ":"), sort_keys=True,
                     default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of body>`` keyed with the rule's secret (hex; a secret
    that is not hex is used as its UTF-8 bytes)."""
    try:
        key = bytes.fromhex(secret)
    except ValueError:
        key = secret.encode("utf-8")
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


# ----------------------------------------------------------------------- parsing

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> int:
    """``90s``, ``30m``, ``2h``, ``1d``, ``1h30m`` (a bare number: seconds) → seconds;
    UsageError on anything else or on zero."""
    t = text.strip().lower()
    pos, total = 0, 0.0
    while pos < len(t):
        m = _DURATION.match(t, pos)
        if m is None or m.end() == pos:
            raise UsageError(f"--within: not a duration: {text!r} (e.g. 90s, 30m, 2h, 1d)")
        total += float(m[1]) * _UNITS[(m[2] or "s").lower()]
        pos = m.end()
    if not t or total <= 0 or not math.isfinite(total) or total > 10 * 365 * 86400:
        raise UsageError(f"--within: not a duration: {text!r} (e.g. 90s, 30m, 2h, 1d)")
    return math.ceil(total)


def parse_kinds(text: str) -> tuple[str, ...]:
    """``account_deleted,post_deleted`` → a tuple; UsageError naming an unknown kind."""
    kinds = tuple(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in ALL_KINDS]
    if unknown or not kinds:
        raise UsageError(f"--on: unknown alert type {', '.join(unknown) or repr(text)} "
                         f"(one of {', '.join(ALL_KINDS)})")
    return kinds


def parse_tag(text: str) -> tuple[str, str]:
    k, eq, v = text.partition("=")
    if not eq or not k.strip():
        raise UsageError(f"--tag: expected K=V, got {text!r}")
    return k.strip(), v.strip()


_EMAIL = re.compile(r"^[^@\s<>,;:\"]+@[A-Za-z0-9.-]+\.?[A-Za-z0-9-]*$")


def parse_target(text: str) -> str:
    """An ``http(s)://`` URL with a host, or ``mailto:ADDRESS``; UsageError otherwise."""
    from urllib.parse import urlsplit

    t = text.strip()
    if t.lower().startswith("mailto:"):
        addr = t[7:]
        if not _EMAIL.match(addr):
            raise UsageError(f"alert target: not an e-mail address: {addr!r}")
        return "mailto:" + addr
    try:
        parts = urlsplit(t)
        port = parts.port
    except ValueError:
        raise UsageError(f"alert target: not a URL: {t!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"alert target: {t!r} is neither http(s)://HOST/… nor mailto:ADDRESS")
    if port is not None and not 0 < port < 65536:
        raise UsageError(f"alert target: port out of range in {t!r}")
    if parts.username or parts.password:
        raise UsageError("alert target: no user:password in the URL (the HMAC signature "
                         "authenticates the alert)")
    return t


# ----------------------------------------------------------------------- evaluation


def _at(value: str | datetime | None) -> datetime | None:
    return value if isinstance(value, datetime) else parse_iso(value)


def _account(ev: Mapping[str, Any]) -> dict[str, Any]:
    return {"platform": ev.get("platform"), "account": ev.get("account"),
            "account_id": ev.get("account_id"), "account_uri": ev.get("account_uri"),
            "tags": dict(ev.get("tags") or {})}


def _event(ev: Mapping[str, Any]) -> dict[str, Any]:
    return {k: ev[k] for k in ("id", "type", "at", "post_id", "detail", "evidence")
            if k in ev}


def _payload(rule: Rule | None, kind: str, now: datetime, summary: str, **more: Any
             ) -> dict[str, Any]:
    return {"kind": kind, "rule": None if rule is None else rule.id, "at": iso(now),
            "summary": summary, **more}


def _alert(rule: Rule, kind: str, covers: Sequence[Any], now: datetime, summary: str,
           **more: Any) -> Alert:
    did = delivery_id(rule.id, kind, *covers)
    return Alert(did, rule.id, kind,
                 {"delivery_id": did, **_payload(rule, kind, now, summary, **more)})


def _name(acc: Mapping[str, Any]) -> str:
    return str(acc.get("account_uri") or acc.get("account") or acc.get("account_id"))


def _after_creation(rule: Rule, at: Any) -> bool:
    t = _at(at)
    return t is not None and t >= rule.created_at


def event_alerts(rules: Iterable[Rule], events: Iterable[Mapping[str, Any]],
                 now: datetime) -> list[Alert]:
    """One alert per event whose type a rule asks for (``--on post_deleted``,
    ``account_suspended``, …), on an account the rule covers, detected since the rule
    was made. ``events``: event JSON with ``id`` and the account's ``tags``."""
    out = []
    rules = [r for r in rules if r.enabled]
    for ev in events:
        for rule in rules:
            if ev["type"] in rule.kinds and rule.covers(ev.get("tags")) \
                    and _after_creation(rule, ev.get("at")):
                acc = _account(ev)
                out.append(_alert(rule, str(ev["type"]), [ev["id"]], now,
                                  f"{ev['type']}: {_name(acc)}", account=acc, count=1,
                                  events=[_event(ev)]))
    return out


def mass_bursts(deletions: Sequence[Mapping[str, Any]], min_posts: int, within_s: int
                ) -> list[list[Mapping[str, Any]]]:
    """The bursts of one account's ``post_deleted`` events (``id``, ``at``) that alert,
    each as the events that made it alert.

    A **burst** is a run of deletions each within ``within_s`` of the one before (a
    quiet gap longer than ``within_s`` ends it). It alerts ONCE: at the first deletion
    that makes ``min_posts`` deletions fall within ``within_s``; those deletions are its
    events. Later deletions of the same burst do not alert again; after a quiet gap a
    new burst may."""
    ordered = sorted(deletions, key=lambda d: (_at(d["at"]) or datetime.min, d["id"]))
    window: list[tuple[datetime, Mapping[str, Any]]] = []
    out: list[list[Mapping[str, Any]]] = []
    alerted, last = False, None
    span = timedelta(seconds=within_s)
    for d in ordered:
        at = _at(d["at"])
        if at is None:
            continue
        if last is not None and at - last > span:
            alerted, window = False, []
        window = [(t, w) for t, w in window if at - t <= span]
        window.append((at, d))
        if not alerted and len(window) >= min_posts:
            out.append([w for _, w in window])
            alerted = True
        last = at
    return out


def mass_alerts(rule: Rule, account: Mapping[str, Any],
                deletions: Sequence[Mapping[str, Any]], cursor: int, now: datetime
                ) -> list[Alert]:
    """The mass-deletion alerts of ``rule`` for one account: its bursts
    (:func:`mass_bursts` over ``deletions``, the account's deletions since the rule was
    made) that include an event after ``cursor`` (new: older bursts were alerted
    before). ``account``: alert JSON of the account (with ``tags``)."""
    if not rule.enabled or MASS_DELETION not in rule.kinds or not rule.covers(
            account.get("tags")):
        return []
    n, within = rule.mass_window
    mine = [d for d in deletions if _after_creation(rule, d.get("at"))]
    out = []
    for burst in mass_bursts(mine, n, within):
        if max(int(d["id"]) for d in burst) <= cursor:
            continue
        ids = sorted(int(d["id"]) for d in burst)
        out.append(_alert(rule, MASS_DELETION, ids, now,
                          f"{len(burst)} posts of {_name(account)} deleted within "
                          f"{within} s", account=dict(account), count=len(burst),
                          within_s=within, events=[_event(d) for d in burst]))
    return out


def silent_alerts(rules: Iterable[Rule], accounts: Iterable[Mapping[str, Any]],
                  now: datetime) -> list[Alert]:
    """``account_silent``: a watched account (alert JSON with ``pk`` and ``last_post``,
    the creation time of its newest post) whose newest post is at least ``silent_days``
    old. Once per silence: the delivery id covers the account and its last post, so a
    new post and a new silence alert again. An account with no stored post is not
    judged."""
    out = []
    for rule in rules:
        if not rule.enabled or SILENT not in rule.kinds or rule.silent_days is None:
            continue
        for acc in accounts:
            last = _at(acc.get("last_post"))
            if last is None or not rule.covers(acc.get("tags")):
                continue
            if now - last >= timedelta(days=rule.silent_days):
                info = {k: v for k, v in acc.items() if k not in ("pk", "last_post")}
                out.append(_alert(rule, SILENT, [acc.get("pk"), iso(last)], now,
                                  f"{_name(acc)} has not posted for {(now - last).days} days",
                                  account=info, last_post=iso(last), count=0, events=[]))
    return out


def _heartbeat_at(value: Any) -> datetime | None:
    if isinstance(value, Mapping):
        value = value.get("at")
    return _at(value) if isinstance(value, str | datetime) else None


def collector_silent_alerts(rules: Iterable[Rule], heartbeats: Mapping[str, Any],
                            now: datetime) -> list[Alert]:
    """The dead-man alert: a collector whose last heartbeat (``heartbeat:<id>`` in
    ``collector_state``: an ISO time, or an object with ``at``) is older than the rule's
    ``within_s`` (default 30 min). Once per silence (the id covers the collector and its
    last heartbeat)."""
    out = []
    for rule in rules:
        if not rule.enabled or COLLECTOR_SILENT not in rule.kinds:
            continue
        limit = timedelta(seconds=rule.within_s or DEFAULT_COLLECTOR_SILENCE_S)
        for key, value in sorted(heartbeats.items()):
            at = _heartbeat_at(value)
            collector = key.removeprefix("heartbeat:")
            if at is None or now - at <= limit:
                continue
            out.append(_alert(rule, COLLECTOR_SILENT, [collector, iso(at)], now,
                              f"collector {collector} silent since {iso(at)}",
                              collector=collector, last_heartbeat=iso(at), count=0,
                              events=[]))
    return out


def heartbeat_alerts(rules: Iterable[Rule], now: datetime, collector: str | None = None
                     ) -> list[Alert]:
    """``heartbeat``: one alert per rule and period of ``within_s`` (default 15 min),
    numbered from the epoch, so that however often this is called a receiver gets one
    per period — and knows the collector died when they stop."""
    out = []
    for rule in rules:
        if not rule.enabled or HEARTBEAT not in rule.kinds:
            continue
        period = rule.within_s or DEFAULT_HEARTBEAT_S
        n = int(now.timestamp() // period)
        out.append(_alert(rule, HEARTBEAT, [collector, n], now,
                          f"collector {collector or ''} alive".replace("  ", " "),
                          collector=collector, period_s=period, count=0, events=[]))
    return out


def make_test_alert(rule: Rule, now: datetime, nonce: str) -> Alert:
    """``alert test``: an alert of kind ``test`` (``nonce`` makes each one new)."""
    return _alert(rule, TEST, [nonce], now, f"test alert of rule {rule.id}", count=0,
                  events=[])
