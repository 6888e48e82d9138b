"""The fetch guard's decision, pure: may a request to this URL be sent?

:func:`judge` looks at the URL as httpx would send it (its ``raw_host``: what the OS
resolver or the proxy is handed) and, when the caller resolved the name itself, at every
address it resolved to. Nothing here does I/O; the transports in ``_transport`` call it
before sending and again with the resolved addresses.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import httpx

from ..errors import UsageError, one_line

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_DEFAULT_PORTS = {"http": 80, "https": 443}

# --- what is refused -----------------------------------------------------------------

_V4_REFUSED: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified ('this network') address"),
    ("10.0.0.0/8", "private address (RFC 1918)"),
    ("100.64.0.0/10", "shared CGNAT address (RFC 6598)"),
    ("127.0.0.0/8", "loopback address"),
    ("169.254.0.0/16", "link-local address"),
    ("172.16.0.0/12", "private address (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignment (RFC 6890)"),
    ("192.0.2.0/24", "documentation address (TEST-NET-1)"),
    ("192.88.99.0/24", "6to4 relay anycast address (deprecated)"),
    ("192.168.0.0/16", "private address (RFC 1918)"),
    ("198.18.0.0/15", "benchmarking address (RFC 2544)"),
    ("198.51.100.0/24", "documentation address (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation address (TEST-NET-3)"),
    ("224.0.0.0/4", "multicast address"),
    ("255.255.255.255/32", "broadcast address"),
    ("240.0.0.0/4", "reserved address"),
)
_V6_REFUSED: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified address"),
    ("::1/128", "loopback address"),
    ("::ffff:0:0/96", "IPv4-mapped IPv6 address"),
    ("::/96", "IPv4-compatible IPv6 address (deprecated)"),
    ("64:ff9b:1::/48", "local-use NAT64 address (RFC 8215)"),
    ("100::/64", "discard-only address (RFC 6666)"),
    ("2001:db8::/32", "documentation address"),
    ("3fff::/20", "documentation address (RFC 9637)"),
    ("5f00::/16", "SRv6 SID address (reserved)"),
    ("fc00::/7", "unique local address (ULA)"),
    ("fe80::/10", "link-local address"),
    ("fec0::/10", "site-local address (deprecated)"),
    ("ff00::/8", "multicast address"),
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")
_IETF_V6 = ipaddress.IPv6Network("2001::/23")
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean…
    "169.254.170.2",  # AWS ECS task metadata
    "169.254.169.123",  # AWS time sync
    "169.254.169.253",  # AWS VPC DNS
    "fd00:ec2::254",  # AWS IMDS over IPv6
    "fd00:ec2::23",
    "168.63.129.16",  # Azure wire server (a public address)
    "100.100.100.200",  # Alibaba Cloud
    "192.0.0.192",  # Oracle Cloud (legacy)
))
"""Cloud instance-metadata endpoints: refused even for a watched service's own origin
(only an explicit allow-list entry can reach one)."""

METADATA_NAMES: frozenset[str] = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog", "instance-data",
    "instance-data.ec2.internal", "metadata.azure.com", "metadata.packet.net",
    "metadata.platformequinix.com", "metadata.tencentyun.com", "kubernetes.default",
    "kubernetes.default.svc",
})

_LOCAL_SUFFIXES = (
    "localhost", "local", "localdomain", "internal", "intranet", "lan", "home", "corp",
    "private", "home.arpa", "invalid", "test", "svc", "cluster.local",
)
"""Special-use and customary private names (RFC 6761, 6762, 8375; ``.internal``): they
resolve, if at all, inside the local network."""

_WILDCARD_DNS = (
    "nip.io", "sslip.io", "xip.io", "localtest.me", "lvh.me", "vcap.me", "fuf.me",
    "localho.st", "lacolhost.com", "traefik.me", "backname.io",
)
"""Public DNS services that answer any address the name spells (``127.0.0.1.nip.io``)
or always loopback: refused by name, since behind a proxy nothing is resolved locally."""

_V4_TABLE = tuple((ipaddress.IPv4Network(n), why) for n, why in _V4_REFUSED)
_V6_TABLE = tuple((ipaddress.IPv6Network(n), why) for n, why in _V6_REFUSED)
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_NUMBERISH = re.compile(r"^(?:0[xX][0-9a-fA-F]*|[0-9]+)$")


# --- the policy ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Policy:
    """What may be fetched beyond the public internet.

    ``allow_origins``: origins (``scheme://host:port``) allowed whatever they resolve to
    (the documented allow-list: ``UNERASED_ALLOW_HOSTS``); ``allow_networks``: address
    ranges allowed (the same list's CIDR entries); ``service_origins``: the watched
    service's own origins (``--service``, the account's instance, the PDS its DID
    document names, the feed's URL) — allowed whatever they resolve to, except cloud
    metadata endpoints; ``proxied``: requests go through a proxy, so nothing is resolved
    locally and ``.onion`` names are fine.
    """

    allow_origins: frozenset[str] = frozenset()
    allow_networks: tuple[IPNetwork, ...] = ()
    service_origins: frozenset[str] = frozenset()
    proxied: bool = False

    def serving(self, origins: Iterable[str]) -> Policy:
        """This policy with more service origins (each normalised; bad ones ignored)."""
        extra = {o for o in (origin_of(x) for x in origins) if o is not None}
        if extra <= self.service_origins:
            return self
        return replace(self, service_origins=self.service_origins | extra)


def parse_allow_list(text: str | None) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    """``UNERASED_ALLOW_HOSTS``: entries separated by commas or white space, each an
    origin (``http://127.0.0.1:2583``, ``https://pds.lan``) or an address or CIDR range
    (``10.1.2.3``, ``192.168.7.0/24``, ``fd12::/64``). UsageError (one line) otherwise."""
    origins: set[str] = set()
    nets: list[IPNetwork] = []
    for entry in re.split(r"[\s,]+", text or ""):
        if not entry:
            continue
        if "://" in entry:
            o = origin_of(entry)
            parts = httpx.URL(entry) if o is not None else None
            if o is None or parts is None or parts.path not in ("", "/") or parts.query:
                raise UsageError(one_line(
                    f"UNERASED_ALLOW_HOSTS: {entry!r} is not an origin like http://host:port"))
            origins.add(o)
            continue
        try:
            nets.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            raise UsageError(one_line(
                f"UNERASED_ALLOW_HOSTS: {entry!r} is neither an origin (http://host:port) "
                "nor an address or CIDR range")) from None
    return frozenset(origins), tuple(nets)


# --- reading a URL -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """What a URL makes the client connect to."""

    scheme: str
    host: str  # as sent: lower-case, IDNA-encoded, IPv6 without brackets
    port: int

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_target(url: str) -> Target | str:
    """The URL's target, or why it cannot be parsed (a one-line reason). A URL of
    another scheme (``javascript:``, ``file:``) is a Target too: its scheme refuses it."""
    try:
        u = httpx.URL(url)
        host = u.raw_host.decode("ascii")
    except (httpx.InvalidURL, ValueError, TypeError, UnicodeError) as e:
        return one_line(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__, 200)
    scheme = u.scheme.lower()
    if not host and scheme in _DEFAULT_PORTS:
        return "no host"
    port = u.port if u.port is not None else _DEFAULT_PORTS.get(scheme, 0)
    if not 0 <= port <= 65535:
        return f"port {port} out of range"
    return Target(scheme, host.lower(), port)


def origin_of(url: str) -> str | None:
    """``scheme://host:port`` of an http(s) URL (default port made explicit), else None."""
    t = parse_target(url)
    if isinstance(t, str) or t.scheme not in _DEFAULT_PORTS:
        return None
    return t.origin


def ipv4_spelling(host: str) -> ipaddress.IPv4Address | None | str:
    """The address a resolver would read in ``host`` (inet_aton and WHATWG rules: 1 to
    4 parts, each decimal, octal with a leading 0 or hex with 0x; the last part fills
    the remaining bytes; trailing dots ignored): ``2130706433``, ``0177.0.0.1``,
    ``0x7f.1``, ``127.1`` are all 127.0.0.1. None when ``host`` is a name; a reason
    string when it looks numeric but is no valid address (``999.1.1.1``, ``foo.123``)."""
    h = host.rstrip(".")
    parts = h.split(".")
    if not parts or not _NUMBERISH.match(parts[-1]):
        return None
    if len(parts) > 4 or not all(_NUMBERISH.match(p) for p in parts):
        return "a name ending in a number is not a valid IPv4 address"
    values: list[int] = []
    for p in parts:
        if len(p) > 40:
            return "an IPv4 part is out of range"
        if p[:2].lower() == "0x":
            values.append(int(p[2:] or "0", 16))
        elif len(p) > 1 and p.startswith("0"):
            if not set(p) <= set("01234567"):
                return f"{p!r} is not an octal number"
            values.append(int(p, 8))
        else:
            values.append(int(p))
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return "an IPv4 part is out of range"
    n = 0
    for v in head:
        n = n * 256 + v
    n = n * 256 ** (5 - len(values)) + last
    return ipaddress.IPv4Address(n)


# --- judging -------------------------------------------------------------------------


def judge_address(addr: IPAddress, policy: Policy) -> str | None:
    """Why a request must not go to this address (None: it is public or allowed)."""
    if any(addr in net for net in policy.allow_networks if net.version == addr.version):
        return None
    if addr in METADATA_ADDRESSES:
        return f"cloud metadata address {addr}"
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.scope_id:
            return f"scoped IPv6 address {addr}"
        for net, why in _V6_TABLE:
            if addr in net:
                return f"{why} {addr}"
        embedded = _embedded_v4(addr)
        if embedded is not None:
            inner = judge_address(embedded, policy)
            return f"{addr} embeds {inner}" if inner else None
        if addr in _IETF_V6:
            return f"IETF protocol assignment {addr}"
        if addr not in _GLOBAL_UNICAST_V6:
            return f"not a global unicast IPv6 address: {addr}"
    else:
        for net4, why in _V4_TABLE:
            if addr in net4:
                return f"{why} {addr}"
    if not addr.is_global or addr.is_multicast:
        return f"not a public address: {addr}"
    return None


def _embedded_v4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside a NAT64 (64:ff9b::/96), 6to4 (2002::/16) or Teredo
    (2001::/32: its client, the server checked by the caller's table) address."""
    n = int(addr)
    if addr in _NAT64:
        return ipaddress.IPv4Address(n & 0xFFFFFFFF)
    if addr in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((n >> 80) & 0xFFFFFFFF)
    if addr in _TEREDO:
        server = ipaddress.IPv4Address((n >> 64) & 0xFFFFFFFF)
        client = ipaddress.IPv4Address(~n & 0xFFFFFFFF)
        # refuse if either end is not public: return the first that is not
        for v4 in (client, server):
            if not _v4_public(v4):
                return v4
        return client
    return None


def _v4_public(addr: ipaddress.IPv4Address) -> bool:
    return judge_address(addr, Policy()) is None


def _judge_name(host: str, policy: Policy) -> str | None:
    name = host.rstrip(".")
    if host.endswith(".."):
        return f"host name {host!r} has an empty label"
    labels = name.split(".")
    if not all(_LABEL.match(label) for label in labels):
        return f"{host!r} is not a plain host name (percent-encoded or odd characters)"
    if name in METADATA_NAMES:
        return f"cloud metadata name {name!r}"
    if name == "onion" or name.endswith(".onion"):
        if policy.proxied:
            return None
        return f"{name!r} is an onion address: it needs a Tor proxy (--proxy socks5h://…)"
    for suffix in _LOCAL_SUFFIXES:
        if name == suffix or name.endswith("." + suffix):
            return f"local-only name {name!r} (.{suffix})"
    for wild in _WILDCARD_DNS:
        if name == wild or name.endswith("." + wild):
            return f"{name!r} is a wildcard-DNS name ({wild} answers any address it spells)"
    if len(labels) == 1:
        return f"single-label name {name!r} (resolved through the local search domain)"
    return None


def _host_address(host: str) -> IPAddress | None | str:
    """The address a host literal stands for; None for a name; a reason string when it
    is neither (a malformed literal)."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.replace("%25", "%"))
        except ValueError:
            return f"malformed IPv6 literal {host!r}"
    return ipv4_spelling(host)


def judge(url: str, policy: Policy, resolved: Sequence[str] | None = None) -> str | None:
    """Why a request to ``url`` must not be sent — ``"unparsable URL: …"`` or
    ``"refused: …"`` — or None when it may be.

    ``resolved``: the addresses the caller resolved the host to (no proxy), every one of
    which must be public; None when nothing was resolved (behind a proxy, or before
    resolving): then only the URL's literal and its name are judged.
    """
    t = parse_target(url)
    if isinstance(t, str):
        return one_line(f"unparsable URL: {url[:200]!r}: {t}", 300)
    if t.scheme not in _DEFAULT_PORTS:
        return one_line(f"refused: not an http(s) URL ({t.scheme or 'no scheme'}:)")
    if t.port == 0:
        return "refused: port 0"
    name = t.host.rstrip(".")
    if (name == "onion" or name.endswith(".onion")) and not policy.proxied:
        # whoever names it: resolving it locally would tell the DNS what we visit
        return one_line(f"refused: {name!r} is an onion address: it needs a Tor proxy "
                        "(--proxy socks5h://…)")
    if t.origin in policy.allow_origins:
        return None
    service = t.origin in policy.service_origins
    literal = _host_address(t.host)
    if isinstance(literal, str):
        return one_line(f"refused: {t.host!r}: {literal}")
    if literal is not None:
        if service and literal not in METADATA_ADDRESSES:
            return None
        why = judge_address(literal, policy)
        if why is None:
            return None
        spelt = "" if str(literal) == t.host else f" (written {t.host!r})"
        return one_line(f"refused: {why}{spelt}")
    if service:
        if name in METADATA_NAMES:
            return one_line(f"refused: cloud metadata name {name!r}")
    else:
        why = _judge_name(t.host, policy)
        if why is not None:
            return one_line(f"refused: {why}")
    if resolved is None:
        return None
    if not resolved:
        return one_line(f"refused: {t.host!r} resolves to no address")
    for a in resolved:
        try:
            addr = ipaddress.ip_address(a)
        except ValueError:
            return one_line(f"refused: {t.host!r} resolves to {a!r}, not an address")
        if service:
            if addr in METADATA_ADDRESSES and not any(
                addr in n for n in policy.allow_networks if n.version == addr.version
            ):
                return one_line(f"refused: {t.host!r} resolves to cloud metadata address {addr}")
            continue
        why = judge_address(addr, policy)
        if why is not None:
            return one_line(f"refused: {t.host!r} resolves to a {why}")
    return None
