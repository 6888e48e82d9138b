"""The collector: runs checks against the platforms and persists what detection decides.

One check of one account = account check → listing → direct lookups of what is absent →
:func:`unerased.watch.detect.detect` → one store transaction holding every raw capture,
the new versions, the new post/account states and the events (with their ledger leaves).
Network I/O is async (httpx); the store write is synchronous and short.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from .. import net
from ..errors import SourceError
from ..model import (
    AccountCheck,
    AccountSnapshot,
    Listing,
    MediaItem,
    PostLookup,
    PostSnapshot,
    PostStatus,
    iso,
    parse_iso,
    utcnow,
)
from ..sources import Recorder, Source
from ..store import Store
from . import detect as d
from ._sources import make_source
from .uri import WatchUri


@dataclass
class WatchConfig:
    interval: timedelta = timedelta(minutes=15)
    recheck_interval: timedelta = timedelta(minutes=5)  # when something is pending
    max_pages: int = 5
    max_lookups: int = 200
    detect: d.DetectConfig = field(default_factory=d.DetectConfig)
    source_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    fetch_media: bool = True
    per_host_concurrency: int = 2
    checkpoint_every: timedelta = timedelta(hours=1)


@dataclass
class RunContext:
    """Everything a check needs, passed explicitly (no globals)."""

    store: Store
    client_factory: Callable[[], httpx.AsyncClient]
    config: WatchConfig = field(default_factory=WatchConfig)
    now: Callable[[], datetime] = utcnow
    _host_locks: dict[str, asyncio.Semaphore] = field(default_factory=dict)


@dataclass
class CheckOutcome:
    account: str
    events: list[dict[str, Any]]
    error: str | None = None
    captures: int = 0


def default_client_factory(proxy: str | None = None) -> Callable[[], httpx.AsyncClient]:
    """Clients behind the fetch guard (``unerased.net``); UsageError for a bad proxy or
    allow-list now, before anything runs."""
    return net.client_factory(proxy=proxy, env=os.environ)


# ------------------------------------------------------------------------- watch add


async def add_watch(
    ctx: RunContext, uri: WatchUri, *, service: str | None, tags: Mapping[str, str]
) -> dict[str, Any]:
    """Resolve the account on its platform and start watching it. Raises SourceError
    (one clear line) when it cannot; then nothing is written."""
    async with ctx.client_factory() as client:
        rec = Recorder(client)
        src = make_source(uri.platform, rec, service, ctx.config.source_options)
        snap = await src.resolve(uri.ident)
    with ctx.store.writer() as w:
        row = w.upsert_account(snap, f"capture:{rec.captures[-1].id}" if rec.captures else "watch")
        for cap in rec.captures:
            w.add_capture(cap, row["id"])
        w.update_account(
            row["id"], watched=True, watch_uri=str(uri), service=service,
            tags_json=json.dumps(dict(tags), sort_keys=True), next_check=iso(ctx.now()),
            check_error=None,
        )
    return row


def remove_watch(store: Store, account_pk: int) -> None:
    with store.writer() as w:
        w.update_account(account_pk, watched=False, next_check=None)


# ------------------------------------------------------------------------- checks


def _known_states(store: Store, account_pk: int) -> dict[str, d.PostState]:
    """The detector's view of every post of an account (imported posts included)."""
    states: dict[str, d.PostState] = {}
    for m, ch, vk in store.known_posts(account_pk):
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


async def _with_media(src: Source, snaps: Sequence[PostSnapshot]) -> list[PostSnapshot]:
    out = []
    for sn in snaps:
        if not any(m.url and m.content is None for m in sn.media):
            out.append(sn)
            continue
        media: list[MediaItem] = []
        for m in sn.media:
            if m.url and m.content is None:
                data = await src.fetch_media(m.url)
                media.append(replace(m, content=data) if data is not None else m)
            else:
                media.append(m)
        out.append(replace(sn, media=media))
    return out


async def check_account(ctx: RunContext, row: Mapping[str, Any]) -> CheckOutcome:
    """One full check of one watched account, persisted in one transaction."""
    now = ctx.now()
    cfg = ctx.config
    label = row["watch_uri"] or f"{row['platform']}:{row['account_id']}"
    host = urlsplit(row["service"] or "").netloc or row["platform"]
    lock = ctx._host_locks.setdefault(host, asyncio.Semaphore(cfg.per_host_concurrency))
    account_state = (
        d.AccountState.from_json(json.loads(row["state_json"]))
        if row["state_json"] not in (None, "", "{}") else None
    )
    posts = _known_states(ctx.store, row["id"])
    listing: Listing | None = None
    lookups: list[PostLookup] = []
    history: dict[str, list[PostSnapshot]] = {}
    error: str | None = None
    async with lock, ctx.client_factory() as client:
        rec = Recorder(client)
        src = make_source(row["platform"], rec, row["service"], cfg.source_options)
        try:
            check = await src.check_account(row["account_id"])
            nxt = d.next_account_state(account_state, check, now, cfg.detect)
            # nothing to list while hidden or while a disappearance awaits confirmation
            if (check.snapshot is not None and nxt is not None
                    and nxt.status in d.VISIBLE_STATUSES and nxt.pending is None):
                listing, history = _split_history(
                    await src.list_posts(row["account_id"], max_pages=cfg.max_pages)
                )
            ids = d.plan_lookups(posts, listing, nxt, now, cfg.detect)[: cfg.max_lookups]
            if ids:
                lookups = list(await src.lookup_posts(row["account_id"], ids))
        except SourceError as e:
            check = AccountCheck(None, error=str(e))
            error = str(e)
        if check.snapshot is None:
            error = error or check.error or "no usable answer"
        det = d.detect(account_state, posts, check, listing, lookups, now, cfg.detect)
        # a post's earlier versions (an edit history) are stored before its newest one
        versions = [h for v in det.new_versions for h in history.get(v.post_id, [])]
        versions += det.new_versions
        if cfg.fetch_media and versions:
            versions = await _with_media(src, versions)
    events = _persist(ctx, row, rec.captures, check, det, versions, now, error, posts)
    return CheckOutcome(label, events, error, len(rec.captures))


