"""The collector's long-lived clients and sources.

One HTTP client per proxy for the whole life of the daemon (connections are reused
between checks), and one source per (platform, host, service, proxy): what a source
learns — the back-off a 429 or ``X-RateLimit-Remaining: 0`` asked for, the endpoints
it resolved — survives from one check to the next. Each check still uses the source
through a view holding its own recorder (:func:`unerased.watch.runner.for_check`), so
its captures are its own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..sources import Recorder, Source
from ..watch.runner import Clients, RunContext, for_check, host_of, make_source

__all__ = ["Pool", "host_of"]


class Pool:
    """``pool.source(row, recorder)`` for a check; ``pool.clients`` the clients;
    ``await pool.aclose()`` at the end."""

    def __init__(self, ctx: RunContext) -> None:
        self._ctx = ctx
        self.clients = Clients(ctx)
        self._sources: dict[tuple[str, str, str, str], Source] = {}

    def __len__(self) -> int:
        return len(self._sources)

    def source(self, row: Mapping[str, Any], recorder: Recorder) -> Source:
        proxy = self._ctx.proxy_for(row)
        key = (str(row["platform"]), host_of(row), str(row.get("service") or ""), proxy or "")
        base = self._sources.get(key)
        if base is None:
            base = self._sources[key] = make_source(
                row["platform"], Recorder(self.clients.get(proxy)), row.get("service"),
                self._ctx.config.source_options)
        return for_check(base, recorder)

    async def aclose(self) -> None:
        self._sources.clear()
        await self.clients.aclose()
