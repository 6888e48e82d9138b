"""The fetch guard's decision (``unerased.net.judge``), pure and exhaustive. Nothing here
sends a request: addresses beyond loopback are only ever judged."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unerased.errors import UsageError
from unerased.net import (
    METADATA_ADDRESSES,
    Policy,
    ipv4_spelling,
    judge,
    judge_address,
    origin_of,
    parse_allow_list,
)

OPEN = Policy()
PROXIED = Policy(proxied=True)

REFUSED = [
    # loopback, every spelling a resolver or proxy accepts
    "http://127.0.0.1/", "http://127.1.2.3/", "http://2130706433/", "http://0x7f000001/",
    "http://0x7f.1/", "http://0x7F.0.0.1/", "http://017700000001/", "http://127.1/",
    "http://127.0.1/", "http://127.0.0.1./", "http://127.0.0.1../", "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/", "http://LOCALHOST/", "http://localhost./",
    "http://a.b.localhost/", "http://127.0.0.%31/", "http://%6c%6f%63%61%6c%68%6f%73%74/",
    # private, CGNAT, link-local, unspecified, broadcast, multicast, reserved
    "http://10.0.0.1/", "http://10.255.255.255/", "http://172.16.0.1/", "http://172.31.255.1/",
    "http://192.168.1.1/", "http://0xc0a80101/", "http://3232235777/", "http://100.64.0.1/",
    "http://100.127.255.254/", "http://169.254.1.1/", "http://0.0.0.0/", "http://0/",
    "http://255.255.255.255/", "http://224.0.0.1/", "http://239.255.255.250/",
    "http://240.0.0.1/", "http://192.0.0.8/", "http://198.18.0.1/", "http://198.19.255.1/",
    # documentation
    "http://192.0.2.1/", "http://198.51.100.7/", "http://203.0.113.9/", "http://[2001:db8::1]/",
    "http://[3fff::1]/",
    # IPv6 special
    "http://[::]/", "http://[fc00::1]/", "http://[fd12:3456::1]/", "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/", "http://[fec0::1]/", "http://[ff02::1]/", "http://[ff0e::1]/",
    "http://[100::1]/", "http://[64:ff9b:1::a00:1]/", "http://[5f00::1]/", "http://[2001:10::1]/",
    "http://[4000::1]/",
    # IPv4-mapped / compatible, and 6to4, NAT64, Teredo embedding such addresses
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[::ffff:10.0.0.1]/",
    "http://[::ffff:8.8.8.8]/", "http://[::127.0.0.1]/", "http://[::10.0.0.1]/",
    "http://[2002:7f00:1::]/", "http://[2002:a00:1::1]/", "http://[2002:a9fe:a9fe::]/",
    "http://[64:ff9b::7f00:1]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[64:ff9b::10.0.0.1]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo, client 192.0.2.45
    "http://[2001:0:7f00:1:8000:63bf:3fff:fdd2]/",  # Teredo, server 127.0.0.1
    # cloud metadata, by address and by name
    "http://169.254.169.254/latest/meta-data/", "http://2852039166/", "http://0xa9fea9fe/",
    "http://169.254.170.2/v2/credentials", "http://[fd00:ec2::254]/", "http://168.63.129.16/",
    "http://100.100.100.200/", "http://192.0.0.192/", "http://metadata.google.internal/",
    "http://metadata.google.internal./", "http://METADATA.GOOGLE.INTERNAL/",
    "http://metadata/", "http://metadata.goog/", "http://instance-data/",
    "http://instance-data.ec2.internal/", "http://metadata.azure.com/",
    # local-only and search-domain names
    "http://printer.local/", "http://nas.lan/", "http://svc.internal/", "http://x.home.arpa/",
    "http://intranet/", "http://db.default.svc/", "http://a.svc.cluster.local/",
    "http://x.invalid/", "http://x.test/",
    # wildcard-DNS names that spell loopback
    "http://127.0.0.1.nip.io/", "http://app.localtest.me/", "http://lvh.me/",
    "http://7f000001.sslip.io/",
    # names that are not names
    "http://a..b/", "http://-a.example/", "http://a_b-.example/", "http://foo.123/",
    "http://foo.0x10/", "http://1.2.3.4.5/",
    # not http(s), port 0
    "ftp://example.com/", "file:///etc/passwd", "gopher://example.com/", "javascript:alert(1)",
    "data:text/plain,hi", "ws://example.com/", "http://example.com:0/", "", "//example.com/",
    # onion without a proxy
    "http://duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion/",
]

UNPARSABLE = [
    "http://999.1.1.1/x", "http://[::1/x", "http://0177.0.0.1/", "http://127.000.000.001/",
    "http://256.0.0.1/", "http://1.2.3.4:99999/", "http://example.com:port/", "http://",
    "http:///path", "https://[::1:/", "http://exa mple.com\t/", "http://１２７.０.０.１/",
    "http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/",
]

ALLOWED = [
    "http://example.com/", "https://example.com/a?b=c", "https://EXAMPLE.com:8443/x",
    "https://bücher.example/", "http://93.184.216.34/", "http://1.1.1.1/", "http://8.8.8.8/",
    "http://0x08080808/", "http://[2606:4700:4700::1111]/", "http://[64:ff9b::808:808]/",
    "http://[2002:808:808::1]/", "https://files.mastodon.social/media/x.png",
    "http://1.2.3/",  # 1.2.0.3: public
    "http://a-b.example.org./",  # a trailing dot on a public name
]


@pytest.mark.parametrize("url", REFUSED)
def test_refused(url: str) -> None:
    why = judge(url, OPEN)
    assert why is not None and why.startswith(("refused:", "unparsable URL:")), (url, why)
    assert "\n" not in why


@pytest.mark.parametrize("url", UNPARSABLE)
def test_unparsable(url: str) -> None:
    why = judge(url, OPEN)
    assert why is not None and why.startswith("unparsable URL:"), (url, why)


@pytest.mark.parametrize("url", ALLOWED)
def test_allowed(url: str) -> None:
    assert judge(url, OPEN) is None
    assert judge(url, PROXIED) is None


def test_reasons_name_the_address_and_how_it_was_written() -> None:
    assert judge("http://2130706433/", OPEN) == (
        "refused: loopback address 127.0.0.1 (written '2130706433')")
    assert judge("http://[::ffff:a9fe:a9fe]/", OPEN) == (
        "refused: IPv4-mapped IPv6 address ::ffff:a9fe:a9fe")
    assert judge("http://169.254.169.254/", OPEN) == (
        "refused: cloud metadata address 169.254.169.254")
    assert judge("http://[2002:a00:1::1]/", OPEN) == (
        "refused: 2002:a00:1::1 embeds private address (RFC 1918) 10.0.0.1")
    assert judge("gopher://x.example/", OPEN) == "refused: not an http(s) URL (gopher:)"


# --- resolved addresses (no proxy) ----------------------------------------------------


@pytest.mark.parametrize("addresses", [
    ["127.0.0.1"], ["10.1.2.3"], ["93.184.216.34", "192.168.0.10"], ["::1"],
    ["169.254.169.254"], ["fd00:ec2::254"], ["::ffff:127.0.0.1"], ["100.64.3.4"],
    ["fe80::1%eth0"], [], ["not-an-address"], ["2001:db8::5"],
])
def test_every_resolved_address_must_be_public(addresses: list[str]) -> None:
    assert judge("https://pds.example.org/x", OPEN, None) is None  # the name alone passes
    why = judge("https://pds.example.org/x", OPEN, addresses)
    assert why is not None and why.startswith("refused: 'pds.example.org' resolves to"), why


def test_public_resolved_addresses_pass() -> None:
    assert judge("https://example.org/", OPEN, ["93.184.216.34", "2606:2800:220:1::1"]) is None


# --- what is allowed beyond the public internet ------------------------------------------


def test_the_watched_service_origin_is_allowed_where_it_is() -> None:
    svc = OPEN.serving(["http://127.0.0.1:2583/xrpc/com.atproto.sync.getRepoStatus"])
    assert svc.service_origins == frozenset({"http://127.0.0.1:2583"})
    assert judge("http://127.0.0.1:2583/xrpc/x", svc) is None
    assert judge("http://127.0.0.1:2583/media/y.png", svc) is None  # its own media too
    # another port, another scheme, another host: not the service
    assert judge("http://127.0.0.1:2584/", svc) is not None
    assert judge("https://127.0.0.1:2583/", svc) is not None
    assert judge("http://127.0.0.2:2583/", svc) is not None
    named = OPEN.serving(["http://pds.lan:3000"])
    assert judge("http://pds.lan:3000/x", named, ["192.168.1.5"]) is None
    assert judge("http://pds.lan:3000/x", named, ["10.0.0.1", "127.0.0.1"]) is None


def test_a_service_origin_never_reaches_cloud_metadata() -> None:
    svc = OPEN.serving(["http://169.254.169.254", "http://metadata.google.internal",
                        "https://evil.example"])
    assert judge("http://169.254.169.254/latest", svc) is not None
    assert judge("http://metadata.google.internal/", svc) is not None
    why = judge("https://evil.example/x", svc, ["169.254.169.254"])
    assert why is not None and "metadata" in why
    assert judge("https://evil.example/x", svc, ["127.0.0.1"]) is None  # its own choice


def test_the_allow_list() -> None:
    origins, nets = parse_allow_list(
        "http://127.0.0.1:2583, https://pds.lan 10.9.0.0/16\nfd12::/64 192.168.7.7 [::1]")
    assert origins == frozenset({"http://127.0.0.1:2583", "https://pds.lan:443"})
    assert [str(n) for n in nets] == ["10.9.0.0/16", "fd12::/64", "192.168.7.7/32", "::1/128"]
    pol = Policy(allow_origins=origins, allow_networks=nets)
    assert judge("http://127.0.0.1:2583/x", pol) is None
    assert judge("https://pds.lan/x", pol) is None  # a local name allowed by its origin
    assert judge("http://10.9.8.7/", pol) is None
    assert judge("http://[fd12::5]/", pol) is None
    assert judge("http://192.168.7.7:8080/", pol) is None
    assert judge("http://[::1]:9/", pol) is None
    assert judge("http://10.8.0.1/", pol) is not None
    assert judge("https://pds.example.org/", pol, ["10.9.1.1"]) is None  # resolved into a range
    assert judge("https://pds.example.org/", pol, ["10.9.1.1", "10.8.0.1"]) is not None
    # an explicit entry is the one way to reach a metadata address
    assert judge("http://169.254.169.254/", Policy(allow_networks=parse_allow_list(
        "169.254.169.254")[1])) is None


@pytest.mark.parametrize("bad", ["localhost", "http://x/path", "http://x?q=1", "10.0.0.0/33",
                                 "ftp://host", "pds.lan:3000", "http://[::1"])
def test_a_bad_allow_list_entry_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_allow_list(f"http://127.0.0.1:1 {bad}")
    assert "UNERASED_ALLOW_HOSTS" in str(e.value) and "\n" not in str(e.value)


def test_behind_a_proxy_onion_names_work_and_literals_are_still_judged() -> None:
    onion = "http://duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion/"
    assert judge(onion, PROXIED) is None
    assert judge(onion, OPEN) is not None
    for url in ("http://127.0.0.1/", "http://2130706433/", "http://[::1]/", "http://localhost/",
                "http://metadata.google.internal/", "http://10.0.0.1/", "http://intranet/"):
        assert judge(url, PROXIED) is not None, url


def test_origin_of() -> None:
    assert origin_of("HTTPS://Example.COM/a/b?c") == "https://example.com:443"
    assert origin_of("http://[::1]:8080/") == "http://[::1]:8080"
    assert origin_of("http://xn--bcher-kva.example/") == origin_of("http://bücher.example/")
    assert origin_of("ftp://x/") is None and origin_of("http://[::1/") is None


# --- odd IPv4 spellings agree with the system's own parser ------------------------------


def spellings(n: int) -> list[str]:
    b = n.to_bytes(4, "big")
    return [
        str(n), hex(n), "0" + oct(n)[2:] if n else "0",
        ".".join(str(x) for x in b), ".".join(hex(x) for x in b),
        ".".join("0" + oct(x)[2:] if x else "0" for x in b),
        f"{b[0]}.{int.from_bytes(b[1:], 'big')}", f"{b[0]}.{b[1]}.{int.from_bytes(b[2:], 'big')}",
        f"{hex(b[0])}.{hex(int.from_bytes(b[1:], 'big'))}",
        ".".join(str(x) for x in b) + ".",
    ]


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_ipv4_spelling_is_read_as_inet_aton_reads_it(n: int) -> None:
    want = ipaddress.IPv4Address(n)
    for s in spellings(n):
        assert ipv4_spelling(s) == want, s
        assert socket.inet_aton(s.rstrip(".")) == want.packed, s  # glibc agrees


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_the_decision_does_not_depend_on_the_spelling(n: int) -> None:
    want = judge_address(ipaddress.IPv4Address(n), OPEN)
    for s in spellings(n):
        got = judge(f"http://{s}/", OPEN)
        if got is not None and got.startswith("unparsable URL:"):
            continue  # httpx itself refuses some spellings (0177.0.0.1): never sent
        assert (got is None) == (want is None), (s, got, want)


@given(st.text(max_size=60))
def test_judge_never_raises(text: str) -> None:
    for url in (text, f"http://{text}/", f"http://[{text}]/", f"https://a.example/{text}"):
        why = judge(url, OPEN)
        assert why is None or why.startswith(("refused:", "unparsable URL:"))


def test_metadata_addresses_are_all_refused() -> None:
    for addr in METADATA_ADDRESSES:
        host = f"[{addr}]" if addr.version == 6 else str(addr)
        why = judge(f"http://{host}/", OPEN)
        assert why is not None and "metadata" in why, (addr, why)


def test_an_onion_name_is_never_resolved_locally_whoever_names_it() -> None:
    onion = "http://duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion:80/"
    trusted = Policy(allow_origins=frozenset({origin_of(onion) or ""})).serving([onion])
    why = judge(onion, trusted)
    assert why is not None and "needs a Tor proxy" in why
    assert judge(onion, Policy(proxied=True).serving([onion])) is None
