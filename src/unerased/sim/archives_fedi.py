"""Generators of fediverse archives in the platforms' real layouts, for tests and demos.

- :func:`make_mastodon_archive` writes a Mastodon "Request your archive" zip: ``actor.json``
  (ActivityPub Person), ``outbox.json`` (OrderedCollection of ``Create``/``Announce``
  activities as Mastodon's BackupService writes them), ``likes.json``,
  ``bookmarks.json``, ``avatar.png``/``header.jpg`` and ``media_attachments/files/…``.
- :func:`make_bluesky_car` writes a repository CAR as ``com.atproto.sync.getRepo``
  returns it: CAR v1, root = commit ``{did, version: 3, data, rev, prev, sig}``, a
  Merkle Search Tree built per the atproto repository spec, DAG-CBOR records with CIDv1
  (dag-cbor, sha256) links.

Both return a spec listing what was generated, so tests can assert field by field.
The lower-level CAR helpers (:func:`build_repo_car`, :func:`build_mst`,
:func:`encode_car`, :func:`mst_layer`) are public for tests that need odd repositories.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import libipld

from .._files import private_file

__all__ = [
    "ArchiveSpec",
    "GenMedia",
    "GenPost",
    "RepoBuild",
    "build_mst",
    "build_repo_car",
    "cid_for",
    "dag_cbor_block",
    "encode_car",
    "make_bluesky_car",
    "make_mastodon_archive",
    "mst_layer",
    "tid",
]

_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
_AS_CONTEXT: list[Any] = [
    "https://www.w3.org/ns/activitystreams",
    {
        "ostatus": "http://ostatus.org#",
        "atomUri": "ostatus:atomUri",
        "inReplyToAtomUri": "ostatus:inReplyToAtomUri",
        "conversation": "ostatus:conversation",
        "sensitive": "as:sensitive",
        "toot": "http://joinmastodon.org/ns#",
        "votersCount": "toot:votersCount",
        "blurhash": "toot:blurhash",
        "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
        "Hashtag": "as:Hashtag",
    },
]


@dataclass(frozen=True, slots=True)
class GenMedia:
    filename: str  # file name (Mastodon, its path is in spec.extra) or blob CID (Bluesky)
    mime: str
    alt: str | None
    content: bytes | None  # None when the archive does not hold the bytes
    kind: str


@dataclass(frozen=True, slots=True)
class GenPost:
    """What an importer should produce for one generated post."""

    post_id: str
    kind: str  # post | reply | repost | quote
    text: str
    created_at: datetime
    url: str | None = None
    html: str | None = None
    lang: str | None = None
    reply_to: str | None = None
    repost_of: str | None = None
    quote_of: str | None = None
    edited_at: datetime | None = None
    cw: str | None = None
    visibility: str = "public"
    media: tuple[GenMedia, ...] = ()
    version_key: str | None = None


@dataclass(frozen=True, slots=True)
class ArchiveSpec:
    platform: str
    path: Path
    account_id: str
    handle: str | None
    display_name: str
    bio: str
    created_at: datetime
    posts: tuple[GenPost, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)


# -- text ---------------------------------------------------------------------

_ZH = [
    "今天又有朋友的账号被封了", "我们不会忘记", "言论自由不是罪", "记录下来就是抵抗",
    "香港", "六四", "删帖也删不掉记忆", "他们害怕真相", "保重，朋友们", "晚安",
    "新闻又被删除了", "请大家备份自己的文字", "审查", "微博", "这条可能很快会消失",
]
_EN = [
    "archive everything", "they deleted it again", "solidarity with everyone detained",
    "keep a copy", "evidence matters", "good morning", "the account is gone",
    "read this before it disappears", "freedom of expression", "thank you all",
    "R&D notes <draft>", "5 > 3 & 2 < 4",
]


def _sentence(rng: random.Random) -> str:
    parts = [rng.choice(_ZH) if rng.random() < 0.6 else rng.choice(_EN) for _ in range(rng.randint(1, 3))]
    return "，".join(parts) if rng.random() < 0.5 else " ".join(parts)


def _paragraphs(rng: random.Random) -> list[list[str]]:
    return [[_sentence(rng) for _ in range(rng.randint(1, 2))] for _ in range(rng.randint(1, 3))]


def _fake_png(rng: random.Random, size: int = 200) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes(rng.getrandbits(8) for _ in range(size))


# -- Mastodon -------------------------------------------------------------------


def _snowflake(at: datetime, seq: int) -> str:
    return str((int(at.timestamp() * 1000) << 16) | (seq & 0xFFFF))


def _iso_s(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _version(dt: datetime) -> str:
    """Mastodon's version key as the importers and sources write it (ms precision)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _mastodon_html(
    paragraphs: list[list[str]], *, host: str, link: str | None, mention: str | None,
    hashtag: str | None,
) -> tuple[str, str]:
    """(HTML as Mastodon renders it, the plain text an importer should derive)."""
    html_paras: list[str] = []
    text_paras: list[str] = []
    for i, lines in enumerate(paragraphs):
        h = "<br />".join(html.escape(line, quote=False) for line in lines)
        t = "\n".join(lines)
        if i == 0 and mention:
            user, mhost = mention.split("@")
            h = (
                f'<span class="h-card" translate="no"><a href="https://{mhost}/@{user}" '
                f'class="u-url mention">@<span>{user}</span></a></span> ' + h
            )
            t = f"@{user} " + t
        if i == len(paragraphs) - 1 and link:
            scheme, rest = link.split("://", 1)
            h += (
                f' <a href="{html.escape(link)}" target="_blank" rel="nofollow noopener noreferrer" '
                f'translate="no"><span class="invisible">{scheme}://</span>'
                f'<span class="ellipsis">{html.escape(rest[:20])}</span>'
                f'<span class="invisible">{html.escape(rest[20:])}</span></a>'
            )
            t += f" {link}"
        if i == len(paragraphs) - 1 and hashtag:
            h += (
                f' <a href="https://{host}/tags/{hashtag}" class="mention hashtag" rel="tag">'
                f"#<span>{hashtag}</span></a>"
            )
            t += f" #{hashtag}"
        html_paras.append(f"<p>{h}</p>")
        text_paras.append(t)
    return "".join(html_paras), "\n\n".join(text_paras)


