"""A check of one watched account made from what a platform's stream said about it.

A stream (the AT Protocol firehose, Jetstream, Mastodon streaming: ``unerased.streams``)
tells in seconds what polling finds in minutes or never (a post written and erased
between two polls). :func:`check_from_stream` turns a batch of one account's stream
events into one check, stored like a poll check (``watch/_persist.py``: one store
transaction, the same compare-and-set):

- every event's capture (the raw message: for a firehose commit, with its signed commit
  block) is stored as evidence, whatever else happens;
- the posts the events carry (creates, updates) are sightings, so their content is
  archived the moment it is written: an incomplete :class:`~unerased.model.Listing`
  (the stream's silence about other posts means nothing);
- a deletion the stream announced is looked up directly through the account's source
  (the same Recorder, clients, proxy and host lock as a poll), after an account check:
  ``detect(..., announced=...)`` then confirms it at once when the platform's answer is
  GONE, refutes it when the post is there, and leaves it to the confirming checks when
  the answer was an error (docs/detection.md, P29–P36);
- an account event (``#account`` takendown, deactivated…) or an identity event makes an
  account check at once: an explicit status the platform states counts at once (A4–A16,
  A28); the stream's own word is never taken for it.

A create or update received before the post was declared deleted (a replay after a
reconnect) is kept as evidence but is no sighting: it never "restores" the post.

Events of other kinds (``sync``, ``gap``) are stored as evidence only: re-listing after a
gap is the collector's business (it polls the account).

A stream check is not a poll: it never moves ``last_check``, never postpones the next
poll (polling stays the safety net for what a stream drops), and brings the next poll
forward when something awaits confirmation. A check that finds a more recent poll stored
since it began (``stale``) is made again on the fresh state (``RETRIES`` times), then
reported ``stale`` (its captures are kept).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from ..errors import SourceError, UnerasedError, one_line
from ..model import AccountCheck, Capture, Listing, PostSnapshot, PostStatus
from ..sources import Recorder, Source
from . import detect as d
from ._persist import (
    STALE,
    CheckOutcome,
    Observation,
    account_state,
    known_states,
    label,
    media_to_fetch,
    persist_observation,
    split_history,
    versions_to_store,
)
from ._sources import make_source
from .runner import Clients, RunContext, describe, host_lock

__all__ = [
    "ACCOUNT_KINDS",
    "POST_KINDS",
    "RETRIES",
    "StreamEventLike",
    "check_from_stream",
    "observe_stream",
]

POST_KINDS = frozenset({"create", "update"})
"""Stream events that carry a post's content (``snapshot``)."""
ACCOUNT_KINDS = frozenset({"account", "identity"})
"""Stream events that make the account be checked directly at once."""
RETRIES = 3
"""How many times a check found stale is made again before it is reported ``stale``."""


class StreamEventLike(Protocol):
    """What a check uses of ``unerased.streams.StreamEvent`` (shared contract 2 of issue
    10): ``kind`` (create, update, delete, account, identity, sync, gap), ``account_id``
    (DID or ``id@host``), ``post_id`` (as the source's ``PostSnapshot.post_id``),
    ``snapshot`` (create/update), ``status`` (account events), ``received_at`` and
    ``capture`` (the raw message)."""

    @property
    def kind(self) -> str: ...
    @property
    def account_id(self) -> str | None: ...
    @property
    def post_id(self) -> str | None: ...
    @property
    def snapshot(self) -> PostSnapshot | None: ...
    @property
    def status(self) -> str | None: ...
    @property
    def received_at(self) -> datetime: ...
    @property
    def capture(self) -> Capture: ...


async def check_from_stream(
    ctx: RunContext, row: Mapping[str, Any], events: Sequence[StreamEventLike],
    clients: Clients | None = None,
) -> CheckOutcome:
    """One check of the watched account ``row`` from its stream ``events`` (oldest
    first), persisted in one transaction (module docstring). Events about another account
    are a caller's error (SourceError, nothing stored)."""
    if clients is None:
        async with Clients(ctx) as own:
            return await check_from_stream(ctx, row, events, own)
    out = persist_observation(ctx, await observe_stream(ctx, row, events, clients))
    for _ in range(RETRIES - 1):
        if out.outcome != STALE:
            break
        out = persist_observation(ctx, await observe_stream(ctx, row, events, clients))
    return out


