"""Delivering the outbox: webhooks (HTTP POST) and e-mail (SMTP), at least once.

:func:`deliver_due` claims the due deliveries (a lease: two collectors never send one
at once), sends each, and only then marks it ``delivered`` — after the receiver
answered 2xx (the SMTP server accepted the message). A crash between the send and the
mark sends the same delivery again when the lease ends, with the same
``X-Unerased-Delivery`` id, so that receivers drop the duplicate; in normal operation
each is sent once. A failure is retried with exponential back-off and jitter
(:class:`Backoff`, times from the injected clock), at most ``max_attempts`` times; then
it is ``failed`` (``unerased status`` shows it). A 4xx answer other than 408 and 429
(the receiver will not take it: wrong URL, refused signature) is failed at once.

- **Webhook** (``http(s)://…``): the payload JSON, exactly as stored, POSTed through the
  one client factory (:mod:`unerased.net`): the configured proxy or none, fail closed;
  the fetch guard allows the rule's own origin (an address the user chose, loopback
  included) and nothing it redirects to (redirects are not followed).
  Headers: ``X-Unerased-Delivery: <delivery_id>``, ``X-Unerased-Signature:
  sha256=<hex HMAC-SHA256 of the body, keyed with the rule's secret>``.
- **E-mail** (``mailto:ADDRESS``): through the SMTP server of :class:`SmtpSettings`, with
  STARTTLS (required, unless the server is on loopback and ``starttls`` is False); the
  payload JSON is attached as ``alert.json`` (the signed bytes) and the same two
  headers are set. With a proxy the SMTP connection goes through it (python-socks), or
  fails; never directly.
"""

from __future__ import annotations

import asyncio
import email.policy
import ipaddress
import random
import smtplib
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from ..errors import UnerasedError, exception_line, one_line, redact_secrets
from ..model import utcnow
from .rules import sign

if TYPE_CHECKING:
    import httpx

    from ..store import Store

__all__ = ["Backoff", "DeliveryReport", "Outcome", "SmtpSettings", "deliver_due",
           "is_loopback", "send_mail", "send_webhook", "smtp_from_settings"]

_LOOPBACK_NAMES = ("localhost", "localhost.")


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """The SMTP server alerts are e-mailed through (the config file's ``[smtp]``).
    ``cafile``: a CA bundle to trust beside the system's (a server with its own
    certificate)."""

    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    sender: str = "unerased@localhost"
    starttls: bool = True
    cafile: str | None = None
    timeout: float = 30.0


def smtp_from_settings(get: Callable[[str], Any]) -> SmtpSettings | None:
    """:class:`SmtpSettings` from the config file's ``smtp.*`` keys (``get(name)``: the
    value in force, None when unset); None when no ``smtp.host`` is set."""
    host = get("smtp.host")
    if not host:
        return None
    starttls = get("smtp.starttls")
    return SmtpSettings(
        host=str(host), port=int(get("smtp.port") or 587),
        username=get("smtp.username") or None, password=get("smtp.password") or None,
        sender=str(get("smtp.sender") or "unerased@localhost"),
        starttls=True if starttls is None else bool(starttls))


@dataclass(frozen=True, slots=True)
class Backoff:
    """Retry times: ``base_s`` × 2^(attempt−1), capped at ``cap_s``, times a jitter in
    [0.5, 1); after ``max_attempts`` attempts a delivery is ``failed``."""

    base_s: float = 30.0
    cap_s: float = 3600.0
    max_attempts: int = 8

    def next_attempt(self, attempts: int, now: datetime, rng: random.Random,
                     retry_after: float | None = None) -> datetime | None:
        """When to try again after the ``attempts``-th failed attempt; None: never."""
        if attempts >= self.max_attempts:
            return None
        delay = min(self.cap_s, self.base_s * 2 ** max(0, attempts - 1))
        delay *= 0.5 + rng.random() / 2
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.cap_s * 24))
        return now + timedelta(seconds=delay)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt's result: ``ok`` (delivered), else the error, whether it is
    ``permanent`` (no retry) and the receiver's ``retry_after`` (seconds)."""

    ok: bool
    error: str | None = None
    permanent: bool = False
    retry_after: float | None = None


