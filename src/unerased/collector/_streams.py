"""The collector's live streams (``unerased.streams``), when the settings turn them on:
the AT Protocol firehose and Jetstream for the watched Bluesky accounts, Mastodon's
streaming API for the watched accounts of an instance the access token is for.

Each stream runs as a task: its events go to a queue; a consumer takes what has
arrived, groups it per watched account and makes one stream check of each
(``watch.streamcheck``: the events' captures, the posts they carry archived at once,
announced deletions confirmed by a direct lookup), stored on the writer thread like
every check; then the stream's cursor is saved (``stream:<name>`` in
``collector_state``): a restart resumes after what was stored. A ``gap`` (a reconnect,
an outdated cursor, a ``#sync``) makes the accounts it concerns due now, so that
polling re-lists and diffs them. What each stream reveals, and to whom: docs/streams.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..model import iso

if TYPE_CHECKING:
    from ..config import Settings
    from ..streams import StreamClient, StreamEvent
    from ._daemon import Collector

__all__ = ["DEFAULT_FIREHOSE", "DEFAULT_JETSTREAM", "StreamPump", "make_streams"]

DEFAULT_FIREHOSE = "wss://bsky.network"
DEFAULT_JETSTREAM = "wss://jetstream2.us-east.bsky.network"
STATE_PREFIX = "stream:"


def _lag(ev: StreamEvent, now: datetime) -> float | None:
    """Seconds between an event's own time (Jetstream's ``time_us`` cursor) and now."""
    if ev.source == "jetstream" and ev.cursor and ev.cursor.isdigit():
        return max(0.0, now.timestamp() - int(ev.cursor) / 1e6)
    return None


def make_streams(settings: Settings, rows: Iterable[Mapping[str, Any]], *,
                 proxy: str | None, env: Mapping[str, str],
                 cursors: Mapping[str, Any], mastodon_token: str | None = None,
                 mastodon_instance: str | None = None, **kw: Any
                 ) -> dict[str, StreamClient]:
    """The stream clients the settings turn on, for the watched ``rows``, each resumed
    from its saved cursor (``cursors``: ``stream:<name>`` → cursor). ``kw`` goes to
    every client (tests: ``clock``, ``sleep``, ``connect``)."""
    from .. import net
    from ..sources.mastodon import token_scope
    from ..streams import FirehoseClient, JetstreamClient, MastodonStream
    from ._pool import host_of

    rows = list(rows)
    dids = sorted({str(r["account_id"]) for r in rows if r["platform"] == "bluesky"})
    out: dict[str, StreamClient] = {}

    def settings_for(url: str) -> Any:
        return net.settings(proxy=proxy, env=env, services=[url])

    def cursor(name: str) -> str | None:
        c = cursors.get(STATE_PREFIX + name)
        return None if c is None else str(c)

    if dids and settings["streams.firehose"]:
        url = str(settings["streams.firehose_url"] or DEFAULT_FIREHOSE)
        out["firehose"] = FirehoseClient(url, dids, net=settings_for(url),
                                         services=[url], cursor=cursor("firehose"), **kw)
    if dids and settings["streams.jetstream"]:
        url = str(settings["streams.jetstream_url"] or DEFAULT_JETSTREAM)
        out["jetstream"] = JetstreamClient(url, dids, net=settings_for(url),
                                           services=[url], cursor=cursor("jetstream"), **kw)
    if settings["streams.mastodon"] and mastodon_token:
        scope = token_scope(mastodon_token, mastodon_instance)
        by_instance: dict[str, list[str]] = {}
        for r in rows:
            if r["platform"] != "mastodon":
                continue
            base = str(r.get("service") or f"https://{host_of(r)}").rstrip("/")
            by_instance.setdefault(base, []).append(str(r["account_id"]))
        for base, ids in sorted(by_instance.items()):
            if not scope.allows(base):  # a user stream needs the instance's own token
                continue
            name = f"mastodon:{host_of({'service': base, 'platform': 'mastodon'})}"
            out[name] = MastodonStream(base, token=mastodon_token,
                                       token_instance=mastodon_instance, watched=ids,
                                       net=settings_for(base), services=[base], **kw)
    return out


class StreamPump:
    """Runs the collector's streams: ``await pump.run()`` until cancelled."""

    def __init__(self, col: Collector, clients: Mapping[str, StreamClient],
                 rows: Iterable[Mapping[str, Any]]) -> None:
        self.col = col
        self.clients = dict(clients)
        self.rows = {str(r["account_id"]): dict(r) for r in rows}
        self.checks = 0

    def _state(self, name: str, **values: Any) -> None:
        st = self.col.streams.setdefault(name, {"connected": False, "events": 0,
                                                "lag_s": None, "cursor": None})
        st.update(values)

    async def run(self) -> None:
        tasks = [asyncio.create_task(self._one(name, c)) for name, c in self.clients.items()]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            for c in self.clients.values():
                await c.close()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _one(self, name: str, client: StreamClient) -> None:
        queue: asyncio.Queue[StreamEvent] = asyncio.Queue()
        self._state(name, cursor=client.cursor)

        async def read() -> None:
            async for ev in client.events():
                queue.put_nowait(ev)

        reader = asyncio.create_task(read())
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, reader},
                                             return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    reader.result()  # the stream ended: its error is the collector's
                    return
                batch = [getter.result()]
                while not queue.empty():
                    batch.append(queue.get_nowait())
                await self.handle(name, client, batch)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - this stream stops; polling goes on
            self._state(name, connected=False, error=str(e)[:300])
            self.col._report(e)
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def handle(self, name: str, client: StreamClient, batch: list[StreamEvent]
                     ) -> None:
        """One batch of events: gaps make accounts due, the rest is checked per account;
        then the cursor is saved."""
        col, ctx = self.col, self.col.ctx
        now = ctx.now()
        due: dict[int, datetime] = {}
        per_account: dict[str, list[StreamEvent]] = {}
        for ev in batch:
            if ev.kind == "gap":
                for aid in ([ev.account_id] if ev.account_id else self._accounts_of(client)):
                    row = self.rows.get(aid)
                    if row is not None:
                        due[int(row["id"])] = now
            elif ev.account_id in self.rows:
                per_account.setdefault(str(ev.account_id), []).append(ev)
        if due:
            await col.writer.run(lambda: ctx.store.reschedule(due, now))
        for aid, events in per_account.items():
            await self._check(self.rows[aid], events)
        cursor = client.cursor
        if cursor is not None:
            await col.writer.run(lambda: ctx.store.set_state(STATE_PREFIX + name, cursor, now))
        last = batch[-1]
        st = col.streams.get(name, {})
        self._state(name, connected=True, cursor=cursor, lag_s=_lag(last, now),
                    events=int(st.get("events", 0)) + len(batch),
                    last_event_at=iso(last.received_at), connects=client.connects)

    def _accounts_of(self, client: StreamClient) -> list[str]:
        platform = client.platform
        watched = getattr(client, "watched", None)
        if isinstance(watched, frozenset) and watched:
            return sorted(watched)
        return [a for a, r in self.rows.items() if r["platform"] == platform]

    async def _check(self, row: dict[str, Any], events: list[StreamEvent]) -> None:
        from ..watch.runner import persist
        from ..watch.streamcheck import RETRIES, observe_stream

        col, ctx = self.col, self.col.ctx

        async def once() -> Any:
            obs = await observe_stream(ctx, row, events, col.pool.clients)
            return await col.writer.run(lambda: persist(ctx, obs))

        try:
            res = await once()
            for _ in range(RETRIES - 1):  # a poll stored first: again, on the fresh state
                if res.outcome != "stale":
                    break
                res = await once()
        except Exception as e:  # noqa: BLE001 - this check's failure, reported
            col._report(e)
            return
        self.checks += 1
        col._record(res)
