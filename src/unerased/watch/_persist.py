"""Storing what one check saw: one store transaction per check, and never one
observation twice.

A check reads the account's state and its ``state_version`` (one snapshot), talks to the
platform, runs detection, and hands an :class:`Observation` to :func:`persist_observation`.
The transaction first stores the check's raw captures (evidence, whatever happens next),
then bumps the state version *if it is still the one the check read* (compare-and-set,
``Writer.compare_and_set_state``). Claims make two checks of one account rare; the
compare-and-set makes them harmless when a lease ran out mid-check:

- the version moved and the stored state comes from a check **at least as recent** as
  this one (its ``last_check`` ≥ this check's time): this result is older than what is
  stored. Writing it would announce again what was announced, or undo a newer
  observation with an older one (a deleted post "restored" by an answer from before the
  deletion). It is dropped — its captures stay — and the outcome is ``stale``;
- the version moved but this check is the **newer** one (the other began earlier and
  finished first): detection runs again, in the transaction, on the fresh state with this
  check's observations. What the other check stored is now "what we knew", so an edit both
  saw is not announced twice, and nothing this check saw is lost. A version that only the
  re-run finds keeps the media this check fetched for its URL, if any.

Detection is pure and cheap; re-running it under the write lock costs one read of the
account's posts, on a path that only overlapping checks take.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import WriteConflict, redact_secrets
from ..model import (
    AccountCheck,
    AccountSnapshot,
    Capture,
    Listing,
    MediaItem,
    PostLookup,
    PostSnapshot,
    PostStatus,
    iso,
    parse_iso,
)
from ..refs import account_uri
from . import detect as d
from . import schedule as sch

if TYPE_CHECKING:
    from ..store import KnownPost, Writer
    from .runner import RunContext

OK, ERROR, STALE, BUSY, LOOP_ERROR = "ok", "error", "stale", "busy", "loop_error"


@dataclass
class CheckOutcome:
    """What one check of one account came to (``poll --json`` prints :meth:`to_json`).

    ``outcome``: ``ok``; ``error`` (the check failed: ``error`` says why, in one line,
    and it is recorded on the account); ``stale`` (a more recent check of the account was
    stored first: this one's captures are kept, nothing else); ``busy`` (not checked:
    another collector holds the account); ``loop_error`` (not a check: the collector's
    own loop failed; ``account`` is None)."""

    account: str | None
    events: list[dict[str, Any]]
    error: str | None = None
    captures: int = 0
    outcome: str = OK
    account_id: str | None = None
    platform: str | None = None
    at: str | None = None
    traceback: str | None = None  # an unexpected exception's, for UNERASED_DEBUG; not JSON
    redacted_seen: int = 0  # posts of redacted posts seen again, not stored (redaction.md)

    def __post_init__(self) -> None:
        if self.error is not None and self.outcome == OK:
            self.outcome = ERROR

    def to_json(self) -> dict[str, Any]:
        return {"account": self.account, "account_id": self.account_id,
                "platform": self.platform, "outcome": self.outcome, "error": self.error,
                "events": self.events, "requests": self.captures, "at": self.at,
                "redacted_seen": self.redacted_seen}


def label(row: Mapping[str, Any]) -> str:
    """A watched account as every command prints it: its canonical URI."""
    return account_uri(row["platform"], row.get("handle"), row["account_id"])


def outcome_for(row: Mapping[str, Any], at: datetime, **kw: Any) -> CheckOutcome:
    """A check's outcome; its account shown with any URL credential redacted (a feed
    URL's ``?access_token=``)."""
    return CheckOutcome(redact_secrets(label(row)), kw.pop("events", []), account_id=row["account_id"],
                        platform=row["platform"], at=iso(at), **kw)


@dataclass
class Observation:
    """One check's observations and its detection, not stored yet."""

    row: dict[str, Any]  # the account row the check started from (its state_version)
    now: datetime
    captures: list[Capture]
    check: AccountCheck
    listing: Listing | None = None
    lookups: list[PostLookup] = field(default_factory=list)
    history: dict[str, list[PostSnapshot]] = field(default_factory=dict)
    detection: d.Detection | None = None  # None: the check failed before detection ended
    known: dict[str, d.PostState] = field(default_factory=dict)
    media: dict[str, bytes] = field(default_factory=dict)  # url -> the body fetched
    error: str | None = None
    traceback: str | None = None
    not_before: datetime | None = None  # the platform asked us to wait until then
    # a check made from a platform's stream (watch/streamcheck.py): the deletions it
    # announced (given to detect), and it is no poll: the poll schedule is left alone
    announced: dict[str, d.Announcement] = field(default_factory=dict)
    stream: bool = False