async def observe_stream(
    ctx: RunContext, row: Mapping[str, Any], events: Sequence[StreamEventLike],
    clients: Clients,
) -> Observation:
    """The check of :func:`check_from_stream`, not stored yet. Requests are made only
    when there is something to confirm (an announced deletion, an account event) or
    media to fetch."""
    now = ctx.now()
    cfg = ctx.config
    fresh, known = ctx.store.check_state(int(row["id"]))
    if fresh is None:
        raise SourceError(f"{label(row)} is no longer in the archive")
    account_id = str(fresh["account_id"])
    for ev in events:
        whose = _whose(ev)
        if whose is not None and whose != account_id:
            raise SourceError(f"a stream event of {whose} given to the check of "
                              f"{label(fresh)}")
    obs = Observation(fresh, now, [ev.capture for ev in events], AccountCheck(None),
                      known=known_states(known), stream=True)
    obs.listing, obs.history = _stream_listing(events, obs.known)
    obs.announced = _announced(events)
    ask = bool(obs.announced) or any(ev.kind in ACCOUNT_KINDS for ev in events)
    if ask or (cfg.fetch_media and _any_media(obs)):
        try:
            proxy = ctx.proxy_for(fresh)
        except UnerasedError as e:  # no usable proxy: nothing is sent, the stream is kept
            obs.error = one_line(str(e))
            return _sightings_only(ctx, obs)
        async with host_lock(ctx, fresh):
            rec = Recorder(clients.get(proxy))
            try:
                src = make_source(fresh["platform"], rec, fresh["service"], cfg.source_options)
                await _confirm(ctx, src, obs, ask)
            except Exception as e:  # a bug, or a source error escaping: this check's error
                obs.error, obs.traceback = describe(e)
            finally:
                obs.captures = obs.captures + rec.captures
    return obs if obs.detection is not None else _sightings_only(ctx, obs)


def _sightings_only(ctx: RunContext, obs: Observation) -> Observation:
    """Nothing asked, or the asking failed before detection: the sightings alone (what
    the stream showed is archived whatever went wrong; nothing is judged)."""
    obs.check, obs.lookups = AccountCheck(None), []
    if obs.error is not None:
        obs.announced = {}
    obs.detection = d.detect(account_state(obs.row), obs.known, obs.check, obs.listing, [],
                             obs.now, ctx.config.detect, announced=obs.announced)
    return obs


async def _confirm(ctx: RunContext, src: Source, obs: Observation, ask: bool) -> None:
    """The account check and the direct lookups of the announced deletions, detection,
    then the media of the new versions."""
    cfg, now, row = ctx.config, obs.now, obs.row
    acct = account_state(row)
    if ask:
        try:
            obs.check = await src.check_account(row["account_id"])
            nxt = d.next_account_state(acct, obs.check, now, cfg.detect)
            # only the announced ids: the rest is the polls' business
            ids = [pid for pid in d.plan_lookups(obs.known, obs.listing, nxt, now, cfg.detect,
                                                 announced=obs.announced)
                   if pid in obs.announced][: cfg.max_lookups]
            if ids and obs.check.snapshot is not None:
                obs.lookups = list(await src.lookup_posts(row["account_id"], ids))
        except SourceError as e:
            obs.check = AccountCheck(None, error=str(e))
            obs.error = one_line(str(e))
        if obs.check.snapshot is None:
            obs.error = obs.error or one_line(obs.check.error or "no usable answer")
    obs.detection = d.detect(acct, obs.known, obs.check, obs.listing, obs.lookups, now,
                             cfg.detect, announced=obs.announced)
    if cfg.fetch_media:
        for url in media_to_fetch(versions_to_store(obs.detection, obs)):
            data = await src.fetch_media(url)
            if data is not None:
                obs.media[url] = data


def _stream_listing(events: Sequence[StreamEventLike], known: Mapping[str, d.PostState]
                    ) -> tuple[Listing | None, dict[str, list[PostSnapshot]]]:
    """The posts the events showed, as an incomplete listing (each version observed when
    its message arrived), older versions of one post as history. A message received
    before the post was declared deleted (a replay after a reconnect) is no sighting: it
    must not "restore" it (its capture is kept all the same)."""
    snaps: list[PostSnapshot] = []
    caps: list[str] = []
    for ev in events:
        sn = ev.snapshot
        if ev.kind not in POST_KINDS or sn is None or sn.deleted:
            continue
        held = known.get(sn.post_id)
        if (held is not None and held.status == PostStatus.DELETED
                and held.deleted_at is not None
                and _aware(ev.received_at) <= _aware(held.deleted_at)):
            continue
        snaps.append(sn if sn.observed_at is not None
                     else replace(sn, observed_at=ev.received_at))
        caps.append(ev.capture.id)
    if not snaps:
        return None, {}
    return split_history(Listing(posts=snaps, complete=False, capture_ids=tuple(caps),
                                 error="a stream shows only what it announces"))


def _announced(events: Sequence[StreamEventLike]) -> dict[str, d.Announcement]:
    """The deletions the events announced: post id → the messages' captures and when the
    first arrived."""
    out: dict[str, d.Announcement] = {}
    for ev in events:
        if ev.kind != "delete" or not ev.post_id:
            continue
        was = out.get(ev.post_id)
        cid = ev.capture.id
        if was is None:
            out[ev.post_id] = d.Announcement(capture_ids=(cid,), at=ev.received_at)
        elif cid not in was.capture_ids:
            out[ev.post_id] = replace(was, capture_ids=(*was.capture_ids, cid))
    return out


def _whose(ev: StreamEventLike) -> str | None:
    """The account an event is about, as far as it says (its own field, else the DID in
    an at:// post URI, else the snapshot's account)."""
    if ev.account_id is not None:
        return ev.account_id
    if ev.post_id and ev.post_id.startswith("at://"):
        return ev.post_id[len("at://"):].split("/", 1)[0]
    return ev.snapshot.account_id if ev.snapshot is not None else None


def _any_media(obs: Observation) -> bool:
    return obs.listing is not None and any(
        m.url and m.content is None for sn in obs.listing.posts for m in sn.media)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
