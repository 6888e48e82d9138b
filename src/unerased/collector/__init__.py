"""The collector daemon (``unerased run``): long-lived per-host clients and sources,
per-host request budgets, due work claimed with expiring leases, one writer thread for
every store write, heartbeats, graceful stop. The check of one account itself is
``unerased.watch.runner``'s (``poll`` uses it directly).

:class:`Collector` — the daemon; :class:`WriteThread` — the one writer thread
(``await writer.run(fn)``); :func:`budgets_from` — the per-host request budgets
(``unerased.watch.budget``) the settings name; :class:`AlertPump` — alerts enqueued
and delivered each round; :func:`make_streams` / :class:`StreamPump` — the live streams
the settings turn on, their events checked per account;
:class:`Pool` — the long-lived clients and sources; :func:`host_of` — the host a watch's
requests go to.
"""

from __future__ import annotations

from ..health import last_checked, status_report
from ._alerts import AlertPump, ViaWriter
from ._daemon import HEARTBEAT_PREFIX, Collector, CollectorOptions, Stats, daemon_id
from ._pool import Pool, host_of
from ._spend import budgets_from
from ._streams import StreamPump, make_streams
from ._writer import WriteThread

__all__ = [
    "HEARTBEAT_PREFIX",
    "AlertPump",
    "Collector",
    "CollectorOptions",
    "Pool",
    "Stats",
    "StreamPump",
    "ViaWriter",
    "WriteThread",
    "budgets_from",
    "daemon_id",
    "host_of",
    "last_checked",
    "make_streams",
    "status_report",
]