def account_state(row: Mapping[str, Any]) -> d.AccountState | None:
    raw = row.get("state_json")
    if raw in (None, "", "{}"):
        return None
    return d.AccountState.from_json(json.loads(raw))


def known_states(known: Sequence[KnownPost]) -> dict[str, d.PostState]:
    """The detector's view of every post of an account (imported posts included)."""
    states: dict[str, d.PostState] = {}
    for m, ch, vk in known:
        raw = json.loads(m["state_json"] or "{}")
        if raw:
            states[m["post_id"]] = d.PostState.from_json(raw)
            continue
        states[m["post_id"]] = d.PostState(
            post_id=m["post_id"],
            status=PostStatus(m["status"]),
            last_seen=parse_iso(m["last_seen"]),
            created_at=parse_iso(m["created_at"]),
            content_hash=ch,
            version_key=vk if vk != ch else None,
            deleted_at=parse_iso(m["deleted_at"]),
        )
    return states


def versions_to_store(det: d.Detection, obs: Observation) -> list[PostSnapshot]:
    """The detection's new versions, each post's earlier versions (an edit history) first,
    with the media bodies the check fetched."""
    versions = [h for v in det.new_versions for h in obs.history.get(v.post_id, [])]
    versions += det.new_versions
    return [with_media(v, obs.media) for v in versions]


def _version_time(sn: PostSnapshot) -> datetime:
    return sn.edited_at or sn.created_at or sn.observed_at or datetime.min.replace(tzinfo=UTC)


def split_history(listing: Listing) -> tuple[Listing, dict[str, list[PostSnapshot]]]:
    """A listing may carry several versions of one post (Mastodon edit histories, a
    stream's create then update): the detector judges the newest; the older ones, oldest
    first, are kept as history."""
    by_id: dict[str, list[PostSnapshot]] = {}
    for sn in listing.posts:
        by_id.setdefault(sn.post_id, []).append(sn)
    if all(len(v) == 1 for v in by_id.values()):
        return listing, {}
    newest: list[PostSnapshot] = []
    history: dict[str, list[PostSnapshot]] = {}
    for pid, snaps in by_id.items():
        snaps.sort(key=_version_time)
        newest.append(snaps[-1])
        if len(snaps) > 1:
            history[pid] = snaps[:-1]
    return replace(listing, posts=newest), history


def media_to_fetch(versions: Sequence[PostSnapshot]) -> list[str]:
    seen: dict[str, None] = {}
    for v in versions:
        for m in v.media:
            if m.url and m.content is None:
                seen.setdefault(m.url)
    return list(seen)


def with_media(sn: PostSnapshot, media: Mapping[str, bytes]) -> PostSnapshot:
    def filled(m: MediaItem) -> MediaItem:
        body = media.get(m.url) if m.url and m.content is None else None
        return m if body is None else replace(m, content=body)

    items = [filled(m) for m in sn.media]
    if all(a is b for a, b in zip(items, sn.media, strict=True)):
        return sn
    return replace(sn, media=items)


def persist_observation(ctx: RunContext, obs: Observation) -> CheckOutcome:
    """Store one check in one transaction (module docstring: the compare-and-set)."""
    row = obs.row
    pk = int(row["id"])
    with ctx.store.writer() as w:
        for cap in obs.captures:
            w.add_capture(cap, pk)
        det = obs.detection
        if not w.compare_and_set_state(pk, int(row["state_version"])):
            fresh, known = w.check_state(pk)
            if fresh is None:
                raise WriteConflict(f"{label(row)} is no longer in the archive")
            last = parse_iso(fresh["last_check"])
            if last is not None and last >= obs.now:
                if not obs.stream:  # a stream check holds no claim
                    w.release_claim(pk, ctx.collector)
                return outcome_for(row, obs.now, captures=len(obs.captures), outcome=STALE)
            if det is not None:
                posts = known_states(known)
                det = d.detect(account_state(fresh), posts, obs.check, obs.listing,
                               obs.lookups, obs.now, ctx.config.detect,
                               announced=obs.announced)
                obs = replace(obs, known=posts)
            if not w.compare_and_set_state(pk, int(fresh["state_version"])):
                raise WriteConflict(f"{label(row)}: its state changed during the write")
        events = [] if det is None else _write_detection(w, row, obs, det)
        _finish(ctx, w, row, obs, det)
        seen = len(w.redacted_seen)
    return outcome_for(row, obs.now, events=events, error=obs.error,
                       captures=len(obs.captures), traceback=obs.traceback, redacted_seen=seen)


