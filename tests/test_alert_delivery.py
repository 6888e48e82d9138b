"""Delivering alerts to real receivers on loopback (alerts/deliver.py): an HTTP server
that records every request (signature, delivery id, retries, no resend after 2xx, a
resend after a crash between send and mark), aiosmtpd with STARTTLS (a self-signed
certificate made here) and plain on loopback, proxies live and dead (nothing sent
directly: a canary counts connections). Injected clocks, no sleeps."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import hashlib
import hmac
import ipaddress
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from net_servers import Seen, Site, canary, closed_port, json_answer, redirect, socks5_proxy
from unerased.alerts import Backoff, DeliveryReport, SmtpSettings, deliver_due
from unerased.store import Store

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
SECRET = "5e" * 32
LEASE = dt.timedelta(minutes=5)


def verify(secret_hex: str, body: bytes, header: str) -> bool:
    """What a receiver does (docs/alerts.md)."""
    want = "sha256=" + hmac.new(bytes.fromhex(secret_hex), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, header)


@pytest.fixture
def st(home: Path) -> Iterator[Store]:
    s = Store.open(home)
    yield s
    s.close()


def _enqueue(st: Store, target: str, did: str = "d-1") -> int:
    rid = int(st.add_alert_rule(target, secret=SECRET, now=T0)["id"])
    payload = {"delivery_id": did, "kind": "account_deleted", "rule": rid,
               "summary": "account_deleted: bluesky:alice.test", "count": 1, "events": []}
    st.enqueue_alert(did, rid, "account_deleted", payload, T0)
    return rid


def deliver(st: Store, now: dt.datetime, **kw: Any) -> DeliveryReport:
    kw.setdefault("proxy", None)
    kw.setdefault("clock", lambda: now)
    kw.setdefault("rng", random.Random(7))
    return asyncio.run(deliver_due(st, now, **kw))


def _row(st: Store, did: str = "d-1") -> dict[str, Any]:
    return next(r for r in st.outbox() if r["delivery_id"] == did)


class Script:
    """Answers in turn (the last one repeats)."""

    def __init__(self, *answers: int, headers: list[tuple[str, str]] | None = None) -> None:
        self.answers = list(answers)
        self.headers = headers or []

    def __call__(self, _seen: Seen) -> tuple[int, list[tuple[str, str]], bytes]:
        code = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return json_answer(code, {"ok": code < 300}, self.headers)


@pytest.fixture
def receiver() -> Iterator[Site]:
    site = Site("127.0.0.1")
    yield site
    site.close()


# ------------------------------------------------------------------ webhooks


def test_webhook_signed_with_delivery_id_and_not_resent_after_2xx(st: Store, receiver: Site
                                                                  ) -> None:
    receiver.routes["/hook"] = Script(204)
    _enqueue(st, receiver.url("/hook"))
    rep = deliver(st, T0)
    assert (rep.delivered, rep.retrying, rep.failed) == (1, 0, 0)
    (seen,) = receiver.seen
    assert seen.method == "POST" and seen.headers["content-type"] == "application/json"
    assert seen.headers["x-unerased-delivery"] == "d-1"
    assert verify(SECRET, seen.body, seen.headers["x-unerased-signature"])
    assert not verify(SECRET, seen.body + b" ", seen.headers["x-unerased-signature"])
    payload = json.loads(seen.body)
    assert payload["delivery_id"] == "d-1" and payload["kind"] == "account_deleted"
    assert _row(st)["state"] == "delivered"
    assert deliver(st, T0 + dt.timedelta(days=1)).attempted == 0  # never again
    assert len(receiver.seen) == 1


def test_webhook_retried_after_500_with_backoff(st: Store, receiver: Site) -> None:
    receiver.routes["/hook"] = Script(500, 200)
    _enqueue(st, receiver.url("/hook"))
    rep = deliver(st, T0, backoff=Backoff(base_s=30))
    assert (rep.delivered, rep.retrying) == (0, 1) and rep.errors[0][1].startswith("HTTP 500")
    row = _row(st)
    nxt = dt.datetime.fromisoformat(row["next_attempt"].replace("Z", "+00:00"))
    assert T0 + dt.timedelta(seconds=15) <= nxt <= T0 + dt.timedelta(seconds=30)  # jitter
    assert row["state"] == "pending" and "HTTP 500" in row["last_error"]
    assert deliver(st, T0 + dt.timedelta(seconds=14)).attempted == 0  # not due yet
    assert deliver(st, nxt).delivered == 1
    assert [s.headers["x-unerased-delivery"] for s in receiver.seen] == ["d-1", "d-1"]
    assert receiver.seen[0].body == receiver.seen[1].body  # the same bytes, the same signature


def test_webhook_backoff_grows_then_fails_visibly(st: Store, receiver: Site) -> None:
    receiver.routes["/hook"] = Script(503)
    _enqueue(st, receiver.url("/hook"))
    now, delays = T0, []
    for _ in range(3):
        rep = deliver(st, now, backoff=Backoff(base_s=10, max_attempts=3), rng=random.Random(1))
        row = _row(st)
        if row["next_attempt"] is not None:
            nxt = dt.datetime.fromisoformat(row["next_attempt"].replace("Z", "+00:00"))
            delays.append((nxt - now).total_seconds())
            now = nxt
    assert rep.failed == 1 and _row(st)["state"] == "failed" and _row(st)["attempts"] == 3
    assert len(delays) == 2 and 5 <= delays[0] < 10 and 10 <= delays[1] < 20  # exponential
    assert deliver(st, now + dt.timedelta(days=1)).attempted == 0
    assert len(receiver.seen) == 3
    assert st.outbox_counts()["failed"] == 1


def test_webhook_429_waits_for_retry_after(st: Store, receiver: Site) -> None:
    receiver.routes["/hook"] = Script(429, 200, headers=[("retry-after", "600")])
    _enqueue(st, receiver.url("/hook"))
    assert deliver(st, T0).retrying == 1
    assert deliver(st, T0 + dt.timedelta(seconds=599)).attempted == 0
    assert deliver(st, T0 + dt.timedelta(seconds=600)).delivered == 1


@pytest.mark.parametrize("code", [400, 401, 404, 410])
def test_webhook_4xx_fails_at_once(st: Store, receiver: Site, code: int) -> None:
    receiver.routes["/hook"] = Script(code)
    _enqueue(st, receiver.url("/hook"))
    rep = deliver(st, T0)
    assert rep.failed == 1 and _row(st)["state"] == "failed"
    assert deliver(st, T0 + dt.timedelta(days=1)).attempted == 0
    assert len(receiver.seen) == 1


def test_webhook_redirect_is_not_followed(st: Store, receiver: Site) -> None:
    trap = canary()
    try:
        receiver.routes["/hook"] = redirect(trap.url("/elsewhere"))
        _enqueue(st, receiver.url("/hook"))
        rep = deliver(st, T0)
        assert rep.failed == 1 and "not followed" in rep.errors[0][1]
        assert trap.connections == 0
    finally:
        trap.close()


def test_crash_between_send_and_mark_resends_the_same_delivery(st: Store, receiver: Site,
                                                               monkeypatch: Any) -> None:
    receiver.routes["/hook"] = Script(200)
    _enqueue(st, receiver.url("/hook"))

    class Crash(Exception):
        pass

    def crash(*_a: Any) -> None:
        raise Crash

    monkeypatch.setattr(st, "mark_delivered", crash)
    with pytest.raises(Crash):
        deliver(st, T0)
    monkeypatch.undo()
    assert len(receiver.seen) == 1 and _row(st)["state"] == "pending"
    assert deliver(st, T0 + LEASE - dt.timedelta(seconds=1)).attempted == 0  # leased
    assert deliver(st, T0 + LEASE + dt.timedelta(seconds=1)).delivered == 1
    ids = [s.headers["x-unerased-delivery"] for s in receiver.seen]
    assert ids == ["d-1", "d-1"]  # the receiver drops the duplicate by its id
    assert deliver(st, T0 + dt.timedelta(days=1)).attempted == 0


def test_webhook_through_the_proxy(st: Store, receiver: Site) -> None:
    receiver.routes["/hook"] = Script(200)
    _enqueue(st, receiver.url("/hook"))
    with socks5_proxy() as proxy:
        rep = deliver(st, T0, proxy=f"socks5h://127.0.0.1:{proxy.port}")
        assert rep.delivered == 1
        assert [(r.host, r.port) for r in proxy.relayed] == [("127.0.0.1", receiver.port)]
    assert receiver.peers == ["127.0.0.3"]  # it came from the proxy


def test_dead_proxy_sends_nothing_directly(st: Store) -> None:
    trap = canary()
    try:
        _enqueue(st, trap.url("/hook"), "d-web")
        rid = _enqueue(st, "mailto:ops@example.org", "d-mail")
        assert rid
        smtp = SmtpSettings(trap.host, trap.port, starttls=False)
        rep = deliver(st, T0, proxy=f"socks5h://127.0.0.1:{closed_port()}", smtp=smtp)
        assert (rep.delivered, rep.retrying) == (0, 2)
        assert trap.connections == 0
        assert _row(st, "d-web")["state"] == _row(st, "d-mail")["state"] == "pending"
    finally:
        trap.close()


def test_removed_rule_fails_its_claimed_delivery(st: Store, receiver: Site) -> None:
    receiver.routes["/hook"] = Script(200)
    rid = _enqueue(st, receiver.url("/hook"))
    rows = st.claim_deliveries(T0, dt.timedelta(0))
    st.remove_alert_rule(rid)  # pending rows go with it
    assert rows and st.outbox() == []
    assert deliver(st, T0).attempted == 0 and receiver.seen == []


# ------------------------------------------------------------------ e-mail


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
            .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def smtp_tls(tmp_path: Path) -> Iterator[tuple[Inbox, SmtpSettings]]:
    import ssl

    cert, key = _self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    inbox = Inbox()
    port = closed_port()
    c = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=ctx,
                   require_starttls=True)
    c.start()
    yield inbox, SmtpSettings("127.0.0.1", port, sender="unerased@test.example",
                              cafile=str(cert))
    c.stop()


@pytest.fixture
def smtp_plain() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = closed_port()
    c = Controller(inbox, hostname="127.0.0.1", port=port)
    c.start()
    yield inbox, port
    c.stop()


def _check_mail(raw: bytes) -> dict[str, Any]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["X-Unerased-Delivery"] == "d-1"
    assert msg["Message-ID"] == "<d-1@unerased>"
    (att,) = [p for p in msg.iter_attachments() if p.get_filename() == "alert.json"]
    body = att.get_content()
    assert isinstance(body, bytes)
    assert verify(SECRET, body, str(msg["X-Unerased-Signature"]))
    return dict(json.loads(body))


def test_mail_with_starttls(st: Store, smtp_tls: tuple[Inbox, SmtpSettings]) -> None:
    inbox, smtp = smtp_tls
    _enqueue(st, "mailto:ops@example.org")
    rep = deliver(st, T0, smtp=smtp)
    assert rep.delivered == 1, rep.errors
    ((sender, rcpts, raw),) = inbox.messages
    assert sender == "unerased@test.example" and rcpts == ["ops@example.org"]
    assert _check_mail(raw)["kind"] == "account_deleted"
    assert deliver(st, T0 + dt.timedelta(days=1)).attempted == 0


def test_mail_refuses_an_untrusted_certificate(st: Store,
                                               smtp_tls: tuple[Inbox, SmtpSettings]) -> None:
    inbox, smtp = smtp_tls
    _enqueue(st, "mailto:ops@example.org")
    rep = deliver(st, T0, smtp=SmtpSettings(smtp.host, smtp.port))  # no cafile
    assert rep.retrying == 1 and "SSL" in rep.errors[0][1] and inbox.messages == []


def test_mail_plain_on_loopback_only_when_asked(st: Store, smtp_plain: tuple[Inbox, int]
                                                ) -> None:
    inbox, port = smtp_plain
    _enqueue(st, "mailto:ops@example.org")
    rep = deliver(st, T0, smtp=SmtpSettings("127.0.0.1", port))  # STARTTLS required
    assert rep.retrying == 1 and "STARTTLS" in rep.errors[0][1].upper()
    assert inbox.messages == []
    rep = deliver(st, T0 + dt.timedelta(hours=1),
                  smtp=SmtpSettings("127.0.0.1", port, starttls=False))
    assert rep.delivered == 1 and len(inbox.messages) == 1
    _check_mail(inbox.messages[0][2])


def test_mail_without_starttls_elsewhere_is_refused(st: Store) -> None:
    _enqueue(st, "mailto:ops@example.org")
    rep = deliver(st, T0, smtp=SmtpSettings("smtp.invalid", 25, starttls=False))
    assert rep.failed == 1 and "loopback" in rep.errors[0][1]


def test_mail_through_the_proxy(st: Store, smtp_plain: tuple[Inbox, int]) -> None:
    inbox, port = smtp_plain
    _enqueue(st, "mailto:ops@example.org")
    with socks5_proxy() as proxy:
        rep = deliver(st, T0, proxy=f"socks5h://127.0.0.1:{proxy.port}",
                      smtp=SmtpSettings("127.0.0.1", port, starttls=False))
        assert rep.delivered == 1, rep.errors
        assert [r.port for r in proxy.relayed] == [port]
    assert len(inbox.messages) == 1


def test_mail_without_smtp_settings_waits(st: Store) -> None:
    _enqueue(st, "mailto:ops@example.org")
    rep = deliver(st, T0)
    assert rep.retrying == 1 and "no SMTP server" in rep.errors[0][1]


def test_deliveries_not_started_within_the_lease_are_given_back(st: Store,
                                                                receiver: Site) -> None:
    """A slow batch: what cannot start well within the claim's lease is released
    unattempted (another collector may claim it once the lease ends; none of it is sent
    by two at once)."""
    receiver.routes["/hook"] = Script(200)
    for i in range(3):
        _enqueue(st, receiver.url("/hook"), f"d-{i}")
    times = iter([T0, T0, T0 + dt.timedelta(minutes=2), T0 + dt.timedelta(minutes=4),
                  T0 + dt.timedelta(minutes=4)])
    rep = deliver(st, T0, lease=LEASE, clock=lambda: next(times))
    assert rep.delivered == 1 and len(receiver.seen) == 1
    rows = {r["delivery_id"]: r for r in st.outbox()}
    assert rows["d-1"]["state"] == rows["d-2"]["state"] == "pending"
    assert rows["d-1"]["attempts"] == 0  # given back, not counted
    assert deliver(st, T0 + dt.timedelta(minutes=4)).delivered == 2


def test_smtp_settings_from_the_config_keys() -> None:
    from unerased.alerts import smtp_from_settings

    assert smtp_from_settings(lambda _k: None) is None
    keys = {"smtp.host": "mail.example.org", "smtp.port": 2525, "smtp.username": "u",
            "smtp.password": "p", "smtp.sender": "a@example.org", "smtp.starttls": False}
    s = smtp_from_settings(keys.get)
    assert s == SmtpSettings("mail.example.org", 2525, "u", "p", "a@example.org", False)
    assert smtp_from_settings({"smtp.host": "h"}.get) == SmtpSettings("h")
