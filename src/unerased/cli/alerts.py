"""``alert add|list|remove|test``: who is told of what (docs/alerts.md)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from ._context import (
    Context,
    UserError,
    creates_archive,
    emit_json,
    handle_errors,
    json_option,
    pass_ctx,
    run_async,
    term,
)

if TYPE_CHECKING:
    from ..alerts import SmtpSettings

__all__ = ["alert"]


def _smtp_settings(c: Context) -> SmtpSettings | None:
    """The SMTP server of the home's configuration (``smtp.*`` in ``HOME/config.toml``,
    read by :mod:`unerased.config`), None when none is set or there is no such module
    (an unerased without the config file: ``mailto:`` targets then wait)."""
    import importlib

    from ..alerts import smtp_from_settings

    try:
        config = importlib.import_module("unerased.config")
    except ModuleNotFoundError:
        return None
    settings = config.load(c.home)
    return smtp_from_settings(lambda name: settings[name])


def _rule_json(r: dict[str, Any]) -> dict[str, Any]:
    from ..alerts import Rule

    rule = Rule.from_row(r)
    return {"id": rule.id, "target": rule.target, "on": sorted(rule.kinds),
            "tag": None if rule.tag is None else f"{rule.tag[0]}={rule.tag[1]}",
            "min_posts": rule.min_posts, "within_s": rule.within_s,
            "silent_days": rule.silent_days, "enabled": rule.enabled,
            "created_at": r["created_at"]}


def _describe(j: dict[str, Any]) -> str:
    extra = [f"tag {j['tag']}"] if j["tag"] else []
    if j["min_posts"] is not None:
        extra.append(f"≥ {j['min_posts']} deletions")
    if j["within_s"] is not None:
        extra.append(f"within {j['within_s']} s")
    if j["silent_days"] is not None:
        extra.append(f"silent {j['silent_days']} days")
    more = f"; {', '.join(extra)}" if extra else ""
    return f"{j['id']}  {term(j['target'])}  on {','.join(j['on'])}{more}"


@click.group()
def alert() -> None:
    """Alert rules: webhooks and e-mail when accounts vanish or posts are erased."""


@alert.command("add")
@click.argument("target")
@click.option("--on", "on_types", metavar="TYPE,…",
              help="What to alert on (default: account_deleted, account_suspended, "
                   "account_deactivated, mass_deletion).")
@click.option("--tag", metavar="KEY=VALUE", help="Only accounts watched with this tag.")
@click.option("--min-posts", type=click.IntRange(min=1), metavar="N",
              help="Mass deletion: at least N posts of one account deleted …")
@click.option("--within", metavar="DURATION",
              help="… within DURATION (90s, 30m, 2h, 1d); for collector_silent: the "
                   "silence allowed; for heartbeat: the period.")
@click.option("--silent-days", type=click.IntRange(min=1), metavar="N",
              help="A watched account that has not posted for N days.")
@json_option
@pass_ctx
@creates_archive
@handle_errors
def add(c: Context, target: str, on_types: str | None, tag: str | None,
        min_posts: int | None, within: str | None, silent_days: int | None,
        as_json: bool) -> None:
    """Add a rule: TARGET is https://… (a signed JSON POST) or mailto:ADDRESS. Prints the
    rule's id and its HMAC secret (shown once)."""
    import secrets

    from ..alerts import parse_duration, parse_kinds, parse_tag, parse_target
    from ..model import utcnow

    target = parse_target(target)
    kinds = None if on_types is None else list(parse_kinds(on_types))
    within_s = None if within is None else parse_duration(within)
    row = c.store.add_alert_rule(
        target, secret=secrets.token_hex(32), now=utcnow(), on_types=kinds,
        tag=None if tag is None else parse_tag(tag), min_posts=min_posts,
        within_s=within_s, silent_days=silent_days)
    j = _rule_json(row)
    if as_json:
        emit_json([{**j, "secret": row["secret"]}])
        return
    click.echo(f"rule {_describe(j)}")
    click.echo(f"secret {row['secret']}")
    click.echo("the secret is shown once: receivers check X-Unerased-Signature with it "
               "(docs/alerts.md)", err=True)


@alert.command("list")
@json_option
@pass_ctx
@handle_errors
def list_(c: Context, as_json: bool) -> None:
    """The alert rules (never their secrets)."""
    rows = [_rule_json(r) for r in c.store.alert_rules()]
    if as_json:
        emit_json(rows)
        return
    for j in rows:
        click.echo(_describe(j) + ("" if j["enabled"] else "  (disabled)"))
    click.echo(f"{len(rows)} rules", err=True)


def _rule_id(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n <= 0:
        from ..errors import UsageError

        raise UsageError(f"not a rule id: {value!r} (see `unerased alert list`)")
    return n


@alert.command("remove")
@click.argument("rule_id", metavar="ID")
@pass_ctx
@handle_errors
def remove(c: Context, rule_id: str) -> None:
    """Remove a rule and its undelivered alerts."""
    n = _rule_id(rule_id)
    if not c.store.remove_alert_rule(n):
        raise UserError(f"no alert rule {n} (see `unerased alert list`)")
    click.echo(f"removed rule {n}", err=True)


@alert.command("test")
@click.argument("rule_id", metavar="ID")
@json_option
@pass_ctx
@handle_errors
def test(c: Context, rule_id: str, as_json: bool) -> None:
    """Send a test alert now, through the real delivery path (proxy, signature)."""
    import secrets

    from ..alerts import Backoff, Rule, deliver_due, make_test_alert
    from ..model import utcnow

    n = _rule_id(rule_id)
    row = c.store.alert_rule(n)
    if row is None:
        raise UserError(f"no alert rule {n} (see `unerased alert list`)")
    now = utcnow()
    a = make_test_alert(Rule.from_row(row), now, secrets.token_hex(8))
    c.store.enqueue_alert(a.delivery_id, a.rule_id, a.kind, a.payload, now)
    report = run_async(deliver_due(
        c.store, now, proxy=c.proxy_for(), env=dict(os.environ), smtp=_smtp_settings(c),
        backoff=Backoff(max_attempts=1), only=[a.delivery_id]))
    if as_json:
        emit_json([{"rule": n, "delivery_id": a.delivery_id, **report.to_json()}])
    if report.delivered != 1:
        error = report.errors[0][1] if report.errors else "not sent"
        raise UserError(f"test alert to {row['target']} failed: {error}")
    if not as_json:
        click.echo(f"delivered test alert {a.delivery_id} to {term(row['target'])}")