def _version_time(sn: PostSnapshot) -> datetime:
    return sn.edited_at or sn.created_at or sn.observed_at or datetime.min.replace(tzinfo=UTC)


def _split_history(listing: Listing) -> tuple[Listing, dict[str, list[PostSnapshot]]]:
    """A listing may carry several versions of one post (Mastodon edit histories): the
    detector judges the newest; the older ones, oldest first, are kept as history."""
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


def _persist(
    ctx: RunContext,
    row: Mapping[str, Any],
    captures: Sequence[Any],
    check: AccountCheck,
    det: d.Detection,
    versions: Sequence[PostSnapshot],
    now: datetime,
    error: str | None,
    known: Mapping[str, d.PostState],
) -> list[dict[str, Any]]:
    cfg = ctx.config
    pending = any(s.status == PostStatus.MISSING for s in {**known, **det.posts}.values())
    delay = cfg.recheck_interval if (pending or det.account_recheck or error) else cfg.interval
    jitter = timedelta(seconds=random.uniform(0, delay.total_seconds() * 0.1))
    out: list[dict[str, Any]] = []
    with ctx.store.writer() as w:
        for cap in captures:
            w.add_capture(cap, row["id"])
        acc = dict(row)
        # an absence awaiting confirmation is not the account's status yet: its captures are
        # kept, its row and status history unchanged until the detector confirms it
        if check.snapshot is not None and not (det.account and det.account.pending):
            source = f"capture:{check.capture_ids[0]}" if check.capture_ids else "watch"
            snap: AccountSnapshot = check.snapshot
            acc = w.upsert_account(snap, source, at=iso(now))
        for v in versions:
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
        for ev in det.events:
            w.add_event(ev, row["id"], post_pks.get(ev.post_id) if ev.post_id else None)
            out.append(ev.to_json())
        values: dict[str, Any] = {
            "last_check": iso(now), "next_check": iso(now + delay + jitter), "check_error": error,
        }
        if det.account is not None:
            values["state_json"] = json.dumps(det.account.to_json(), sort_keys=True)
        w.update_account(row["id"], **values)
    return out


# ------------------------------------------------------------------------- loops


def due_accounts(store: Store, now: datetime, *, all_watched: bool) -> list[dict[str, Any]]:
    rows = store.list_accounts(watched_only=True)
    if all_watched:
        return rows
    t = iso(now) or ""
    return [r for r in rows if not r["next_check"] or r["next_check"] <= t]


async def poll(
    ctx: RunContext,
    *,
    once: bool,
    on_result: Callable[[CheckOutcome], None] | None = None,
) -> list[CheckOutcome]:
    """Check what is due (``once``: every watched account), concurrently across hosts."""
    rows = due_accounts(ctx.store, ctx.now(), all_watched=once)
    ctx._host_locks.clear()  # semaphores belong to one event loop; each poll may have its own

    async def one(r: dict[str, Any]) -> CheckOutcome:
        try:
            res = await check_account(ctx, r)
        except SourceError as e:
            res = CheckOutcome(r["watch_uri"] or r["account_id"], [], str(e))
        if on_result:
            on_result(res)
        return res

    return list(await asyncio.gather(*(one(r) for r in rows)))


async def run_forever(
    ctx: RunContext,
    *,
    duration: float | None = None,
    on_result: Callable[[CheckOutcome], None] | None = None,
    tick: float = 5.0,
) -> None:
    """The daemon loop: poll what is due, sleep, repeat (``duration`` bounds it). Signs a
    ledger checkpoint every ``config.checkpoint_every`` (and once at the end), each only
    after its consistency with the previous one is proven."""
    from ..ledger.log import make_checkpoint

    loop = asyncio.get_running_loop()
    end = None if duration is None else loop.time() + duration
    next_cp = loop.time() + ctx.config.checkpoint_every.total_seconds()
    try:
        while end is None or loop.time() < end:
            await poll(ctx, once=False, on_result=on_result)
            if loop.time() >= next_cp:
                make_checkpoint(ctx.store)
                next_cp = loop.time() + ctx.config.checkpoint_every.total_seconds()
            wait = tick if end is None else max(0.0, min(tick, end - loop.time()))
            if wait <= 0:
                break
            await asyncio.sleep(wait)
    finally:
        make_checkpoint(ctx.store)
