"""``posts``, ``search``, ``events``: reading the archive."""

from __future__ import annotations

from typing import Any

import click

from ..model import EventType
from ._context import (
    ISO_DATE,
    Context,
    emit_json,
    handle_errors,
    json_option,
    pass_ctx,
    term,
    term_block,
)

STATUSES = ["present", "deleted", "missing", "unavailable"]
EVENT_TYPES = [str(t) for t in EventType]
MAX_LIMIT = 2**31 - 1


def _print_post(p: dict[str, Any]) -> None:
    flag = "" if p["status"] == "present" else f" [{term(p['status'])}]"
    nv = len(p["versions"])
    ver = f" ({nv} versions)" if nv > 1 else ""
    text = p.get("snippet") or p["text"]
    click.echo(f"{term(p['created_at'] or '?'):<25} {term(p['account_uri'])} "
               f"{term(p['post_id'])}{flag}{ver}")
    click.echo(term_block(text, "    "))


@click.command()
@click.argument("account")
@click.option("--status", type=click.Choice(STATUSES))
@json_option
@pass_ctx
@handle_errors
def posts(c: Context, account: str, status: str | None, as_json: bool) -> None:
    """An account's posts (ACCOUNT: its URI such as x:USERNAME, a profile URL, a handle,
    an account id, or row:N)."""
    acc = c.store.resolve_account(account)
    rows = c.store.iter_posts(account_pk=acc["id"], status=status)
    if as_json:
        emit_json(rows)
        return
    n = 0
    for p in rows:
        _print_post(p)
        n += 1
    click.echo(f"{n} posts", err=True)


@click.command()
@click.argument("query")
@click.option("--account", help="Only this account.")
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--since", type=ISO_DATE, help="Posts created at or after this ISO date.")
@click.option("--until", type=ISO_DATE, help="Posts created before this ISO date.")
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), default=50, show_default=True,
              help="At most this many posts, newest first.")
@json_option
@pass_ctx
@handle_errors
def search(c: Context, query: str, account: str | None, status: str | None, since: str | None,
           until: str | None, limit: int, as_json: bool) -> None:
    """Full-text search over every version of every post (Chinese included)."""
    acc_pk = c.store.resolve_account(account)["id"] if account else None
    filters: dict[str, Any] = {"account_pk": acc_pk, "status": status, "since": since,
                               "until": until}
    rows = c.store.search(query, limit=limit, **filters)
    total = len(rows) if len(rows) < limit else c.store.search_total(query, **filters)
    if as_json:
        emit_json(rows)
    else:
        for p in rows:
            _print_post(p)
    click.echo(f"{total} matches (showing {len(rows)})", err=True)


@click.command()
@click.option("--type", "type_", type=click.Choice(EVENT_TYPES), help="Only this event type.")
@click.option("--since", type=ISO_DATE, help="Detected at or after this ISO date.")
@click.option("--account", help="Only this account.")
@json_option
@pass_ctx
@handle_errors
def events(c: Context, type_: str | None, since: str | None, account: str | None,
           as_json: bool) -> None:
    """Detected events (deletions, edits, closures…)."""
    acc_pk = c.store.resolve_account(account)["id"] if account else None
    rows = c.store.iter_events(type=type_, since=since, account_pk=acc_pk)
    if as_json:
        emit_json(rows)
        return
    n = 0
    for e in rows:
        post = f" {term(e['post_id'])}" if e["post_id"] else ""
        click.echo(f"{term(e['at'])}  {term(e['type']):<20} {term(e['account_uri'])}{post}")
        n += 1
    click.echo(f"{n} events", err=True)