@dataclass(slots=True)
class DeliveryReport:
    """What one :func:`deliver_due` did."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (delivery id, error)

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.failed

    def to_json(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "retrying": self.retrying,
                "failed": self.failed,
                "errors": [{"delivery_id": d, "error": e} for d, e in self.errors]}


def _headers(delivery_id: str, signature: str) -> dict[str, str]:
    return {"X-Unerased-Delivery": delivery_id, "X-Unerased-Signature": signature}


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None  # an HTTP date: the back-off decides


async def send_webhook(client: httpx.AsyncClient, url: str, body: bytes, delivery_id: str,
                       secret: str) -> Outcome:
    """POST ``body`` to ``url`` signed with ``secret``; the outcome (never raises for a
    failed request)."""
    import httpx

    from ..net import SERVICE_EXTENSION, Refused

    headers = {"content-type": "application/json", **_headers(delivery_id, sign(secret, body))}
    try:
        # the answer's status and headers are what counts; its body is never read
        async with client.stream("POST", url, content=body, headers=headers,
                                 extensions={SERVICE_EXTENSION: [url]}) as resp:
            pass
    except Refused as e:
        return Outcome(False, one_line(str(e)), permanent=True)
    except httpx.HTTPError as e:
        return Outcome(False, one_line(f"{type(e).__name__}: {exception_line(e)}"))
    code = resp.status_code
    if 200 <= code < 300:
        return Outcome(True)
    error = f"HTTP {code}" + (f" {resp.reason_phrase}" if resp.reason_phrase else "")
    if code in (408, 429) or code >= 500:
        return Outcome(False, error, retry_after=_retry_after(resp.headers.get("retry-after")))
    if 300 <= code < 400:
        error += f" (a redirect to {resp.headers.get('location', '?')!r}: not followed)"
    return Outcome(False, error, permanent=True)


def is_loopback(host: str) -> bool:
    """A loopback address literal or ``localhost``."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _proxy_connect(proxy: str, host: str, port: int, timeout: float) -> socket.socket:
    """A socket to ``host:port`` through ``proxy`` (SOCKS5: the name is resolved by the
    proxy; HTTP: CONNECT). An https:// proxy cannot be used for SMTP: fail closed."""
    from python_socks.sync import Proxy

    scheme = proxy.split("://", 1)[0].lower()
    if scheme not in ("socks5", "socks5h", "http"):
        raise _SmtpFailure(f"the proxy {scheme}:// cannot carry SMTP (use socks5h:// or "
                           "http://): nothing sent", permanent=False)
    url = "socks5://" + proxy.split("://", 1)[1] if scheme == "socks5h" else proxy
    return Proxy.from_url(url, rdns=True).connect(host, port, timeout=timeout)


