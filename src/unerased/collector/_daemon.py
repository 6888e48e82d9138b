"""The collector daemon behind ``unerased run``.

Its parts, each on its own: the **check** of one account (``watch/runner.py``: observe,
then persist in one transaction); **what is due** (``accounts.next_check``, set by each
check's transaction; claimed with an expiring lease, the longest overdue first, never
more than the daemon can start: ``Store.claim_accounts(limit=…)``); the **per-host
budgets** (:class:`~unerased.collector.HostBudgets`: a host over its budget, or that
answered 429, gets its claimed accounts back, due when it may be asked again); the
**long-lived clients and sources** (:class:`~unerased.collector.Pool`); and **one
writer thread** (:class:`~unerased.collector.WriteThread`): every write of the daemon —
claims, each check's transaction, deferrals, lease renewals, heartbeats, checkpoints —
runs there, so the event loop never waits on the database.

Stopping (:meth:`Collector.stop`, which ``unerased run`` calls on SIGTERM and SIGINT):
nothing more is claimed, the checks in flight finish and are stored (each in its one
transaction), the claims not yet used are given back, a last heartbeat and a ledger
checkpoint are written. A second stop cancels the checks still running: what they saw
is not stored (a transaction is all or nothing) and their claims are given back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..model import iso, parse_iso
from ..sources import Recorder, Source
from ..watch.budget import Budgets
from ..watch.runner import (
    CheckOutcome,
    RunContext,
    failed_check,
    loop_failure,
    observe,
    persist,
    source_retry_after,
)
from ..watch.schedule import defer, resume
from ._alerts import AlertPump
from ._pool import Pool, host_of
from ._spend import blocked_until, charge, observe_captures, per_second
from ._writer import WriteThread

__all__ = ["Collector", "CollectorOptions", "Stats", "daemon_id"]

OnOutcome = Callable[[CheckOutcome], None]
HEARTBEAT_PREFIX = "heartbeat:"


@dataclass
class CollectorOptions:
    """How the daemon paces itself (``unerased config``: ``schedule.*``,
    ``heartbeat.interval``). ``tick``: seconds between looks for due work when idle;
    ``stop_timeout``: how long a graceful stop waits for the checks in flight."""

    max_in_flight: int = 200
    tick: float = 1.0
    heartbeat_every: timedelta = timedelta(minutes=1)
    stop_timeout: float = 60.0
    alerts_every: float = 5.0  # seconds between two rounds of alerts (enqueue, deliver)
    on_time_share: float = 0.1  # a check is on time when started within this share of its interval


@dataclass
class Stats:
    """What the collector did since it started (in its heartbeat)."""

    started_at: datetime
    checks: int = 0
    ok: int = 0
    errors: int = 0
    stale: int = 0
    events: int = 0
    requests: int = 0
    deferred: int = 0
    due_checks: int = 0  # checks that had a due time (not first checks)
    on_time: int = 0  # ... started within on_time_share of their interval after it
    last_check_at: datetime | None = None
    last_error: str | None = None
    lateness: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    """Seconds after their due time the latest due checks started."""

    def to_json(self) -> dict[str, Any]:
        return {"started_at": iso(self.started_at), "checks": self.checks, "ok": self.ok,
                "errors": self.errors, "stale": self.stale, "events": self.events,
                "requests": self.requests, "deferred": self.deferred,
                "due_checks": self.due_checks, "on_time": self.on_time,
                "last_check_at": iso(self.last_check_at), "last_error": self.last_error}


def daemon_id(store: Any, now: datetime, heartbeat_every: timedelta,
              host: str | None = None) -> str | None:
    """The id ``unerased run`` keeps across restarts on one machine (``HOST:run``), so
    that its heartbeat key stays the same (a restart is not a silent collector plus a new
    one); None when another collector of that id is alive now (two daemons on one
    machine and archive: the second takes a fresh id of its own)."""
    name = f"{(host or socket.gethostname())[:60]}:run"
    beat = store.get_state(HEARTBEAT_PREFIX + name)
    if isinstance(beat, dict) and not beat.get("stopped"):
        at = parse_iso(beat.get("at"))
        if at is not None and now - at <= max(3 * heartbeat_every, timedelta(minutes=2)):
            return None
    return name


def _interval_s(row: Mapping[str, Any], default: timedelta) -> float:
    """The account's interval: the adaptive schedule's own, else the fixed one."""
    try:
        got = json.loads(row.get("schedule_json") or "{}").get("interval_s")
    except (ValueError, AttributeError):
        got = None
    return float(got) if isinstance(got, int | float) and got > 0 else default.total_seconds()


class Collector:
    """``await Collector(ctx, budgets=…).run()``; :meth:`step` is one look for due work
    (tests drive it with an injected clock), :meth:`drain` waits for the checks started."""

    def __init__(
        self,
        ctx: RunContext,
        *,
        budgets: Budgets | None = None,
        options: CollectorOptions | None = None,
        on_result: OnOutcome | None = None,
        on_loop_error: OnOutcome | None = None,
        on_log: OnOutcome | None = None,
        alerts: AlertPump | None = None,
        streams: Mapping[str, Any] | None = None,
    ) -> None:
        self.ctx = ctx
        self.options = options or CollectorOptions()
        self.budgets = budgets if budgets is not None else Budgets()
        self.writer = WriteThread()
        self.pool = Pool(ctx)
        self.on_result = on_result
        self.on_loop_error = on_loop_error
        self.on_log = on_log
        self.alerts = alerts
        self.stream_clients = dict(streams or {})  # name -> unerased.streams client
        self.streams_task: asyncio.Task[None] | None = None
        self.stats = Stats(ctx.now())
        self.held: set[int] = set()  # claimed, not yet stored or given back
        self.tasks: set[asyncio.Task[None]] = set()
        self.streams: dict[str, Any] = {}  # stream name -> {connected, lag_s, cursor}
        self._stopping = False
        self._force = False
        self._wake: asyncio.Event | None = None

    # ------------------------------------------------------------------ control

    @property
    def id(self) -> str:
        return self.ctx.collector

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        """Stop gracefully (the checks in flight finish); called twice: cancel them."""
        if self._stopping:
            self._force = True
            for t in list(self.tasks):
                t.cancel()
        self._stopping = True
        if self._wake is not None:
            self._wake.set()

    def _report(self, e: BaseException) -> None:
        if self.on_loop_error is None:
            raise e
        self.on_loop_error(loop_failure(e, self.ctx.now()))

    def _log(self, what: str, error: str | None = None) -> None:
        if self.on_log is not None:
            self.on_log(CheckOutcome(None, [], error, outcome=what, at=iso(self.ctx.now())))

    # ------------------------------------------------------------------ work

    async def step(self) -> int:
        """Claim what is due (as many as may start) and start checking it; the number of
        checks started. Accounts of a host over its budget (or blocked by a 429) are
        given back, due when the host may be asked again."""
        if self._stopping:
            return 0
        ctx, opts = self.ctx, self.options
        free = opts.max_in_flight - len(self.tasks)
        if free <= 0:
            return 0
        now = ctx.now()
        claimed = await self.writer.run(lambda: ctx.store.claim_accounts(
            ctx.collector, now, ctx.config.lease, due_only=True, limit=free,
            report_busy=False))
        deferred: dict[str, dict[int, tuple[datetime, float]]] = {}  # host -> pk -> due, wait
        started = 0
        for row in claimed.rows:
            pk = int(row["id"])
            if pk in self.held:  # already being checked by this collector
                continue
            host = host_of(row)
            wait = self.budgets.take(host, now)
            if wait > 0:
                due = parse_iso(row.get("next_check")) or now
                deferred.setdefault(host, {})[pk] = (due, wait)
                continue
            self.held.add(pk)
            self._count_lateness(row, now)
            task = asyncio.create_task(self._check(row, host))
            self.tasks.add(task)
            task.add_done_callback(self._done)
            started += 1
        if deferred:
            later = self._spread(deferred, now)
            self.stats.deferred += len(later)
            await self.writer.run(lambda: ctx.store.defer_claims(ctx.collector, later))
        return started

    def _spread(self, deferred: Mapping[str, Mapping[int, tuple[datetime, float]]],
                now: datetime) -> dict[int, datetime]:
        """The accounts of a host over its budget, due again when it may be asked, one
        at the pace it allows from then (``schedule.defer``: no burst at the reset)."""
        out: dict[int, datetime] = {}
        for host, rows in deferred.items():
            until = now + timedelta(seconds=max(w for _, w in rows.values()))
            spread = defer({str(pk): due for pk, (due, _) in rows.items()}, until,
                           per_second(self.budgets, host, now))
            out |= {int(k): v for k, v in spread.items()}
        return out

    def _count_lateness(self, row: Mapping[str, Any], now: datetime) -> None:
        due = parse_iso(row.get("next_check"))
        if due is None:
            return
        late = (now - due).total_seconds()
        self.stats.due_checks += 1
        self.stats.lateness.append(late)
        if late <= _interval_s(row, self.ctx.config.interval) * self.options.on_time_share:
            self.stats.on_time += 1

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if self._wake is not None and len(self.tasks) < self.options.max_in_flight:
            self._wake.set()

    async def _check(self, row: dict[str, Any], host: str) -> None:
        ctx = self.ctx
        pk = int(row["id"])
        made: list[Source] = []

        def source(fresh: Mapping[str, Any], rec: Recorder) -> Source:
            src = self.pool.source(fresh, rec)
            made.append(src)
            return src

        at = ctx.now()
        try:
            state = await asyncio.to_thread(ctx.store.check_state, pk)
            obs = await observe(ctx, row, self.pool.clients, state=state, source=source)
            end = ctx.now()
            charge(self.budgets, host, end, len(obs.captures))
            observe_captures(self.budgets, obs.captures, end)
            until = max((t for t in (source_retry_after(made[0]) if made else None,
                                     blocked_until(self.budgets, host, end))
                         if t is not None), default=None)
            if until is not None and until > obs.now:
                obs.not_before = until  # the platform said when: the schedule obeys
            res = await self.writer.run(lambda: persist(ctx, obs))
        except asyncio.CancelledError:
            raise  # a forced stop: the claim is given back by run()
        except Exception as e:  # noqa: BLE001 - every failure is this check's outcome
            err = e
            res = await self.writer.run(lambda: failed_check(ctx, row, err, at))
        self.held.discard(pk)
        self._record(res)

    def _record(self, res: CheckOutcome) -> None:
        s = self.stats
        s.checks += 1
        s.requests += res.captures
        s.events += len(res.events)
        s.last_check_at = self.ctx.now()
        if res.outcome == "error":
            s.errors += 1
            s.last_error = f"{res.account}: {res.error}"
        elif res.outcome == "stale":
            s.stale += 1
        else:
            s.ok += 1
        if self.on_result is not None:
            self.on_result(res)

    async def drain(self) -> None:
        """Wait for every check started so far."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def resume(self) -> int:
        """After a restart: the accounts that fell overdue by more than a tenth of the
        interval while nothing ran are spread over one interval from now, the most
        overdue first (``schedule.resume``), instead of a burst of catch-up requests.
        Accounts never checked, and those just due, are checked at once. The number
        spread."""
        ctx = self.ctx
        now = ctx.now()
        interval = ctx.config.interval
        grace = interval * self.options.on_time_share
        rows = await asyncio.to_thread(ctx.store.list_accounts, watched_only=True)
        late: dict[str, datetime | None] = {}
        for r in rows:
            nxt = parse_iso(r.get("next_check"))
            if nxt is not None and now - nxt > grace:
                late[str(r["id"])] = nxt
        if len(late) < 2:
            return 0
        spread = {int(k): v for k, v in resume(late, now, interval).items()}
        return await self.writer.run(lambda: ctx.store.reschedule(spread, now))

    # ------------------------------------------------------------------ upkeep

    def heartbeat_value(self) -> dict[str, Any]:
        """What ``heartbeat:<collector id>`` holds (``unerased status`` reads it)."""
        now = self.ctx.now()
        return {"collector": self.id, "host": socket.gethostname()[:100], "pid": os.getpid(),
                "at": iso(now), "stopping": self._stopping, "in_flight": len(self.tasks),
                "held": len(self.held), "interval_s": self.ctx.config.interval.total_seconds(),
                **self.stats.to_json(), "budgets": self.budgets.snapshot(now),
                "streams": dict(self.streams),
                "alerts": None if self.alerts is None else {
                    "enqueued": self.alerts.enqueued, "delivered": self.alerts.delivered}}

    async def heartbeat(self) -> None:
        """Record the heartbeat and renew the leases of the accounts being checked."""
        ctx = self.ctx
        now = ctx.now()
        value = self.heartbeat_value()
        held = set(self.held)

        def write() -> None:
            if held:
                ctx.store.renew_claims(ctx.collector, held, now + ctx.config.lease)
            ctx.store.set_state(HEARTBEAT_PREFIX + ctx.collector, value, now)

        await self.writer.run(write)

    def _checkpoint_now(self) -> None:
        from ..ledger.log import make_checkpoint

        store = self.ctx.store
        if store.ledger_size() > 0:  # an empty ledger has nothing to sign yet
            make_checkpoint(store)

    async def checkpoint(self) -> None:
        """Sign a ledger checkpoint (on the writer thread)."""
        await self.writer.run(self._checkpoint_now)

    async def _upkeep(self) -> None:
        """Heartbeats (renewing leases: at least three times per lease) and checkpoints,
        in wall time; a failure is reported and the loop goes on."""
        loop = asyncio.get_running_loop()
        beat = min(self.options.heartbeat_every.total_seconds(),
                   max(0.5, self.ctx.config.lease.total_seconds() / 3))
        every_cp = self.ctx.config.checkpoint_every.total_seconds()
        next_cp = loop.time() + every_cp
        while True:
            try:
                await self.heartbeat()
            except Exception as e:  # noqa: BLE001 - reported; the checks go on
                self._report(e)
            if loop.time() >= next_cp:
                next_cp = loop.time() + every_cp
                try:
                    await self.checkpoint()
                except Exception as e:  # noqa: BLE001
                    self._report(e)
            await asyncio.sleep(beat)

    async def alerts_once(self) -> None:
        """One round of alerts: what is new enqueued, what is due delivered; a delivery
        that failed is one line (``outcome`` ``alert_failed``)."""
        if self.alerts is None:
            return
        _n, report = await self.alerts.once(self.ctx.now())
        for delivery_id, error in report.errors:
            self._log("alert_failed", f"alert {delivery_id}: {error}")

    async def _alerts_loop(self) -> None:
        while not self._stopping:
            try:
                await self.alerts_once()
            except Exception as e:  # noqa: BLE001 - reported; the checks go on
                self._report(e)
            slept = 0.0
            while slept < self.options.alerts_every and not self._stopping:
                await asyncio.sleep(min(0.2, self.options.alerts_every))
                slept += 0.2

    # ------------------------------------------------------------------ the loop

    async def run(self, duration: float | None = None) -> None:
        """Run until :meth:`stop` (or ``duration`` seconds), then stop gracefully."""
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        end = None if duration is None else loop.time() + duration
        opts = self.options
        self.writer.start()
        self._log("started")
        try:
            await self.resume()
        except Exception as e:  # noqa: BLE001 - reported; the accounts stay due
            self._report(e)
        if self.stream_clients:
            from ._streams import StreamPump

            rows = await asyncio.to_thread(self.ctx.store.list_accounts, watched_only=True)
            pump = StreamPump(self, self.stream_clients, rows)
            self.streams_task = asyncio.create_task(pump.run())
        upkeep = asyncio.create_task(self._upkeep())
        alerting = asyncio.create_task(self._alerts_loop())
        failed = 0
        try:
            while not self._stopping and (end is None or loop.time() < end):
                self._wake.clear()
                try:
                    await self.step()
                    failed = 0
                except Exception as e:  # noqa: BLE001 - reported, the loop goes on
                    failed += 1
                    self._report(e)
                wait = min(opts.tick * 2 ** min(failed, 16),
                           self.ctx.config.max_backoff.total_seconds())
                if end is not None:
                    wait = max(0.0, min(wait, end - loop.time()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
        finally:
            self._stopping = True
            await self._finish(upkeep, alerting)

    async def _finish(self, upkeep: asyncio.Task[None], alerting: asyncio.Task[None]) -> None:
        self._log("stopping")
        if self.streams_task is not None:
            self.streams_task.cancel()
            await asyncio.gather(self.streams_task, return_exceptions=True)
        if self.tasks and not self._force:
            await asyncio.wait(list(self.tasks), timeout=self.options.stop_timeout)
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*list(self.tasks), return_exceptions=True)
        upkeep.cancel()
        # a round of alerts ends by itself (a delivery under way is not cut off)
        await asyncio.gather(upkeep, alerting, return_exceptions=True)
        ctx = self.ctx
        held, self.held = set(self.held), set()
        failures: list[BaseException] = []
        for fn in (lambda: ctx.store.release_claims(ctx.collector, held),
                   lambda: ctx.store.set_state(HEARTBEAT_PREFIX + ctx.collector,
                                      {**self.heartbeat_value(), "stopped": True}, ctx.now()),
                   self._checkpoint_now):
            try:
                await self.writer.run(fn)
            except Exception as e:  # noqa: BLE001 - reported; the leases will expire
                failures.append(e)
        if self.on_loop_error is not None:
            for failure in failures:
                self.on_loop_error(loop_failure(failure, ctx.now()))
        await self.pool.aclose()
        await asyncio.get_running_loop().run_in_executor(None, self.writer.close)
        self._log("stopped")
        if failures and self.on_loop_error is None:
            raise failures[0]
