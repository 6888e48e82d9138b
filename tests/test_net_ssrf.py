"""The SSRF payload corpus, with real sockets on loopback: a fake platform on 127.0.0.1
(the watched service: allowed), a canary on 127.0.0.2 (and ::1) that counts every
connection. Each payload is named by a post (a media URL, a redirect from the watched
host, an RSS entry's link or enclosure, a Bluesky embed); the collector runs as `poll`
runs it (``default_client_factory``). For each: the canary sees zero connections, the
post is archived, and the refusal is recorded in a capture.

Only spellings that reach loopback are sent here; refusals of every other address (private,
metadata, NAT64/6to4/Teredo embeddings…) are tested at the guard's decision
(test_net_judge.py), never by sending."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from net_servers import (
    Answer,
    Seen,
    Site,
    canary,
    ipv6_loopback,
    json_answer,
    mastodon_site,
    redirect,
    sites,
    status,
)
from unerased.model import Capture
from unerased.store import Store
from unerased.watch.runner import (
    CheckOutcome,
    RunContext,
    WatchConfig,
    add_watch,
    default_client_factory,
    poll,
)
from unerased.watch.uri import parse_uri

REFUSALS = ("refused:", "unparsable URL:")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("UNERASED_ALLOW_HOSTS", "UNERASED_PROXY", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def can() -> Iterator[Site]:
    c = canary("127.0.0.2")
    yield c
    c.close()


@pytest.fixture
def can6() -> Iterator[Site | None]:
    if not ipv6_loopback():
        yield None
        return
    c = canary("::1")
    yield c
    c.close()


def watch_and_poll(tmp: Path, uri: str, service: str | None, rounds: int = 1,
                   between: Callable[[], None] | None = None,
                   ) -> tuple[Store, list[CheckOutcome], list[Capture]]:
    store = Store.open(tmp / "home")
    clock = [datetime(2026, 3, 1, tzinfo=UTC)]

    def now() -> datetime:
        return clock[0]

    ctx = RunContext(store, default_client_factory(), WatchConfig(), now=now)
    asyncio.run(add_watch(ctx, parse_uri(uri), service=service, tags={}))
    outcomes: list[CheckOutcome] = []
    for i in range(rounds):
        if i and between is not None:
            between()
        clock[0] += timedelta(minutes=20)
        outcomes += asyncio.run(poll(ctx, once=True))
    caps = [c for c, *_ in store.iter_captures()]
    return store, outcomes, caps


def payloads(c: Site, c6: Site | None) -> dict[str, str | tuple[str, Callable[[Seen], Answer]]]:
    """id → a media URL, or (a path on the watched host, its route) for redirects."""
    p = c.port
    out: dict[str, str | tuple[str, Callable[[Seen], Answer]]] = {
        "loopback": f"http://127.0.0.2:{p}/m",
        "https-loopback": f"https://127.0.0.2:{p}/m",
        "decimal": f"http://2130706434:{p}/m",
        "hex": f"http://0x7f000002:{p}/m",
        "hex-two-part": f"http://0x7f.2:{p}/m",
        "dotted-hex": f"http://0x7f.0.0.2:{p}/m",
        "octal-whole": f"http://017700000002:{p}/m",
        "octal-dotted": f"http://0177.0.0.2:{p}/m",
        "short-two-part": f"http://127.2:{p}/m",
        "short-three-part": f"http://127.0.2:{p}/m",
        "trailing-dot": f"http://127.0.0.2.:{p}/m",
        "percent-encoded": f"http://127.0.0.%32:{p}/m",
        "ipv4-mapped": f"http://[::ffff:127.0.0.2]:{p}/m",
        "ipv4-mapped-hex": f"http://[::ffff:7f00:2]:{p}/m",
        "userinfo-trick": f"http://example.org@127.0.0.2:{p}/m",
        "redirect-302": ("/r/302", redirect(f"http://127.0.0.2:{p}/m")),
        "redirect-301-decimal": ("/r/301", redirect(f"http://2130706434:{p}/m", 301)),
        "redirect-307-mapped": ("/r/307", redirect(f"http://[::ffff:127.0.0.2]:{p}/m", 307)),
        "redirect-scheme-relative": ("/r/rel", redirect(f"//127.0.0.2:{p}/m", 308)),
        "redirect-two-hops": ("/r/first", redirect("/r/302")),
        "unparsable-ipv4": "http://999.1.1.1/x",
        "unparsable-ipv6": "http://[::1/x",
    }
    if c6 is not None:
        out["ipv6-loopback"] = f"http://[::1]:{c6.port}/m"
    return out


CASES = [
    "loopback", "https-loopback", "decimal", "hex", "hex-two-part", "dotted-hex",
    "octal-whole", "octal-dotted", "short-two-part", "short-three-part", "trailing-dot",
    "percent-encoded", "ipv4-mapped", "ipv4-mapped-hex", "userinfo-trick", "redirect-302",
    "redirect-301-decimal", "redirect-307-mapped", "redirect-scheme-relative",
    "redirect-two-hops", "unparsable-ipv4", "unparsable-ipv6", "ipv6-loopback",
]


@pytest.mark.parametrize("case", CASES)
def test_a_mastodon_media_url_never_reaches_the_canary(
    case: str, can: Site, can6: Site | None, tmp_path: Path
) -> None:
    corpus = payloads(can, can6)
    if case not in corpus:
        pytest.skip("no IPv6 loopback here")
    payload = corpus[case]
    extra: dict[str, Callable[[Seen], Answer]] = {}
    if isinstance(payload, tuple):
        path, route = payload
        extra[path] = route
        extra.update({k: r for k, v in corpus.items() if isinstance(v, tuple) and k != case
                      for k, r in [v]})
    media_url = payload[0] if isinstance(payload, tuple) else payload
    with sites(mastodon_site([status(1, "a picture", ["/media/ok.png"]),
                              status(2, "the payload", [media_url])], extra=extra)) as (site,):
        store, outcomes, caps = watch_and_poll(
            tmp_path, "mastodon:@alice@social.example", site.base)
    assert [o.error for o in outcomes] == [None]
    assert can.connections == 0 and (can6 is None or can6.connections == 0)
    posts = {p["post_id"]: p for p in store.iter_posts()}
    assert set(posts) == {"1001", "1002"}  # both archived, the payload's post included
    ok = posts["1001"]["media"][0]
    assert ok["sha256"] and store.blobs.read(ok["sha256"]).startswith(b"\x89PNG")
    assert not posts["1002"]["media"][0].get("sha256")  # no body: nothing kept
    refused = [c for c in caps if c.status is None and (c.error or "").startswith(REFUSALS)]
    assert len(refused) == 1, [(c.url, c.status, c.error) for c in caps]
    (cap,) = refused
    assert cap.body == b""
    if isinstance(payload, tuple):
        # the hops on the watched host are kept with their status and Location
        hops = [c for c in caps if c.status in (301, 302, 307, 308)]
        assert hops and all(dict(c.response_headers).get("location") for c in hops)
    store.close()


# --- RSS: an entry's link (looked up when the entry leaves the feed) and enclosure ---


def _feed(items: list[tuple[str, str, str, str | None]]) -> bytes:
    """RSS 2.0 with (guid/link, title, pubDate, enclosure URL or None) items."""
    out = ['<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
           '<link>http://example.org/</link><description>d</description>']
    for link, title, date, enclosure in items:
        enc = f'<enclosure url="{enclosure}" type="image/png" length="1"/>' if enclosure else ""
        out.append(f"<item><title>{title}</title><link>{link}</link>"
                   f'<guid isPermaLink="false">{link}</guid>'
                   f"<pubDate>{date}</pubDate>{enc}</item>")
    out.append("</channel></rss>")
    return "".join(out).encode()


def test_an_rss_entry_link_and_enclosure_never_reach_the_canary(
    can: Site, tmp_path: Path
) -> None:
    target = f"http://127.0.0.2:{can.port}/entry"
    items: list[tuple[str, str, str, str | None]] = [
        ("https://example.org/keep", "kept", "Sun, 01 Mar 2026 08:00:00 GMT", None),
        (target, "leaves", "Sun, 01 Mar 2026 09:00:00 GMT", f"http://2130706434:{can.port}/e.png"),
        ("https://example.org/old", "old", "Sun, 01 Mar 2026 07:00:00 GMT", None),
    ]
    state = {"items": items}

    def feed(_seen: Seen) -> Answer:
        return 200, [("content-type", "application/rss+xml")], _feed(state["items"])

    with sites(Site("127.0.0.1", {"/feed": feed})) as (site,):
        def drop_the_payload_entry() -> None:
            state["items"] = [items[0], items[2]]

        store, outcomes, caps = watch_and_poll(
            tmp_path, f"rss:{site.url('/feed')}", None, rounds=2,
            between=drop_the_payload_entry)
    assert [o.error for o in outcomes] == [None, None]
    assert can.connections == 0
    assert target in {p["post_id"] for p in store.iter_posts()}
    refused = {c.url: c.error for c in caps if (c.error or "").startswith("refused:")}
    assert target in refused  # the lookup of the entry that left the feed
    assert f"http://2130706434:{can.port}/e.png" in refused  # the enclosure
    store.close()


# --- Bluesky: an embed naming another host is not fetched; blobs come from the PDS ---


DID = "did:plc:abcdefghijklmnopqrstuvwx"


def test_a_bluesky_embed_never_reaches_the_canary(can: Site, tmp_path: Path) -> None:
    blob = {"$type": "blob", "ref": {"$link": "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"},
            "mimeType": "image/png", "size": 9}
    records = [
        {"uri": f"at://{DID}/app.bsky.feed.post/3kabcdefghij2", "cid": "bafyreia1",
         "value": {"$type": "app.bsky.feed.post", "text": "a link card",
                   "createdAt": "2026-03-01T08:00:00.000Z",
                   "embed": {"$type": "app.bsky.embed.external",
                             "external": {"uri": f"http://127.0.0.2:{can.port}/card",
                                          "title": "t", "description": "d", "thumb": blob}}}},
        {"uri": f"at://{DID}/app.bsky.feed.post/3kabcdefghij3", "cid": "bafyreia2",
         "value": {"$type": "app.bsky.feed.post", "text": "an image with a URL for a ref",
                   "createdAt": "2026-03-01T09:00:00.000Z",
                   "embed": {"$type": "app.bsky.embed.images", "images": [
                       {"alt": "x", "image": {"$type": "blob", "mimeType": "image/png",
                                              "ref": {"$link": f"http://127.0.0.2:{can.port}/i"}}},
                       {"alt": "y", "image": {"$type": "blob", "mimeType": "image/png",
                                              "cid": f"http://127.0.0.2:{can.port}/j"}}]}}},
    ]

    def xrpc(name: str) -> str:
        return f"/xrpc/{name}"

    def blob_route(seen: Seen) -> Answer:
        return 200, [("content-type", "image/png")], b"\x89PNG blob"

    routes = {
        xrpc("com.atproto.sync.getRepoStatus"): lambda s: json_answer(200, {"did": DID, "active": True}),
        xrpc("com.atproto.repo.describeRepo"): lambda s: json_answer(
            200, {"did": DID, "handle": "alice.example.org", "handleIsCorrect": True}),
        xrpc("com.atproto.repo.getRecord"): lambda s: json_answer(
            400, {"error": "RecordNotFound", "message": "no profile"}),
        xrpc("com.atproto.repo.listRecords"): lambda s: json_answer(200, {"records": records}),
        xrpc("com.atproto.sync.getBlob"): blob_route,
    }
    with sites(Site("127.0.0.1", routes)) as (pds,):
        store, outcomes, caps = watch_and_poll(tmp_path, f"bluesky:{DID}", pds.base)
    assert [o.error for o in outcomes] == [None]
    assert can.connections == 0
    posts = {p["post_id"]: p for p in store.iter_posts()}
    assert len(posts) == 2
    card = posts[f"at://{DID}/app.bsky.feed.post/3kabcdefghij2"]
    (thumb,) = card["media"]
    assert thumb["sha256"] and store.blobs.read(thumb["sha256"]) == b"\x89PNG blob"
    assert all(c.url.startswith(pds.base) for c in caps)  # nothing asked anywhere else