class _SmtpFailure(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class _ProxiedSMTP(smtplib.SMTP):
    """smtplib's client connecting through a proxy (or directly when none)."""

    def __init__(self, proxy: str | None, host: str, port: int, timeout: float,
                 require_proxy: bool = False) -> None:
        self._proxy = proxy
        self._require_proxy = require_proxy
        # through a proxy the EHLO name must not give the machine away (smtplib's
        # default is socket.getfqdn(): the host's name, and a local DNS lookup)
        hidden = "localhost" if proxy is not None or require_proxy else None
        super().__init__(host, port, local_hostname=hidden,
                         timeout=timeout)  # connects; STARTTLS checks ``host``

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        """The one place an SMTP connection is made: through the proxy; directly only
        when there is none and Tor-only mode (``require_proxy``) is off."""
        proxy = self._proxy
        if self._require_proxy:
            from ..errors import UsageError
            from ..net import required_proxy

            try:
                proxy = required_proxy(proxy)
            except UsageError as e:
                raise _SmtpFailure(str(e), permanent=False) from None
        if proxy is None:
            return socket.create_connection((host, port), timeout)
        return _proxy_connect(proxy, host, port, timeout)


# headers unfolded up to RFC 5322's 998 characters: the signature on one line
_MAIL_POLICY = email.policy.default.clone(max_line_length=998)


def _message(smtp: SmtpSettings, to: str, body: bytes, delivery_id: str, signature: str,
             summary: str) -> EmailMessage:
    msg = EmailMessage(policy=_MAIL_POLICY)
    msg["From"] = smtp.sender
    msg["To"] = to
    msg["Subject"] = one_line(f"[unerased] {summary}", 200)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = f"<{delivery_id}@unerased>"
    for k, v in _headers(delivery_id, signature).items():
        msg[k] = v
    msg.set_content(f"{summary}\n\nThe alert is attached as alert.json; "
                    f"X-Unerased-Signature is the HMAC-SHA256 of its bytes.\n")
    msg.add_attachment(body, maintype="application", subtype="json", filename="alert.json")
    return msg


def send_mail(smtp: SmtpSettings, to: str, body: bytes, delivery_id: str, secret: str,
              summary: str, *, proxy: str | None = None,
              require_proxy: bool = False) -> Outcome:
    """E-mail ``body`` (attached, signed) to ``to`` (blocking: run it in a thread)."""
    if not smtp.starttls and not is_loopback(smtp.host):
        return Outcome(False, f"SMTP without STARTTLS is allowed only to a loopback server, "
                              f"not {smtp.host}", permanent=True)
    msg = _message(smtp, to, body, delivery_id, sign(secret, body), summary)
    try:
        with _ProxiedSMTP(proxy, smtp.host, smtp.port, smtp.timeout,
                          require_proxy) as client:
            client.ehlo()
            if smtp.starttls:
                ctx = ssl.create_default_context(cafile=smtp.cafile)
                client.starttls(context=ctx)  # SMTPNotSupportedError when not offered
                client.ehlo()
            if smtp.username:
                client.login(smtp.username, smtp.password or "")
            client.send_message(msg)
    except _SmtpFailure as e:
        return Outcome(False, str(e), permanent=e.permanent)
    except smtplib.SMTPRecipientsRefused as e:
        codes = [c for c, _ in e.recipients.values()]
        return Outcome(False, f"SMTP: recipient refused ({', '.join(map(str, codes))})",
                       permanent=all(c >= 500 for c in codes))
    except smtplib.SMTPResponseException as e:
        return Outcome(False, one_line(f"SMTP {e.smtp_code}: {_text(e.smtp_error)}"),
                       permanent=e.smtp_code >= 500 and e.smtp_code not in (530, 535))
    except (smtplib.SMTPException, OSError, ssl.SSLError, ValueError) as e:
        return Outcome(False, one_line(f"SMTP: {type(e).__name__}: {exception_line(e)}"))
    except Exception as e:  # python-socks' errors (ProxyError, ProxyConnectionError, …)
        if type(e).__module__.startswith("python_socks"):
            return Outcome(False, one_line(f"proxy: {type(e).__name__}: {exception_line(e)}"))
        raise
    return Outcome(True)


def _text(v: bytes | str) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


async def _send(row: Mapping[str, Any], client: Callable[[], httpx.AsyncClient],
                smtp: SmtpSettings | None, proxy: str | None,
                require_proxy: bool = False) -> Outcome:
    target, secret = row.get("target"), row.get("secret")
    if target is None or secret is None:
        return Outcome(False, "its rule was removed", permanent=True)
    body = str(row["payload"]).encode("utf-8")
    did = str(row["delivery_id"])
    if str(target).startswith("mailto:"):
        if smtp is None:
            return Outcome(False, "no SMTP server configured (the config file's smtp "
                                  "settings)")
        import json

        summary = str(json.loads(body).get("summary") or row["kind"])
        return await asyncio.to_thread(send_mail, smtp, str(target)[7:], body, did,
                                       str(secret), summary, proxy=proxy,
                                       require_proxy=require_proxy)
    return await send_webhook(client(), str(target), body, did, str(secret))


async def deliver_due(
    store: Store,
    now: datetime,
    *,
    proxy: str | None,
    env: Mapping[str, str] | None = None,
    smtp: SmtpSettings | None = None,
    clock: Callable[[], datetime] | None = None,
    rng: random.Random | None = None,
    backoff: Backoff | None = None,
    lease: timedelta = timedelta(minutes=5),
    limit: int = 100,
    only: Sequence[str] | None = None,
    resolve: Any = None,
    require_proxy: bool = False,
) -> DeliveryReport:
    """Send every delivery due at ``now`` (``only``: just these delivery ids) and record
    each outcome; what was done. ``proxy``: the effective proxy (None: direct), checked
    here (UsageError on a bad one, before anything is claimed); ``env``: for the
    allow-list (``UNERASED_ALLOW_HOSTS``); ``clock``: the time of each outcome (default:
    the system's); ``rng``: the jitter; ``require_proxy``: Tor-only mode (webhooks and
    SMTP only through a ``socks5h://`` proxy; UsageError before anything is claimed
    when there is none)."""
    from ..net import async_client, settings

    net = settings(proxy=proxy, env=env, require_proxy=require_proxy)
    clock = clock or utcnow
    rng = rng or random.Random()
    backoff = backoff or Backoff()
    report = DeliveryReport()
    rows = store.claim_deliveries(now, lease, limit=limit, delivery_ids=only)
    if not rows:
        return report
    made: list[httpx.AsyncClient] = []

    def client() -> httpx.AsyncClient:
        if not made:
            made.append(async_client(net, resolve=resolve))
        return made[0]

    # a claim lasts ``lease``: what cannot be started well within it is given back
    # unattempted, so that no other collector claims a delivery this one is sending
    last_start = clock() + lease * 0.8
    try:
        for k, row in enumerate(rows):
            if clock() >= last_start:
                store.release_deliveries([int(r["id"]) for r in rows[k:]], clock())
                break
            try:
                out = await _send(row, client, smtp, net.proxy, net.require_proxy)
            except UnerasedError as e:
                out = Outcome(False, one_line(str(e)))
            t = clock()
            if out.ok:
                store.mark_delivered(int(row["id"]), t)
                report.delivered += 1
                continue
            error = redact_secrets(out.error or "failed")  # kept, shown by status
            attempts = int(row["attempts"])
            nxt = None if out.permanent else backoff.next_attempt(attempts, t, rng,
                                                                  out.retry_after)
            store.record_delivery_failure(int(row["id"]), f"attempt {attempts}: {error}", nxt)
            report.errors.append((str(row["delivery_id"]), error))
            if nxt is None:
                report.failed += 1
            else:
                report.retrying += 1
    finally:
        for c in made:
            await c.aclose()
    return report
