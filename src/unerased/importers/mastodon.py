"""Import a Mastodon account archive ("Request your archive": a zip, or the ``.tar.gz``
that older Mastodon versions wrote).

Layout, as Mastodon's ``BackupService`` writes it: ``actor.json`` (the ActivityPub
``Person``, with ``icon``/``image`` pointing at ``avatar.*``/``header.*`` in the zip),
``outbox.json`` (an ``OrderedCollection`` whose ``orderedItems`` are ``Create``
activities wrapping ``Note``/``Question`` objects, and ``Announce`` activities for
boosts, whose object is a URI), ``likes.json``, ``bookmarks.json`` (URIs of other
people's posts: not imported) and the media files under ``media_attachments/files/…``
(attachment ``url`` values are those paths, with Mastodon's ``/system/`` prefix
removed).

``outbox.json`` is streamed with ijson, so a many-hundred-megabyte outbox never sits in
memory whole. Everything in the archive is hostile input: any problem raises
:class:`ArchiveError` with one line.

The outbox holds every status the account wrote, including followers-only and direct
messages; :func:`mastodon_visibility` tells which is which from the ``raw`` activity.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain, islice
from typing import Any
from urllib.parse import urlsplit

import ijson

from ..model import AccountSnapshot, AccountStatus, MediaItem, PostSnapshot
from ..text.hostile import html_to_text, iso_version, safe_datetime, safe_str
from ._errors import ArchiveError
from ._json_guard import JsonGuard
from ._meter import Meter
from .safetar import ArchiveFiles, open_archive

__all__ = [
    "DEFAULT_MAX_JSON_SIZE",
    "DEFAULT_MAX_MEDIA_SIZE",
    "Progress",
    "iter_mastodon_archive",
    "mastodon_visibility",
]

DEFAULT_MAX_MEDIA_SIZE = 256 << 20
"""Media files declared larger than this are listed without their bytes (Mastodon's
own upload limit is about 100 MB)."""
DEFAULT_MAX_JSON_SIZE = 64 << 20
"""Largest ``actor.json`` read whole (the outbox is streamed and has no such limit)."""

_PUBLIC = {"https://www.w3.org/ns/activitystreams#Public", "as:Public", "Public"}
_MEDIA_TYPES = {"Document", "Image", "Video", "Audio"}
_USERNAME_RE = re.compile(r"[^\s@/]{1,255}")
_MAX_DEPTH = 100
"""Deepest JSON nesting accepted in outbox.json (real items nest about 6 deep)."""
MAX_ITEM_BYTES = 64 << 20
"""Largest single outbox item (one activity) accepted."""
MAX_STRING_BYTES = 16 << 20
"""Longest JSON string accepted in outbox.json (a status is at most some kilobytes)."""
_READ = 1 << 20  # outbox.json is read in 1 MiB pieces (yajl re-lexes tokens spanning reads)

Progress = Callable[[int, int], None]
"""``progress(bytes_done, bytes_total)``, as for the other importers."""


_Meter = Meter


class _Counted:
    """A binary reader that tells the meter how many bytes went through it, and puts
    every chunk through a :class:`JsonGuard` before the parser sees it (no string or
    number long enough to make yajl quadratic, no item over ``MAX_ITEM_BYTES``, no
    nesting past ``_MAX_DEPTH``)."""

    def __init__(self, inner: Any, meter: _Meter, fail: Callable[[str], ArchiveError]) -> None:
        self._inner, self._meter, self._fail = inner, meter, fail
        self._guard = JsonGuard(max_depth=_MAX_DEPTH + 2, max_item=MAX_ITEM_BYTES,
                                item_depth=2, max_string=MAX_STRING_BYTES)
        self._offset = 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._inner.read(size)
        if data:
            problem = self._guard.feed(data, self._offset)
            if problem is not None:
                raise self._fail(problem)
            self._offset += len(data)
            self._meter.add(len(data))
        return data


# -- small helpers -----------------------------------------------------------------


def _one_line(e: BaseException) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    text = lines[0] if lines else type(e).__name__
    if text.startswith(("b'", 'b"')):  # ijson reports yajl errors as bytes reprs
        text = text[2:].rstrip("'\"").split("\\n")[0]
    return text[:200]


def _split(url: str) -> tuple[str, str, str] | None:
    """(scheme, host[:port], path) of a URL, None when it does not parse."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:  # bad port, bad IPv6 literal…
        return None
    if not host:
        return None
    return parts.scheme, host + (f":{port}" if port else ""), parts.path


