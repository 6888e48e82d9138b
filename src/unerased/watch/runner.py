"""The check of one account against its platform, persisted as detection decides; and
``poll``'s one pass. The daemon of ``unerased run`` (long-lived sources and clients,
budgets, one writer thread, graceful stop) is :mod:`unerased.collector`, built on these.

One check of one account = claim it → account check → listing → direct lookups of what
is absent → :func:`unerased.watch.detect.detect` → one store transaction holding every
raw capture, the new versions, the new post/account states and the events (with their
ledger leaves), which also releases the claim (``watch/_persist.py``: the
compare-and-set that keeps one observation from being stored twice). Network I/O is
async (httpx); the store writes are synchronous and short.

Several collectors may share one archive: each claims the accounts it checks
(``Store.claim_accounts``: atomic, with a lease that a long check renews and a crash
lets expire). Every request made for a watch goes through its proxy (``watch add
--proxy``), else the command's (``--proxy``, ``UNERASED_PROXY``, the home's setting:
:func:`unerased.net.effective_proxy`); a pass makes one client per distinct proxy.
No failure is silent: every check ends in a :class:`CheckOutcome` (``error`` saying
why, also recorded on the account), and a failure of the loop itself is reported to
``on_loop_error``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from .. import net
from ..errors import SourceError, UnerasedError, one_line
from ..model import AccountCheck, iso, utcnow
from ..sources import Recorder, Source
from ..store import KnownPost, Store
from . import detect as d
from ._persist import (
    BUSY,
    LOOP_ERROR,
    CheckOutcome,
    Observation,
    account_state,
    known_states,
    label,
    media_to_fetch,
    next_check,
    outcome_for,
    persist_observation,
    split_history,
    versions_to_store,
)
from ._sources import for_check, host_of, make_source
from ._sources import retry_after as source_retry_after
from .schedule import ScheduleConfig
from .uri import WatchUri

__all__ = [
    "BUSY",
    "LOOP_ERROR",
    "CheckOutcome",
    "ClientMaker",
    "Clients",
    "Observation",
    "RunContext",
    "SourceMaker",
    "WatchConfig",
    "add_watch",
    "check_account",
    "default_client_factory",
    "describe",
    "due_accounts",
    "failed_check",
    "for_check",
    "host_lock",
    "host_of",
    "loop_failure",
    "make_source",
    "new_collector_id",
    "observe",
    "persist",
    "poll",
    "remove_watch",
    "run_forever",
    "source_retry_after",
]

ClientMaker = Callable[[], httpx.AsyncClient]
SourceMaker = Callable[[Mapping[str, Any], Recorder], Source]
"""``(account row, the check's recorder) -> Source``."""
OnOutcome = Callable[[CheckOutcome], None]


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
    lease: timedelta = timedelta(minutes=10)  # a claim's life; renewed every third of it
    max_backoff: timedelta = timedelta(minutes=5)  # the loop's wait after failures
    schedule: ScheduleConfig | None = None  # the adaptive schedule; None: fixed intervals


def new_collector_id() -> str:
    """Who holds a claim: host, process and a random part (one per RunContext)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass
class RunContext:
    """Everything a check needs, passed explicitly (no globals).

    ``client_factory`` makes the clients of the watches for which no proxy applies (or
    the one client of tests that inject a transport); ``proxy`` is the command's
    ``--proxy``, ``env`` the environment that ``UNERASED_PROXY``, a proxy value ``env``
    and the allow-list are read from, ``settings`` the home's settings (its ``proxy``).
    ``proxy_clients`` makes the clients for one proxy (default: ``unerased.net``'s
    factory). ``collector`` names this collector in the claims it holds."""

    store: Store
    client_factory: ClientMaker
    config: WatchConfig = field(default_factory=WatchConfig)
    now: Callable[[], datetime] = utcnow
    proxy: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, Any] | None = None
    proxy_clients: Callable[[str], ClientMaker] | None = None
    collector: str = field(default_factory=new_collector_id)
    _host_locks: dict[str, asyncio.Semaphore] = field(default_factory=dict)

    def proxy_for(self, row: Mapping[str, Any]) -> str | None:
        """The proxy of every request made for this watch (UsageError when it names none
        that can be used: then nothing is sent)."""
        return net.effective_proxy(row.get("proxy"), self.proxy, self.env, self.settings)

    def maker(self, proxy: str | None) -> ClientMaker:
        if proxy is None:
            return self.client_factory
        if self.proxy_clients is not None:
            return self.proxy_clients(proxy)
        return net.client_factory(proxy=proxy, env=self.env)


class Clients:
    """The clients of one pass of checks: one per distinct proxy, made when first
    needed, closed together (``async with Clients(ctx) as clients``)."""

    def __init__(self, ctx: RunContext) -> None:
        self._ctx = ctx
        self._made: dict[str | None, httpx.AsyncClient] = {}

    def get(self, proxy: str | None) -> httpx.AsyncClient:
        client = self._made.get(proxy)
        if client is None:
            client = self._made[proxy] = self._ctx.maker(proxy)()
        return client

    async def aclose(self) -> None:
        made, self._made = list(self._made.values()), {}
        for client in made:
            await client.aclose()

    async def __aenter__(self) -> Clients:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def default_client_factory(proxy: str | None = None) -> ClientMaker:
    """Clients behind the fetch guard (``unerased.net``); UsageError for a bad proxy or
    allow-list now, before anything runs."""
    return net.client_factory(proxy=proxy, env=os.environ)


def describe(e: BaseException) -> tuple[str, str | None]:
    """An exception as one line (and its traceback when it is not one of ours: a bug)."""
    if isinstance(e, UnerasedError):
        return one_line(str(e)), None
    return (one_line(f"internal error: {type(e).__name__}: {e}"),
            "".join(traceback.format_exception(e)))


# ------------------------------------------------------------------------- watch add


async def add_watch(
    ctx: RunContext, uri: WatchUri, *, service: str | None, tags: Mapping[str, str],
    proxy: str | None = None,
) -> dict[str, Any]:
    """Resolve the account on its platform and start watching it, with ``proxy`` as the
    watch's own (kept, and used for every request made for it; None keeps the proxy of
    a watch of this URI that has one). Raises SourceError (one clear line) when it
    cannot; then nothing is written."""
    if proxy is not None:
        proxy = proxy.strip()
        if proxy.lower() != net.FROM_ENVIRONMENT:
            proxy = net.check_proxy(proxy)
    kept = next((r["proxy"] for r in ctx.store.list_accounts(watched_only=True)
                 if r["watch_uri"] == str(uri) and r["proxy"]), None)
    use = ctx.proxy_for({"proxy": proxy or kept})
    async with Clients(ctx) as clients:
        rec = Recorder(clients.get(use), clock=ctx.now)
        src = make_source(uri.platform, rec, service, ctx.config.source_options)
        snap = await src.resolve(uri.ident)
    with ctx.store.writer() as w:
        row = w.upsert_account(snap, f"capture:{rec.captures[-1].id}" if rec.captures else "watch")
        for cap in rec.captures:
            w.add_capture(cap, row["id"])
        values: dict[str, Any] = {}
        if proxy is not None:
            values["proxy"] = proxy
        w.update_account(
            row["id"], watched=True, watch_uri=str(uri), service=service,
            tags_json=json.dumps(dict(tags), sort_keys=True), next_check=iso(ctx.now()),
            check_error=None, **values,
        )
    return row


def remove_watch(store: Store, account_pk: int) -> None:
    """Stop watching (the archive is kept; the watch's own proxy is forgotten with it)."""
    with store.writer() as w:
        w.update_account(account_pk, watched=False, next_check=None, proxy=None)


# ------------------------------------------------------------------------- checks


async def observe(
    ctx: RunContext, row: Mapping[str, Any], clients: Clients | None = None, *,
    state: tuple[dict[str, Any] | None, list[KnownPost]] | None = None,
    source: SourceMaker | None = None,
) -> Observation:
    """One check of one watched account, not stored yet (:func:`persist` stores it).
    It starts from the account's state as stored now (one snapshot, with its state
    version; ``state``: that snapshot, read by the caller — the collector reads it off
    the event loop). A failure on the platform's side, and a bug in the check after the
    first request, are the observation's ``error`` (its captures are kept); UnerasedError
    before anything is sent (no usable proxy). ``source`` makes the check's source
    around its recorder (the collector's long-lived sources); default: a new one."""
    if clients is None:
        async with Clients(ctx) as own:
            return await observe(ctx, row, own, state=state, source=source)
    now = ctx.now()
    cfg = ctx.config
    fresh, known = state if state is not None else ctx.store.check_state(int(row["id"]))
    if fresh is None:
        raise SourceError(f"{label(row)} is no longer in the archive")
    proxy = ctx.proxy_for(fresh)
    lock = host_lock(ctx, fresh)
    obs = Observation(fresh, now, [], AccountCheck(None), known=known_states(known))
    async with lock:
        rec = Recorder(clients.get(proxy), clock=ctx.now)
        obs.captures = rec.captures
        try:
            src = (source(fresh, rec) if source is not None else
                   make_source(fresh["platform"], rec, fresh["service"], cfg.source_options))
            await _observe(ctx, src, obs)
        except Exception as e:  # a bug, or a source error escaping: this check's error
            obs.error, obs.traceback = describe(e)
    return obs


def host_lock(ctx: RunContext, row: Mapping[str, Any]) -> asyncio.Semaphore:
    """The semaphore that bounds concurrent requests to the account's host (each
    Mastodon instance, each feed host its own; not one per platform)."""
    host = host_of(row)
    return ctx._host_locks.setdefault(host, asyncio.Semaphore(ctx.config.per_host_concurrency))


async def _observe(ctx: RunContext, src: Source, obs: Observation) -> None:
    cfg, now, row = ctx.config, obs.now, obs.row
    acct = account_state(row)
    try:
        obs.check = await src.check_account(row["account_id"])
        nxt = d.next_account_state(acct, obs.check, now, cfg.detect)
        # nothing to list while hidden or while a disappearance awaits confirmation
        if (obs.check.snapshot is not None and nxt is not None
                and nxt.status in d.VISIBLE_STATUSES and nxt.pending is None):
            obs.listing, obs.history = split_history(
                await src.list_posts(row["account_id"], max_pages=cfg.max_pages))
        ids = d.plan_lookups(obs.known, obs.listing, nxt, now, cfg.detect)[: cfg.max_lookups]
        if ids:
            obs.lookups = list(await src.lookup_posts(row["account_id"], ids))
    except SourceError as e:
        obs.check = AccountCheck(None, error=str(e))
        obs.error = one_line(str(e))
    if obs.check.snapshot is None:
        obs.error = obs.error or one_line(obs.check.error or "no usable answer")
    obs.detection = d.detect(acct, obs.known, obs.check, obs.listing, obs.lookups, now,
                             cfg.detect)
    if cfg.fetch_media:
        for url in media_to_fetch(versions_to_store(obs.detection, obs)):
            data = await src.fetch_media(url)
            if data is not None:
                obs.media[url] = data


def persist(ctx: RunContext, obs: Observation) -> CheckOutcome:
    """Store one observation in one transaction; ``stale`` when a more recent check of
    the account was stored since it began (see ``watch/_persist.py``)."""
    return persist_observation(ctx, obs)


async def check_account(
    ctx: RunContext, row: Mapping[str, Any], clients: Clients | None = None
) -> CheckOutcome:
    """One full check of one watched account, persisted in one transaction."""
    return persist(ctx, await observe(ctx, row, clients))


def failed_check(ctx: RunContext, row: Mapping[str, Any], e: BaseException, at: datetime
                 ) -> CheckOutcome:
    """A check that ended in an exception: one line, recorded on the account (with when
    to try again), its claim released."""
    error, tb = describe(e)
    try:
        ctx.store.record_check_failure(int(row["id"]), ctx.collector, error=error,
                                       last_check=at,
                                       next_check=next_check(at, ctx.config.recheck_interval))
    except Exception as e2:  # the database too: say so, the lease will expire
        error = one_line(f"{error} (not recorded on the account: {describe(e2)[0]})")
    return outcome_for(row, at, error=error, traceback=tb)


# ------------------------------------------------------------------------- loops


def due_accounts(store: Store, now: datetime, *, all_watched: bool) -> list[dict[str, Any]]:
    """The watched accounts due at ``now`` (every one with ``all_watched``), claimed or
    not: what a pass would try to claim."""
    rows = store.list_accounts(watched_only=True)
    if all_watched:
        return rows
    t = iso(now) or ""
    return [r for r in rows if not r["next_check"] or r["next_check"] <= t]


async def poll(
    ctx: RunContext,
    *,
    once: bool,
    on_result: OnOutcome | None = None,
    on_loop_error: OnOutcome | None = None,
    report_busy: bool = True,
) -> list[CheckOutcome]:
    """Claim what is due (``once``: every watched account) and check it, concurrently
    across hosts; the accounts another live collector holds are ``busy`` outcomes
    (unless not ``report_busy``). Leases are renewed while checks run; a failure to
    renew goes to ``on_loop_error`` (raised at the end without one)."""
    cfg = ctx.config
    now = ctx.now()
    claimed = ctx.store.claim_accounts(ctx.collector, now, cfg.lease, due_only=not once)
    ctx._host_locks.clear()  # semaphores belong to one event loop; each poll may have its own
    results: list[CheckOutcome] = []
    if report_busy:
        for r in claimed.busy:
            res = outcome_for(r, now, outcome=BUSY)
            results.append(res)
            if on_result:
                on_result(res)
    in_flight = {int(r["id"]) for r in claimed.rows}
    renew_failed: list[BaseException] = []

    async def heartbeat() -> None:
        every = max(0.5, cfg.lease.total_seconds() / 3)
        while True:
            await asyncio.sleep(every)
            try:
                ctx.store.renew_claims(ctx.collector, in_flight, ctx.now() + cfg.lease)
            except Exception as e:  # the checks go on; their leases may run out
                if on_loop_error is None:
                    renew_failed.append(e)
                else:
                    on_loop_error(loop_failure(e, ctx.now()))

    async def one(r: dict[str, Any], clients: Clients) -> CheckOutcome:
        try:
            res = await check_account(ctx, r, clients)
        except Exception as e:  # noqa: BLE001 - every failure is this check's outcome
            res = failed_check(ctx, r, e, now)
        in_flight.discard(int(r["id"]))
        if on_result:
            on_result(res)
        return res

    beat = asyncio.create_task(heartbeat())
    try:
        async with Clients(ctx) as clients:
            results += await asyncio.gather(*(one(r, clients) for r in claimed.rows))
    finally:
        beat.cancel()
        if in_flight:  # interrupted: give back what was not stored, not wait for the lease
            try:
                ctx.store.release_claims(ctx.collector, in_flight)
            except Exception as e:  # noqa: BLE001 - the leases will expire
                if on_loop_error is not None:
                    on_loop_error(loop_failure(e, ctx.now()))
    if renew_failed:
        raise renew_failed[0]
    return results


def loop_failure(e: BaseException, at: datetime) -> CheckOutcome:
    """A failure of the collector's loop itself (not of one check), as an outcome."""
    error, tb = describe(e)
    return CheckOutcome(None, [], error, outcome=LOOP_ERROR, at=iso(at), traceback=tb)


async def run_forever(
    ctx: RunContext,
    *,
    duration: float | None = None,
    on_result: OnOutcome | None = None,
    on_loop_error: OnOutcome | None = None,
    tick: float = 5.0,
) -> None:
    """A simple loop: poll what is due, sleep, repeat (``duration`` bounds it). ``unerased
    run`` uses :class:`unerased.collector.Collector` (long-lived sources, budgets, one
    writer thread, graceful stop); this loop stays for callers of one process. Signs a
    ledger checkpoint every ``config.checkpoint_every`` (and once at the end), each only
    after its consistency with the previous one is proven.

    With ``on_loop_error``, a failure of the loop itself (the database unreachable, a
    checkpoint that cannot be signed) is reported there and the loop goes on, waiting
    longer after each failed pass (up to ``config.max_backoff``); without it, it is
    raised."""
    from ..ledger.log import make_checkpoint

    loop = asyncio.get_running_loop()
    end = None if duration is None else loop.time() + duration
    every = ctx.config.checkpoint_every.total_seconds()
    next_cp = loop.time() + every
    failed_passes = 0

    def report(e: BaseException) -> None:
        if on_loop_error is None:
            raise e
        on_loop_error(loop_failure(e, ctx.now()))

    def checkpoint() -> None:
        if ctx.store.ledger_size() > 0:  # an empty ledger has nothing to sign yet
            make_checkpoint(ctx.store)

    try:
        while end is None or loop.time() < end:
            try:
                await poll(ctx, once=False, on_result=on_result, on_loop_error=on_loop_error,
                           report_busy=False)
                failed_passes = 0
            except Exception as e:  # noqa: BLE001 - reported, the loop goes on
                failed_passes += 1
                report(e)
            if loop.time() >= next_cp:
                next_cp = loop.time() + every
                try:
                    checkpoint()
                except Exception as e:  # noqa: BLE001
                    report(e)
            wait = min(tick * 2 ** min(failed_passes, 16), ctx.config.max_backoff.total_seconds())
            wait = max(wait, tick) if end is None else max(0.0, min(wait, end - loop.time()))
            if wait <= 0:
                break
            await asyncio.sleep(wait)
    finally:
        try:
            checkpoint()
        except Exception as e:  # noqa: BLE001
            report(e)
