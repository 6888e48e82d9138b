"""The collector's side of alerts (``unerased.alerts``): every few seconds, the events
stored since the last time become alerts in the outbox (``enqueue_new``, one transaction
on the writer thread, with the heartbeats of ``--on heartbeat`` rules and the silences),
then what is due in the outbox is delivered (``deliver_due``).

Delivery talks to webhooks and SMTP servers, which may be slow: it runs on a thread of
its own, with its own event loop, so that neither the collector's event loop nor its
writer thread waits on a receiver; the outbox writes it makes (claims, outcomes) are
still run on the writer thread (:class:`ViaWriter`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast

from ..store import Store
from ._writer import WriteThread

__all__ = ["AlertPump", "ViaWriter"]

_WRITES = frozenset({"claim_deliveries", "release_deliveries", "mark_delivered",
                     "record_delivery_failure", "set_state", "enqueue_alert",
                     "prune_outbox"})


class ViaWriter:
    """The store as another thread uses it: its write methods run on the writer thread
    (waited for), everything else as it is."""

    def __init__(self, store: Store, writer: WriteThread) -> None:
        self._store = store
        self._writer = writer

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if name not in _WRITES or not callable(attr):
            return attr

        def on_writer(*a: Any, **kw: Any) -> Any:
            return self._writer.call(lambda: attr(*a, **kw))

        return on_writer


class AlertPump:
    """``await pump.once(now)``: enqueue what is new, deliver what is due; returns
    (alerts enqueued, the delivery report)."""

    def __init__(self, store: Store, writer: WriteThread, collector: str, *,
                 proxy: str | None, env: Mapping[str, str], smtp: Any = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.writer = writer
        self.collector = collector
        self.proxy = proxy
        self.env = dict(env)
        self.smtp = smtp
        self.clock = clock
        self.enqueued = 0
        self.delivered = 0

    async def once(self, now: datetime) -> tuple[int, Any]:
        from ..alerts import deliver_due, enqueue_new

        store = self.store
        n = await self.writer.run(lambda: enqueue_new(store, now, collector=self.collector))
        self.enqueued += n
        via = cast(Store, ViaWriter(store, self.writer))

        def deliver() -> Any:
            return asyncio.run(deliver_due(via, now, proxy=self.proxy, env=self.env,
                                           smtp=self.smtp, clock=self.clock))

        report = await asyncio.to_thread(deliver)
        self.delivered += report.delivered
        return n, report