def _write_detection(w: Writer, row: Mapping[str, Any], obs: Observation,
                     det: d.Detection) -> list[dict[str, Any]]:
    check, now = obs.check, obs.now
    acc: Mapping[str, Any] = row
    # an absence awaiting confirmation is not the account's status yet: its captures are
    # kept, its row and status history unchanged until the detector confirms it
    if check.snapshot is not None and not (det.account and det.account.pending):
        source = f"capture:{check.capture_ids[0]}" if check.capture_ids else "watch"
        snap: AccountSnapshot = check.snapshot
        acc = w.upsert_account(snap, source, at=iso(now))
    for v in versions_to_store(det, obs):
        st = det.posts.get(v.post_id)
        seen = st.seen_evidence if st is not None else ()
        w.add_posts(acc, [replace(v, observed_at=v.observed_at or now)],
                    f"capture:{seen[-1]}" if seen else "watch")
    post_pks = w.post_pks(row["id"], set(det.posts) | {e.post_id for e in det.events
                                                        if e.post_id})
    for pid, st in det.posts.items():
        pk = post_pks.get(pid)
        if pk is None:
            continue
        w.update_post(
            pk, status=str(st.status), last_seen=iso(st.last_seen),
            first_missing=iso(st.first_missing), gone_count=st.gone_count,
            deleted_at=iso(st.deleted_at),
            deleted_reason=None if st.reason is None else str(st.reason),
            state_json=json.dumps(st.to_json(), sort_keys=True),
        )
    out = []
    uri = label(acc)
    for ev in det.events:
        w.add_event(ev, row["id"], post_pks.get(ev.post_id) if ev.post_id else None)
        out.append({**ev.to_json(), "account_uri": uri})  # the JSON of `events`
    return out


def _finish(ctx: RunContext, w: Writer, row: Mapping[str, Any], obs: Observation,
            det: d.Detection | None) -> None:
    """When to check again, the check's error (or none), the detector's account state;
    the claim released. With ``config.schedule`` the adaptive schedule decides when
    (``watch/schedule.py``: the account's posting rate, risk tag, fresh posts, a pending
    confirmation; its state kept in ``schedule_json``), else the fixed interval; never
    before the time the platform asked us to wait until (``not_before``). A stream check
    is no poll and holds no claim: it never postpones the next poll (polling is the
    safety net), only brings it forward when something awaits confirmation, and records
    an error without clearing a poll's."""
    cfg = ctx.config
    states = {**obs.known, **(det.posts if det else {})}
    pending = any(s.status == PostStatus.MISSING for s in states.values())
    soon = pending or obs.error is not None or det is None or det.account_recheck
    values: dict[str, Any] = {}
    if not obs.stream:
        values = {"last_check": iso(obs.now), "check_error": obs.error}
        if cfg.schedule is not None:
            due, values["schedule_json"] = _planned(cfg.schedule, row, obs, soon)
        else:
            due = next_check(obs.now, cfg.recheck_interval if soon else cfg.interval)
        if obs.not_before is not None and obs.not_before > due:  # Retry-After, a reset
            due = obs.not_before
        values["next_check"] = iso(due)
    else:
        due = next_check(obs.now, cfg.recheck_interval if soon else cfg.interval)
        stored = parse_iso(row.get("next_check"))
        if soon and (stored is None or due < stored):
            values["next_check"] = iso(due)
        if obs.error is not None:
            values["check_error"] = obs.error
    if det is not None and det.account is not None:
        values["state_json"] = json.dumps(det.account.to_json(), sort_keys=True)
    if values:
        w.update_account(row["id"], **values)
    if not obs.stream:  # a stream check holds no claim (a poll of this collector may)
        w.release_claim(row["id"], ctx.collector)


def _planned(cfg: sch.ScheduleConfig, row: Mapping[str, Any], obs: Observation,
             soon: bool) -> tuple[datetime, str]:
    state = sch.AccountSchedule.from_json(row.get("schedule_json"))
    if obs.listing is not None:
        created = [p.created_at for p in obs.listing.posts if p.created_at is not None]
        state = sch.observe_posts(state, created, obs.now, cfg)
    try:
        tags = json.loads(row.get("tags_json") or "{}")
    except ValueError:
        tags = {}
    plan = sch.plan_account(state, str(row["account_id"]), obs.now, cfg,
                            high_risk=sch.is_high_risk(tags if isinstance(tags, dict) else {}),
                            pending=soon)
    return plan.next_due or obs.now, plan.to_json()


def next_check(now: datetime, delay: timedelta) -> datetime:
    """``now + delay`` and up to 10% more (checks of many accounts spread out)."""
    return now + delay + timedelta(seconds=random.uniform(0, delay.total_seconds() * 0.1))