def make_mastodon_archive(
    path: str | Path,
    *,
    n_posts: int,
    seed: int = 0,
    username: str = "lin_xiaoyu",
    host: str = "mastodon.example",
    display_name: str = "林晓雨 Lin",
    start: datetime = datetime(2018, 3, 1, tzinfo=UTC),
) -> ArchiveSpec:
    """Write a Mastodon archive zip with ``n_posts`` statuses (posts, replies, boosts,
    quotes, edits, CWs, media, a poll, non-public visibilities)."""
    rng = random.Random(seed)
    out = Path(path)
    actor_id = f"https://{host}/users/{username}"
    followers = f"{actor_id}/followers"
    posts: list[GenPost] = []
    items: list[dict[str, Any]] = []
    media_files: dict[str, bytes] = {}
    own_uris: list[tuple[str, str]] = []  # (uri, id)
    at = start
    for n in range(n_posts):
        at += timedelta(minutes=rng.randint(5, 60 * 24 * 3), seconds=rng.randint(0, 59))
        sid = _snowflake(at, n)
        uri = f"{actor_id}/statuses/{sid}"
        url = f"https://{host}/@{username}/{sid}"
        roll = rng.random()
        if roll < 0.12 and n > 0:  # boost
            if own_uris and rng.random() < 0.3:
                target, target_id = rng.choice(own_uris)
                expected: str = target_id
            else:
                target = f"https://other.example/users/friend{rng.randint(1, 9)}/statuses/{rng.getrandbits(40)}"
                expected = target
            items.append({
                "id": f"{uri}/activity", "type": "Announce", "actor": actor_id,
                "published": _iso_s(at), "to": [_PUBLIC], "cc": [target.split("/statuses/")[0], followers],
                "object": target,
            })
            posts.append(GenPost(post_id=sid, kind="repost", text="", created_at=at,
                                 repost_of=expected, version_key=_version(at)))
            continue
        paragraphs = _paragraphs(rng)
        link = f"https://news.example/articles/{rng.getrandbits(32)}/long-title-here" if rng.random() < 0.2 else None
        mention = f"friend{rng.randint(1, 9)}@other.example" if rng.random() < 0.15 else None
        hashtag = rng.choice(["香港", "freedom", "archive"]) if rng.random() < 0.2 else None
        content, text = _mastodon_html(paragraphs, host=host, link=link, mention=mention, hashtag=hashtag)
        lang = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"
        kind = "post"
        in_reply_to: str | None = None
        reply_expected: str | None = None
        quote: str | None = None
        quote_expected: str | None = None
        if roll < 0.32 and n > 0:
            kind = "reply"
            if own_uris and rng.random() < 0.5:
                in_reply_to, reply_expected = rng.choice(own_uris)
            else:
                in_reply_to = f"https://other.example/users/friend2/statuses/{rng.getrandbits(40)}"
                reply_expected = in_reply_to
        elif roll < 0.37 and own_uris:
            kind = "quote"
            quote, quote_expected = rng.choice(own_uris)
        edited = at + timedelta(minutes=rng.randint(1, 600)) if rng.random() < 0.15 else None
        cw = rng.choice(["政治 politics", "逮捕 arrest news"]) if rng.random() < 0.1 else None
        visibility = rng.choices(["public", "unlisted", "private", "direct"], [80, 10, 7, 3])[0]
        to, cc = {
            "public": ([_PUBLIC], [followers]),
            "unlisted": ([followers], [_PUBLIC]),
            "private": ([followers], []),
            "direct": (["https://other.example/users/friend1"], []),
        }[visibility]
        attachments: list[dict[str, Any]] = []
        gen_media: list[GenMedia] = []
        if rng.random() < 0.25:
            for k in range(rng.randint(1, 2)):
                a, b, c = sid[:3], sid[3:6], sid[6:9]
                rel = f"media_attachments/files/{a}/{b}/{c}/original/{rng.getrandbits(64):016x}.png"
                data = _fake_png(rng)
                stored = rng.random() > 0.1  # some media failed to back up
                if stored:
                    media_files[rel] = data
                alt = rng.choice([None, "抗议现场照片", "a screenshot of the deleted post"])
                cdn = k == 1  # S3/CDN layouts keep a leading slash
                attachments.append({
                    "type": "Document", "mediaType": "image/png", "url": ("/" if cdn else "") + rel,
                    "name": alt, "blurhash": "UCF5?x-=00R*~qxu9FIU4nt7?bD%", "width": 640, "height": 480,
                    "focalPoint": [0.0, 0.0],
                })
                gen_media.append(GenMedia(rel.rsplit("/", 1)[-1], "image/png", alt,
                                          data if stored else None, "image"))
        if link and rng.random() < 0.5:
            attachments.append({"type": "Link", "href": link})  # preview card: not media
        note: dict[str, Any] = {
            "id": uri, "type": "Note", "summary": cw, "inReplyTo": in_reply_to,
            "published": _iso_s(at), "url": url, "attributedTo": actor_id, "to": to, "cc": cc,
            "sensitive": cw is not None, "atomUri": uri, "inReplyToAtomUri": in_reply_to,
            "conversation": f"tag:{host},{at.date().isoformat()}:objectId={rng.getrandbits(24)}:objectType=Conversation",
            "content": content, "contentMap": {lang: content}, "attachment": attachments,
            "tag": [{"type": "Hashtag", "href": f"https://{host}/tags/{hashtag}", "name": f"#{hashtag}"}] if hashtag else [],
            "replies": {
                "id": f"{uri}/replies", "type": "Collection",
                "first": {"type": "CollectionPage", "next": f"{uri}/replies?only_other_accounts=true&page=true",
                          "partOf": f"{uri}/replies", "items": []},
            },
            "likes": {"id": f"{uri}/likes", "type": "Collection", "totalItems": rng.randint(0, 50)},
            "shares": {"id": f"{uri}/shares", "type": "Collection", "totalItems": rng.randint(0, 20)},
        }
        if edited is not None:
            note["updated"] = _iso_s(edited)
        if quote is not None:
            note["quote"] = quote
            note["quoteUri"] = quote
            note["_misskey_quote"] = quote
        shown = [part for part in (cw, text) if part]
        if n == 3:
            shown.append("- 是 yes\n- 否 no")
            note["type"] = "Question"
            note["oneOf"] = [
                {"type": "Note", "name": "是 yes", "replies": {"type": "Collection", "totalItems": 3}},
                {"type": "Note", "name": "否 no", "replies": {"type": "Collection", "totalItems": 1}},
            ]
            note["endTime"] = _iso_s(at + timedelta(days=1))
        items.append({
            "id": f"{uri}/activity", "type": "Create", "actor": actor_id, "published": _iso_s(at),
            "to": to, "cc": cc, "object": note,
        })
        posts.append(GenPost(
            post_id=sid, kind=kind, text="\n\n".join(shown), created_at=at, url=url, html=content,
            lang=lang, reply_to=reply_expected, quote_of=quote_expected, edited_at=edited, cw=cw,
            visibility=visibility, media=tuple(gen_media), version_key=_version(edited or at),
        ))
        own_uris.append((uri, sid))

    bio = "记录被删除的文字。Keeping what gets erased."
    created = start - timedelta(days=30)
    actor: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": actor_id, "type": "Person", "following": f"{actor_id}/following",
        "followers": followers, "inbox": f"{actor_id}/inbox", "outbox": "outbox.json",
        "featured": f"{actor_id}/collections/featured", "preferredUsername": username,
        "name": display_name, "summary": f"<p>{html.escape(bio, quote=False)}</p>",
        "url": f"https://{host}/@{username}", "manuallyApprovesFollowers": False,
        "discoverable": True, "indexable": False, "published": _iso_s(created), "memorial": False,
        "publicKey": {"id": f"{actor_id}#main-key", "owner": actor_id,
                      "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"},
        "tag": [], "attachment": [{"type": "PropertyValue", "name": "网站 site",
                                   "value": '<a href="https://example.org">example.org</a>'}],
        "endpoints": {"sharedInbox": f"https://{host}/inbox"},
        "icon": {"type": "Image", "mediaType": "image/png", "url": "avatar.png"},
        "image": {"type": "Image", "mediaType": "image/jpeg", "url": "header.jpg"},
        "likes": "likes.json", "bookmarks": "bookmarks.json",
    }
    outbox = {"@context": _AS_CONTEXT, "id": "outbox.json", "type": "OrderedCollection",
              "totalItems": len(items), "orderedItems": items}
    likes = {"@context": "https://www.w3.org/ns/activitystreams", "id": "likes.json",
             "type": "OrderedCollection",
             "orderedItems": [f"https://other.example/users/friend3/statuses/{rng.getrandbits(40)}" for _ in range(3)]}
    bookmarks = {"@context": "https://www.w3.org/ns/activitystreams", "id": "bookmarks.json",
                 "type": "OrderedCollection", "orderedItems": []}
    with private_file(out) as raw, zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("outbox.json", json.dumps(outbox, ensure_ascii=False))
        for rel, data in media_files.items():
            zf.writestr(rel, data)
        zf.writestr("likes.json", json.dumps(likes))
        zf.writestr("bookmarks.json", json.dumps(bookmarks))
        zf.writestr("avatar.png", _fake_png(rng))
        zf.writestr("header.jpg", b"\xff\xd8\xff\xe0" + bytes(100))
        zf.writestr("actor.json", json.dumps(actor, ensure_ascii=False))
    return ArchiveSpec(
        platform="mastodon", path=out, account_id=f"{username}@{host}", handle=f"{username}@{host}",
        display_name=display_name, bio=bio, created_at=created, posts=tuple(posts),
        extra={"actor_id": actor_id, "media_files": dict(media_files)},
    )


