"""Alerts: rules that turn events into alerts, and their delivery from an outbox.

- :mod:`~unerased.alerts.rules` (pure): rules, kinds, mass bursts, dead-man checks,
  delivery ids and signatures;
- :mod:`~unerased.alerts.enqueue`: :func:`enqueue_new`, new events → the outbox (with
  the event cursor, in one transaction);
- :mod:`~unerased.alerts.deliver`: :func:`deliver_due`, the outbox → webhooks and
  e-mail, at least once, signed.

The collector calls ``enqueue_new(store, now)`` and ``await deliver_due(store, now,
proxy=…, env=…, smtp=…)``. See docs/alerts.md. Names load at first use (see
:mod:`unerased._lazy`): the pure rules never load httpx or SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import exports

if TYPE_CHECKING:
    from . import deliver, enqueue, rules
    from .deliver import (
        Backoff,
        DeliveryReport,
        Outcome,
        SmtpSettings,
        deliver_due,
        is_loopback,
        send_mail,
        send_webhook,
        smtp_from_settings,
    )
    from .enqueue import CURSOR_KEY, enqueue_new, load_rules
    from .rules import (
        ALL_KINDS,
        DEFAULT_KINDS,
        Alert,
        Rule,
        delivery_id,
        make_test_alert,
        parse_duration,
        parse_kinds,
        parse_tag,
        parse_target,
        sign,
    )

_WHERE = {
    "Backoff": "deliver", "DeliveryReport": "deliver", "Outcome": "deliver",
    "SmtpSettings": "deliver", "deliver_due": "deliver", "is_loopback": "deliver",
    "send_mail": "deliver", "send_webhook": "deliver", "smtp_from_settings": "deliver",
    "CURSOR_KEY": "enqueue", "enqueue_new": "enqueue", "load_rules": "enqueue",
    "ALL_KINDS": "rules", "DEFAULT_KINDS": "rules", "Alert": "rules", "Rule": "rules",
    "delivery_id": "rules", "make_test_alert": "rules", "parse_duration": "rules",
    "parse_kinds": "rules", "parse_tag": "rules", "parse_target": "rules", "sign": "rules",
    "deliver": "deliver", "enqueue": "enqueue", "rules": "rules",
}

__all__ = [
    "ALL_KINDS",
    "Alert",
    "Backoff",
    "CURSOR_KEY",
    "DEFAULT_KINDS",
    "DeliveryReport",
    "Outcome",
    "Rule",
    "SmtpSettings",
    "deliver",
    "deliver_due",
    "delivery_id",
    "enqueue",
    "enqueue_new",
    "is_loopback",
    "load_rules",
    "make_test_alert",
    "parse_duration",
    "parse_kinds",
    "parse_tag",
    "parse_target",
    "rules",
    "send_mail",
    "send_webhook",
    "sign",
    "smtp_from_settings",
]

__getattr__ = exports(__name__, _WHERE)
