"""The guard transports and the recorder on real loopback sockets: the connection goes to
the address that was judged (no second resolution), bodies are capped, redirects are
followed by the recorder with credentials kept to their origin, secrets stay out of
captures. Names are resolved by an injected resolver (to loopback only)."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest

from net_servers import NO_LENGTH, Answer, Seen, Site, canary, redirect, sites
from unerased.net import BodyTooLarge, Refused, async_client, settings, sync_client
from unerased.sources._base import Recorder


def resolver(answers: dict[str, list[list[str]]]) -> tuple[Callable[[str, int], Any], list[str]]:
    """A resolver answering each name with the next list in ``answers`` (the last one
    repeats); the names asked, in order."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> Sequence[str]:
        asked.append(host)
        seq = answers[host]
        return seq.pop(0) if len(seq) > 1 else seq[0]

    return resolve, asked


def body(data: bytes, *headers: tuple[str, str]) -> Callable[[Seen], Answer]:
    return lambda _s: (200, list(headers), data)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# --- resolution: judged once, connected to what was judged -----------------------------


def test_the_connection_goes_to_the_address_that_was_judged() -> None:
    """svc.example.org does not resolve on this machine: the only way the request can
    be served is by connecting to the address the guard's resolver gave and judged."""
    resolve, asked = resolver({"svc.example.org": [["127.0.0.1"]]})
    net = settings(env={"UNERASED_ALLOW_HOSTS": "127.0.0.1/32"})
    with sites(Site("127.0.0.1", {"/x": body(b"ok")})) as (site,):
        async def go() -> httpx.Response:
            async with async_client(net, resolve=resolve) as c:
                return await c.get(f"http://svc.example.org:{site.port}/x")

        resp = run(go())
    assert resp.status_code == 200 and resp.content == b"ok"
    assert asked == ["svc.example.org"]
    assert site.seen[0].headers["host"] == f"svc.example.org:{site.port}"


def test_dns_rebinding_gets_nowhere() -> None:
    """First answer allowed (127.0.0.1), the next one (127.0.0.2) is not: the second
    request is refused and nothing connects to 127.0.0.2."""
    with sites(Site("127.0.0.1", {"/x": body(b"ok")})) as (site,):
        trap = canary("127.0.0.2")
        with sites(trap):
            resolve, asked = resolver({"svc.example.org": [["127.0.0.1"], ["127.0.0.2"]],
                                       "both.example.org": [["127.0.0.1", "127.0.0.2"]]})
            net = settings(env={"UNERASED_ALLOW_HOSTS": "127.0.0.1/32"})

            async def go_site() -> list[str]:
                out = []
                async with async_client(net, resolve=resolve) as c:
                    r = await c.get(f"http://svc.example.org:{site.port}/x")
                    out.append(str(r.status_code))
                    for host in ("svc.example.org", "both.example.org"):
                        try:
                            await c.get(f"http://{host}:{trap.port}/x")
                            out.append("sent")
                        except Refused as e:
                            out.append(e.reason)
                return out

            got = run(go_site())
    assert got[0] == "200"
    assert got[1] == "refused: 'svc.example.org' resolves to a loopback address 127.0.0.2"
    assert got[2] == "refused: 'both.example.org' resolves to a loopback address 127.0.0.2"
    assert trap.connections == 0
    assert asked == ["svc.example.org", "svc.example.org", "both.example.org"]


def test_a_name_that_does_not_resolve_is_a_connect_error() -> None:
    async def nothing(host: str, port: int) -> Sequence[str]:
        raise OSError(-2, "Name or service not known")

    async def go() -> None:
        async with async_client(settings(), resolve=nothing) as c:
            await c.get("https://nowhere.example.org/")

    with pytest.raises(httpx.ConnectError, match="cannot resolve nowhere.example.org"):
        run(go())


# --- the body cap ------------------------------------------------------------------------


def test_bodies_over_the_cap_are_errors_not_truncated_evidence() -> None:
    big = b"x" * 5000
    bomb = gzip.compress(b"\0" * 200_000)  # 200 kB decoded from a few hundred bytes
    routes = {
        "/declared": body(big),
        "/undeclared": body(big, (NO_LENGTH, "1")),
        "/bomb": body(bomb, ("content-encoding", "gzip")),
        "/small": body(b"fine"),
    }
    with sites(Site("127.0.0.1", routes)) as (site,):
        net = settings(services=[site.base], max_body=4096)

        async def go() -> Recorder:
            async with async_client(net) as c:
                rec = Recorder(c, max_body=100_000)
                for path in routes:
                    await rec.get(site.url(path))
                return rec

        rec = run(go())
    by = {c.url.removeprefix(site.base): c for c in rec.captures}
    for path in ("/declared", "/undeclared"):  # the transport's cap (bytes on the wire)
        cap = by[path]
        assert cap.status == 200 and cap.body == b""
        assert cap.error == "BodyTooLarge: body over the 4096-byte cap: not kept"
    bomb_cap = by["/bomb"]  # the recorder's cap (decoded bytes)
    assert bomb_cap.status == 200 and bomb_cap.body == b""
    assert bomb_cap.error == "BodyTooLarge: body over the 100000-byte cap: not kept"
    assert by["/small"].body == b"fine" and by["/small"].error is None