# -- atproto repository CAR -------------------------------------------------------

_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"


def tid(micros: int, clock_id: int = 0) -> str:
    """An atproto TID (13 chars, base32-sortable) for a microsecond timestamp."""
    n = ((micros & ((1 << 53) - 1)) << 10) | (clock_id & 0x3FF)
    return "".join(_TID_CHARS[(n >> (5 * i)) & 31] for i in range(12, -1, -1))


def cid_for(data: bytes, codec: int = 0x71) -> bytes:
    """Binary CIDv1 with a sha256 multihash (0x71 dag-cbor, 0x55 raw)."""
    return bytes([0x01, codec, 0x12, 0x20]) + hashlib.sha256(data).digest()


def dag_cbor_block(obj: Any) -> tuple[bytes, bytes]:
    """(CID, DAG-CBOR bytes). Links are given as binary CIDs (``bytes``)."""
    data = libipld.encode_dag_cbor(obj)
    return cid_for(data), data


def mst_layer(key: str | bytes) -> int:
    """The MST layer of a key: leading zero bits of sha256(key), counted in 2-bit chunks."""
    digest = hashlib.sha256(key.encode() if isinstance(key, str) else key).digest()
    zeros = 0
    for byte in digest:
        if byte == 0:
            zeros += 8
            continue
        zeros += 8 - byte.bit_length()
        break
    return zeros // 2