def _url_of(value: Any) -> str | None:
    """ActivityPub ``url`` may be a string, a Link object or a list of either."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("href")
    return value if isinstance(value, str) else None


def mastodon_visibility(activity: Mapping[str, Any]) -> str:
    """``public``, ``unlisted``, ``private`` (followers only) or ``direct``, from an
    outbox activity's (or object's) ``to``/``cc`` addressing, as Mastodon decides it."""

    def audience(key: str) -> list[str]:
        value = activity.get(key)
        if isinstance(value, str):
            return [value]
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    to, cc = audience("to"), audience("cc")
    if _PUBLIC.intersection(to):
        return "public"
    if _PUBLIC.intersection(cc):
        return "unlisted"
    if any(a.endswith("/followers") for a in to + cc):
        return "private"
    return "direct"


# -- the archive ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ctx:
    path: str
    account_id: str
    statuses_prefix: str  # "<actor id>/statuses/"
    prefix: str  # folder inside the zip holding outbox.json ("" normally)
    names: frozenset[str]
    max_media_size: int
    meter: _Meter

    def fail(self, problem: str) -> ArchiveError:
        return ArchiveError(self.path, problem, member=self.prefix + "outbox.json")

    def ref(self, uri: str | None) -> str | None:
        """A status URI as a post id: our own statuses by their number, others by URI."""
        if uri is None:
            return None
        if uri.startswith(self.statuses_prefix):
            rest = uri[len(self.statuses_prefix) :].removesuffix("/activity")
            if rest and "/" not in rest:
                return rest
        return uri


def _root_prefix(path: str, names: list[str]) -> str:
    """``""`` when outbox.json is at the top, or the one folder holding it (an archive
    unpacked and zipped again)."""
    if "outbox.json" in names:
        return ""
    nested = sorted((n for n in names if n.endswith("/outbox.json")), key=lambda n: n.count("/"))
    if nested and nested[0].count("/") == 1:
        return nested[0][: -len("outbox.json")]
    raise ArchiveError(path, "not a Mastodon archive: no outbox.json")


def _read_json(zf: ArchiveFiles, path: str, name: str, limit: int) -> Any:
    raw = zf.read(name, limit)
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except (ValueError, RecursionError) as e:
        raise ArchiveError(path, f"not valid JSON ({_one_line(e)})", member=name) from None


def _iter_outbox(
    zf: ArchiveFiles, path: str, name: str, meter: _Meter
) -> Iterator[Any]:
    """Stream the ``orderedItems`` of outbox.json.

    Built on ijson's ``basic_parse`` (C lexer, no prefixes) with an iterative builder
    that refuses nesting deeper than ``_MAX_DEPTH``: ijson's prefixed parsers use time
    and memory quadratic in the nesting depth, which a hostile file can exploit."""

    def fail(problem: str) -> ArchiveError:
        return ArchiveError(path, problem, member=name)

    top: dict[str, Any] = {}
    items: list[Any] = []  # marker object: never filled, items are yielded instead
    stack: list[Any] = []  # containers being built; stack[0] is ``top``
    keys: list[str | None] = []  # current key of each dict on the stack
    seen_items = False
    stream = zf.open(name)
    try:
        events = ijson.basic_parse(_Counted(stream, meter, fail), use_float=True,
                                   buf_size=_READ)
        while True:
            try:
                event, value = next(events)
            except StopIteration:
                break
            except ArchiveError:
                raise
            except Exception as e:  # ijson, zip stream, decoding: all one line
                raise fail(f"not valid JSON ({_one_line(e)})") from None
            if event == "map_key":
                keys[-1] = value
                continue
            if event in ("end_map", "end_array"):
                value = stack.pop()
                keys.pop()
                if value is items:
                    continue
            elif event in ("start_map", "start_array"):
                if not stack:
                    if event != "start_map":
                        raise fail("not a JSON object")
                    stack.append(top)
                    keys.append(None)
                    continue
                if len(stack) > _MAX_DEPTH:
                    raise fail(f"nested more than {_MAX_DEPTH} deep")
                parent = stack[-1]
                if parent is top and keys[-1] == "orderedItems":
                    if event != "start_array":
                        raise fail("orderedItems is not a list")
                    seen_items = True
                    stack.append(items)
                    keys.append(None)
                    continue
                stack.append({} if event == "start_map" else [])
                keys.append(None)
                continue
            # a complete value (scalar, or the container just closed) goes to its parent
            if not stack:
                if event != "end_map":
                    raise fail("not a JSON object")
                continue
            parent = stack[-1]
            if parent is items:
                yield value
            elif parent is top:
                if keys[-1] == "orderedItems":
                    raise fail("orderedItems is not a list")
            elif isinstance(parent, dict):
                parent[keys[-1] or ""] = value
            else:
                parent.append(value)
        if not seen_items:
            raise fail("no orderedItems list")
    finally:
        stream.close()


def _account(
    path: str, actor: Any, first: Any
) -> tuple[AccountSnapshot, str]:
    """The account snapshot and the actor id, from actor.json (or, without it, from
    the first outbox activity)."""
    if actor is None:
        actor_id = safe_str(first.get("actor")) if isinstance(first, dict) else None
        if actor_id is None:
            raise ArchiveError(path, "no actor.json and no outbox activity naming the account")
        actor = {"id": actor_id}
    if not isinstance(actor, dict):
        raise ArchiveError(path, "not a JSON object", member="actor.json")
    actor_id = safe_str(actor.get("id"))
    parts = _split(actor_id) if actor_id is not None else None
    if actor_id is None or parts is None or parts[0] not in ("https", "http"):
        raise ArchiveError(path, "no valid actor id", member="actor.json")
    _scheme, host, actor_path = parts
    username = safe_str(actor.get("preferredUsername")) or actor_path.rstrip("/").rsplit("/", 1)[-1]
    if not _USERNAME_RE.fullmatch(username):
        raise ArchiveError(path, "no valid preferredUsername", member="actor.json")
    summary = safe_str(actor.get("summary"))
    fields: list[dict[str, str]] = []
    attachments = actor.get("attachment")
    for att in attachments if isinstance(attachments, list) else []:
        if isinstance(att, dict) and att.get("type") == "PropertyValue":
            fields.append({
                "name": safe_str(att.get("name")) or "",
                "value": html_to_text(safe_str(att.get("value")) or ""),
            })
    icon, image = actor.get("icon"), actor.get("image")
    also = actor.get("alsoKnownAs")
    # keys as the Mastodon source writes them from the API's Account entity
    profile: dict[str, Any] = {
        "uri": actor_id,
        "avatar": _url_of(icon.get("url")) if isinstance(icon, dict) else None,
        "header": _url_of(image.get("url")) if isinstance(image, dict) else None,
        "fields": fields,
        "locked": actor.get("manuallyApprovesFollowers") is True,
        "discoverable": actor.get("discoverable") is True,
        "memorial": actor.get("memorial") is True,
        "moved_to": safe_str(actor.get("movedTo")),
        "also_known_as": [a for a in also if isinstance(a, str)] if isinstance(also, list) else [],
    }
    if summary is not None:
        profile["note_html"] = summary
        profile["note"] = html_to_text(summary)
    handle = f"{username}@{host}"
    snap = AccountSnapshot(
        platform="mastodon",
        account_id=handle,
        handle=handle,
        display_name=safe_str(actor.get("name")),
        status=AccountStatus.SUSPENDED if actor.get("suspended") is True else AccountStatus.ACTIVE,
        profile=profile,
        url=_url_of(actor.get("url")),
        created_at=safe_datetime(actor.get("published")),
    )
    return snap, actor_id


def _media(zf: ArchiveFiles, ctx: _Ctx, attachments: Any) -> list[MediaItem]:
    out: list[MediaItem] = []
    for att in attachments if isinstance(attachments, list) else []:
        if not isinstance(att, dict) or safe_str(att.get("type")) not in _MEDIA_TYPES:
            continue  # e.g. a {"type": "Link"} preview card
        url = _url_of(att.get("url"))
        if url is None:
            continue
        absolute = url.startswith(("https://", "http://"))
        parts = _split(url) if absolute else None
        path = parts[2] if parts else ("" if absolute else url)  # "" when it does not parse
        rel = path.lstrip("/").removeprefix("system/")
        candidates = [rel] if rel else []
        if "media_attachments/" in rel:
            candidates.append(rel[rel.index("media_attachments/") :])
        member = next((ctx.prefix + c for c in candidates if ctx.prefix + c in ctx.names), None)
        content: bytes | None = None
        if member is not None and not member.endswith("/"):
            size = zf.size(member)
            if size <= ctx.max_media_size:
                content = zf.read(member, ctx.max_media_size)
            ctx.meter.add(size)
        mime = safe_str(att.get("mediaType")) or None
        if mime is None:
            kind = "other"
        elif mime == "image/gif":
            kind = "gif"
        else:
            top = mime.split("/", 1)[0]
            kind = top if top in ("image", "video", "audio") else "other"
        out.append(MediaItem(
            url=url if absolute else None, filename=posixpath.basename(rel) or None,
            mime=mime, content=content, alt=safe_str(att.get("name")), kind=kind,
        ))
    return out


def _text(obj: Mapping[str, Any]) -> str:
    """Content warning, blank line, content as text, then poll options as ``- option``
    lines: the same text the Mastodon source derives from the API, so an imported
    status and a watched one hash alike."""
    parts: list[str] = []
    cw = safe_str(obj.get("summary"))
    if cw:
        parts.append(cw)
    body = html_to_text(safe_str(obj.get("content")) or "")
    if body:
        parts.append(body)
    options: list[str] = []
    for key in ("oneOf", "anyOf"):
        value = obj.get(key)
        for opt in value if isinstance(value, list) else []:
            name = safe_str(opt.get("name")) if isinstance(opt, dict) else None
            if name:
                options.append(f"- {name}")
    if options:
        parts.append("\n".join(options))
    return "\n\n".join(parts)


def _snapshot(zf: ArchiveFiles, ctx: _Ctx, n: int, item: Any) -> PostSnapshot | None:
    if not isinstance(item, dict):
        raise ctx.fail(f"item {n} is not an object")
    kind = item.get("type")
    if kind == "Announce":
        activity_id = safe_str(item.get("id"))
        if activity_id is None:
            raise ctx.fail(f"item {n}: Announce without id")
        obj = item.get("object")
        created = safe_datetime(item.get("published"))
        target = safe_str(obj) or (safe_str(obj.get("id")) if isinstance(obj, dict) else None)
        return PostSnapshot(
            platform="mastodon", account_id=ctx.account_id,
            post_id=ctx.ref(activity_id) or activity_id, text="",
            created_at=created, kind="repost", repost_of=ctx.ref(target),
            version_key=iso_version(created) if created else None, raw=item,
        )
    if kind != "Create":
        return None  # other activity types carry no post of ours
    obj = item.get("object")
    if not isinstance(obj, dict):
        return None  # a bare URI: nothing to import
    uri = safe_str(obj.get("id"))
    if uri is None:
        raise ctx.fail(f"item {n}: object without id")
    content = safe_str(obj.get("content"))
    content_map = obj.get("contentMap")
    lang = next(iter(content_map), None) if isinstance(content_map, dict) else None
    reply_to = ctx.ref(safe_str(obj.get("inReplyTo")))
    quotes = (obj.get("quote"), obj.get("quoteUri"), obj.get("_misskey_quote"))
    quote_of = ctx.ref(next((q for q in quotes if isinstance(q, str)), None))
    updated = safe_datetime(obj.get("updated"))
    created = safe_datetime(obj.get("published")) or safe_datetime(item.get("published"))
    version = updated or created
    return PostSnapshot(
        platform="mastodon", account_id=ctx.account_id,
        post_id=ctx.ref(uri) or uri, text=_text(obj),
        created_at=created,
        url=_url_of(obj.get("url")), html=content,
        kind="reply" if reply_to else ("quote" if quote_of else "post"),
        reply_to=reply_to, quote_of=quote_of, lang=lang if isinstance(lang, str) else None,
        edited_at=updated, version_key=iso_version(version) if version else None,
        media=tuple(_media(zf, ctx, obj.get("attachment"))), raw=item,
    )


def iter_mastodon_archive(
    path: str | os.PathLike[str],
    *,
    progress: Progress | None = None,
    max_media_size: int = DEFAULT_MAX_MEDIA_SIZE,
    max_json_size: int = DEFAULT_MAX_JSON_SIZE,
    zip_limits: Mapping[str, Any] | None = None,
) -> Iterator[AccountSnapshot | PostSnapshot]:
    """Snapshots from a Mastodon archive (the zip, or the ``.tar.gz`` that older Mastodon
    versions wrote; both read defensively): first the :class:`AccountSnapshot`
    (account_id ``username@host`` from the actor id), then one :class:`PostSnapshot` per
    status in ``outbox.json`` order — posts, replies, quotes and boosts (kind
    ``repost``), media bytes attached from the zip.

    ``progress(bytes_done, bytes_total)`` is called as outbox.json and media are read
    (about every MiB, and once at the end). ``max_media_size``: media files declared
    larger are listed without their bytes. ``zip_limits``: keyword arguments for
    :class:`SafeZip` / :class:`SafeTar` (the same caps for both). Raises :class:`ArchiveError` (one line) and nothing else.
    """
    p = os.fspath(path)
    with open_archive(p, **dict(zip_limits or {})) as zf:
        names = zf.names()
        prefix = _root_prefix(p, names)
        outbox = prefix + "outbox.json"
        actor_name = prefix + "actor.json"
        media_prefix = prefix + "media_attachments/"
        meter = _Meter(
            zf.size(outbox) + sum(zf.size(n) for n in names
                                  if n.startswith(media_prefix) and not n.endswith("/")),
            progress,
        )
        actor = _read_json(zf, p, actor_name, max_json_size) if actor_name in names else None
        items = _iter_outbox(zf, p, outbox, meter)
        head = list(islice(items, 1))
        account, actor_id = _account(p, actor, head[0] if head else None)
        yield account
        ctx = _Ctx(
            path=p, account_id=account.account_id,
            statuses_prefix=actor_id.rstrip("/") + "/statuses/", prefix=prefix,
            names=frozenset(names), max_media_size=max_media_size, meter=meter,
        )
        for n, item in enumerate(chain(head, items)):
            snap = _snapshot(zf, ctx, n, item)
            if snap is not None:
                yield snap
        meter.finish()