def test_an_over_cap_media_file_is_none_for_its_post() -> None:
    from unerased.sources.mastodon import MastodonSource

    with sites(Site("127.0.0.1", {"/m.mp4": body(b"v" * 10_000)})) as (site,):
        async def go() -> tuple[bytes | None, Recorder]:
            async with async_client(settings(services=[site.base], max_body=1000)) as c:
                rec = Recorder(c)
                return await MastodonSource(rec, service=site.base).fetch_media(
                    site.url("/m.mp4")), rec

        data, rec = run(go())
    assert data is None and "1000-byte cap" in (rec.captures[0].error or "")


# --- redirects, credentials, secrets -----------------------------------------------------


def test_credentials_stay_with_their_origin_across_redirects() -> None:
    other = Site("127.0.0.1", {"/land": body(b"landed")})
    home = Site("127.0.0.1", {
        "/same": redirect("/land2"),
        "/land2": body(b"same origin"),
        "/away": redirect(other.url("/land")),
    })
    with sites(home, other):
        net = settings(env={"UNERASED_ALLOW_HOSTS": f"{other.base}"})

        async def go() -> Recorder:
            async with async_client(net) as c:
                rec = Recorder(c)
                hdrs = {"Authorization": "Bearer tok-123456789", "Cookie": "s=1"}
                await rec.get(home.url("/same"), headers=hdrs, service=True)
                await rec.get(home.url("/away"), headers=hdrs, service=True)
                return rec

        rec = run(go())
    assert [s.headers.get("authorization") for s in home.seen] == ["Bearer tok-123456789"] * 3
    (landed,) = other.seen
    assert "authorization" not in landed.headers and "cookie" not in landed.headers
    assert [c.status for c in rec.captures] == [302, 200, 302, 200]
    for cap in rec.captures:
        assert "tok-123456789" not in repr(cap.record())


def test_redirect_methods_follow_the_rules() -> None:
    seen_bodies: list[tuple[str, str]] = []

    def echo(seen: Seen) -> Answer:
        seen_bodies.append((seen.method, seen.path))
        return 200, [], seen.method.encode()

    site = Site("127.0.0.1", {"/303": redirect("/end", 303), "/307": redirect("/end", 307),
                              "/end": echo})
    with sites(site):
        async def go() -> list[int | None]:
            async with async_client(settings(services=[site.base])) as c:
                rec = Recorder(c)
                a, _ = await rec.request("POST", site.url("/303"), json={"a": 1})
                b, _ = await rec.request("POST", site.url("/307"), json={"a": 1})
                return [a.status_code if a else None, b.status_code if b else None]

        codes = run(go())
    assert codes == [200, 200]
    assert seen_bodies == [("GET", "/end"), ("POST", "/end")]


def test_an_unparsable_location_is_a_recorded_error() -> None:
    site = Site("127.0.0.1", {"/bad": redirect("http://[::1/x")})
    with sites(site):
        async def go() -> tuple[Any, Recorder]:
            async with async_client(settings(services=[site.base])) as c:
                rec = Recorder(c)
                return (await rec.get(site.url("/bad")))[0], rec

        resp, rec = run(go())
    assert resp is None
    (failed,) = rec.captures  # httpx drops an answer whose Location it cannot parse
    assert failed.status is None and failed.url == site.url("/bad")
    assert failed.error == "unparsable URL: the redirect's Location: Invalid port: ':1'."


def test_secrets_in_urls_are_redacted_in_captures() -> None:
    site = Site("127.0.0.1", {"/feed": body(b"ok")})
    with sites(site):
        async def go() -> Recorder:
            async with async_client(settings(services=[site.base])) as c:
                rec = Recorder(c)
                await rec.get(site.url("/feed?access_token=abcdef123&page=2&api_key=k1"))
                await rec.get(f"http://user:hunter2@127.0.0.1:{site.port}/feed")
                await rec.get(site.url("/feed?x=SEKRET-VALUE-99"),
                              headers={"Authorization": "Bearer SEKRET-VALUE-99"})
                return rec

        rec = run(go())
    urls = [c.url for c in rec.captures]
    assert urls[0] == site.url("/feed?access_token=[redacted]&page=2&api_key=[redacted]")
    assert urls[1] == f"http://user:[redacted]@127.0.0.1:{site.port}/feed"
    assert urls[2] == site.url("/feed?x=[redacted]")
    assert all(c.status == 200 for c in rec.captures)


# --- the synchronous client (timestamps) ----------------------------------------------


def test_the_sync_client_is_guarded_too() -> None:
    site = Site("127.0.0.1", {"/tsa": body(b"tsr")})
    trap = canary("127.0.0.2")
    with sites(site, trap):
        with sync_client(settings(services=[site.url("/tsa")])) as c:
            assert c.post(site.url("/tsa"), content=b"q").content == b"tsr"
            with pytest.raises(Refused, match="loopback address 127.0.0.2"):
                c.get(trap.url("/"))
            r = c.get(site.url("/tsa"))
            assert r.status_code == 200
        with sync_client(settings(services=[site.base], max_body=2)) as c, \
                pytest.raises(BodyTooLarge):
            c.get(site.url("/tsa"))
    assert trap.connections == 0