def _common_prefix(a: bytes, b: bytes) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def build_mst(entries: Mapping[str, bytes]) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """Build the Merkle Search Tree over ``{collection/rkey: record CID}``.
    Returns (root CID, node blocks)."""
    keyed = sorted((k.encode(), v, mst_layer(k)) for k, v in entries.items())
    blocks: list[tuple[bytes, bytes]] = []

    def node(items: Sequence[tuple[bytes, bytes, int]], layer: int) -> bytes:
        groups: list[list[tuple[bytes, bytes, int]]] = [[]]
        here: list[tuple[bytes, bytes]] = []
        for key, val, lay in items:
            if lay == layer:
                here.append((key, val))
                groups.append([])
            else:
                groups[-1].append((key, val, lay))

        def sub(group: list[tuple[bytes, bytes, int]]) -> bytes | None:
            return node(group, layer - 1) if group else None

        e: list[dict[str, Any]] = []
        prev = b""
        for i, (key, val) in enumerate(here):
            p = _common_prefix(prev, key)
            e.append({"p": p, "k": key[p:], "v": val, "t": sub(groups[i + 1])})
            prev = key
        cid, data = dag_cbor_block({"l": sub(groups[0]), "e": e})
        blocks.append((cid, data))
        return cid

    top = max((lay for _, _, lay in keyed), default=0)
    return node(keyed, top), blocks


def encode_car(root: bytes, blocks: Iterable[tuple[bytes, bytes]]) -> bytes:
    """CAR v1 bytes: varint header {version: 1, roots: [root]}, then varint(len) CID block."""
    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            b = n & 0x7F
            n >>= 7
            out.append(b | 0x80 if n else b)
            if not n:
                return bytes(out)

    header = libipld.encode_dag_cbor({"version": 1, "roots": [root]})
    parts = [varint(len(header)), header]
    for cid, data in blocks:
        parts += [varint(len(cid) + len(data)), cid, data]
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class RepoBuild:
    car: bytes
    root: bytes  # commit CID
    data: bytes  # MST root CID
    record_cids: Mapping[str, str]  # collection/rkey -> CID string
    blocks: Sequence[tuple[bytes, bytes]]  # commit first, then MST nodes, then records


def build_repo_car(
    did: str, records: Mapping[str, Mapping[str, Any]], *, rev: str | None = None, seed: int = 0
) -> RepoBuild:
    """A complete repository CAR over ``{collection/rkey: record}``."""
    rng = random.Random(seed)
    rec_blocks: list[tuple[bytes, bytes]] = []
    entries: dict[str, bytes] = {}
    for key, rec in records.items():
        cid, data = dag_cbor_block(dict(rec))
        entries[key] = cid
        rec_blocks.append((cid, data))
    data_cid, node_blocks = build_mst(entries)
    while True:  # a signature that libipld could not mistake for a CID link
        sig = bytes(rng.getrandbits(8) for _ in range(64))
        if sig[0] not in (0x00, 0x01, 0x12):
            break
    commit = {"did": did, "version": 3, "data": data_cid,
              "rev": rev or tid(1_700_000_000_000_000), "prev": None, "sig": sig}
    root, commit_data = dag_cbor_block(commit)
    blocks = [(root, commit_data), *reversed(node_blocks), *rec_blocks]
    return RepoBuild(
        car=encode_car(root, blocks), root=root, data=data_cid,
        record_cids={k: libipld.encode_cid(v) for k, v in entries.items()}, blocks=blocks,
    )


def _blob(rng: random.Random, mime: str) -> tuple[dict[str, Any], str, bytes]:
    content = _fake_png(rng, 64)
    cid = cid_for(content, 0x55)
    return ({"$type": "blob", "ref": cid, "mimeType": mime, "size": len(content)},
            libipld.encode_cid(cid), content)


def make_bluesky_car(
    path: str | Path,
    *,
    n_posts: int,
    seed: int = 0,
    did: str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
    display_name: str = "林晓雨 Lin",
    start: datetime = datetime(2023, 5, 1, tzinfo=UTC),
    n_other: int = 5,
) -> ArchiveSpec:
    """Write a repository CAR with a profile, ``n_posts`` post/repost records (replies,
    quotes, images, video) and ``n_other`` likes and follows (not posts)."""
    rng = random.Random(seed)
    out = Path(path)
    records: dict[str, dict[str, Any]] = {}
    own: list[str] = []  # uris of our own posts
    at = start
    pending: list[tuple[str, dict[str, Any], GenPost]] = []
    for n in range(n_posts):
        at += timedelta(minutes=rng.randint(1, 60 * 24), microseconds=rng.randint(0, 999_999))
        rkey = tid(int(at.timestamp() * 1_000_000), rng.randint(0, 1023))
        created = at.isoformat().replace("+00:00", "Z")
        roll = rng.random()
        if roll < 0.12 and n > 0:
            subject = (rng.choice(own) if own and rng.random() < 0.3
                       else f"at://did:plc:friend{rng.randint(1, 9)}/app.bsky.feed.post/{tid(rng.getrandbits(50))}")
            rec: dict[str, Any] = {"$type": "app.bsky.feed.repost", "createdAt": created,
                                   "subject": {"uri": subject, "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"}}
            key = f"app.bsky.feed.repost/{rkey}"
            gp = GenPost(post_id=f"at://{did}/{key}", kind="repost", text="", created_at=at, repost_of=subject)
            pending.append((key, rec, gp))
            continue
        text = "\n".join(_sentence(rng) for _ in range(rng.randint(1, 3)))
        lang = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"
        rec = {"$type": "app.bsky.feed.post", "text": text, "createdAt": created, "langs": [lang]}
        kind, reply_to, quote_of = "post", None, None
        media: list[GenMedia] = []
        if roll < 0.3 and n > 0:
            parent = (rng.choice(own) if own and rng.random() < 0.5
                      else f"at://did:plc:friend2/app.bsky.feed.post/{tid(rng.getrandbits(50))}")
            ref = {"uri": parent, "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"}
            rec["reply"] = {"root": ref, "parent": ref}
            kind, reply_to = "reply", parent
        elif roll < 0.36 and own:
            quote_of = rng.choice(own)
            rec["embed"] = {"$type": "app.bsky.embed.record",
                            "record": {"uri": quote_of, "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"}}
            kind = "quote"
        if "embed" not in rec and rng.random() < 0.25:
            if rng.random() < 0.8:
                images = []
                for _ in range(rng.randint(1, 3)):
                    blob, cid_s, _content = _blob(rng, "image/png")
                    alt = rng.choice(["", "被删除微博的截图", "photo of the protest"])
                    images.append({"image": blob, "alt": alt, "aspectRatio": {"width": 4, "height": 3}})
                    media.append(GenMedia(cid_s, "image/png", alt or None, None, "image"))
                rec["embed"] = {"$type": "app.bsky.embed.images", "images": images}
            else:
                blob, cid_s, _content = _blob(rng, "video/mp4")
                rec["embed"] = {"$type": "app.bsky.embed.video", "video": blob, "alt": "视频 video"}
                media.append(GenMedia(cid_s, "video/mp4", "视频 video", None, "video"))
        key = f"app.bsky.feed.post/{rkey}"
        uri = f"at://{did}/{key}"
        gp = GenPost(post_id=uri, kind=kind, text=text, created_at=at,
                     url=f"https://bsky.app/profile/{did}/post/{rkey}", lang=lang,
                     reply_to=reply_to, quote_of=quote_of, media=tuple(media))
        pending.append((key, rec, gp))
        own.append(uri)
    for key, rec, _gp in pending:
        records[key] = rec
    bio = "记录被删除的文字。Keeping what gets erased."
    created_at = start - timedelta(days=10)
    avatar, avatar_cid, _ = _blob(rng, "image/png")
    records["app.bsky.actor.profile/self"] = {
        "$type": "app.bsky.actor.profile", "displayName": display_name, "description": bio,
        "avatar": avatar, "createdAt": created_at.isoformat().replace("+00:00", "Z"),
    }
    for i in range(n_other):
        records[f"app.bsky.feed.like/{tid(1_690_000_000_000_000 + i)}"] = {
            "$type": "app.bsky.feed.like", "createdAt": "2023-08-01T00:00:00.000Z",
            "subject": {"uri": f"at://did:plc:friend1/app.bsky.feed.post/{tid(i)}",
                        "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"}}
        records[f"app.bsky.graph.follow/{tid(1_690_000_000_000_000 + i)}"] = {
            "$type": "app.bsky.graph.follow", "createdAt": "2023-08-01T00:00:00.000Z",
            "subject": f"did:plc:friend{i}"}
    build = build_repo_car(did, records, rev=tid(int(at.timestamp() * 1_000_000) + 1), seed=seed)
    with private_file(out) as f:
        f.write(build.car)
    final = tuple(replace(gp, version_key=build.record_cids[key]) for key, _rec, gp in pending)
    return ArchiveSpec(
        platform="bluesky", path=out, account_id=did, handle=None, display_name=display_name,
        bio=bio, created_at=created_at, posts=final,
        extra={"root": libipld.encode_cid(build.root), "record_cids": dict(build.record_cids),
               "avatar": avatar_cid, "n_records": len(records)},
    )
