"""``posts``, ``search``, ``events``: reading the archive."""

from __future__ import annotations

from typing import Any

import click

from ._context import Context, UserError, emit_json, handle_errors, json_option, pass_ctx


def _one_account(c: Context, ref: str) -> dict[str, Any]:
    found = c.store.find_accounts(ref)
    if not found:
        raise UserError(f"no account matches {ref!r} (try `unerased watch list`)")
    if len(found) > 1:
        names = ", ".join(f"{a['platform']}:{a['handle'] or a['account_id']}" for a in found)
        raise UserError(f"{ref!r} matches several accounts ({names}); say platform:handle")
    return found[0]


def _print_post(p: dict[str, Any]) -> None:
    flag = "" if p["status"] == "present" else f" [{p['status']}]"
    nv = len(p["versions"])
    ver = f" ({nv} versions)" if nv > 1 else ""
    text = p.get("snippet") or p["text"]
    click.echo(f"{p['created_at'] or '?':<25} {p['post_id']}{flag}{ver}")
    click.echo("    " + text.replace("\n", "\n    "))


@click.command()
@click.argument("account")
@click.option("--status", type=click.Choice(["present", "deleted", "missing", "unavailable"]))
@json_option
@pass_ctx
@handle_errors
def posts(c: Context, account: str, status: str | None, as_json: bool) -> None:
    """An account's posts (ACCOUNT: handle, platform:handle, account id or number)."""
    acc = _one_account(c, account)
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
@click.option("--status", type=click.Choice(["present", "deleted", "missing", "unavailable"]))
@click.option("--since", help="Posts created at or after this ISO date.")
@click.option("--until", help="Posts created before this ISO date.")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
@pass_ctx
@handle_errors
def search(c: Context, query: str, account: str | None, status: str | None, since: str | None,
           until: str | None, limit: int, as_json: bool) -> None:
    """Full-text search over every version of every post (Chinese included)."""
    acc_pk = _one_account(c, account)["id"] if account else None
    rows = c.store.search(query, account_pk=acc_pk, status=status, since=_iso_arg(since),
                          until=_iso_arg(until), limit=limit)
    if as_json:
        emit_json(rows)
        return
    for p in rows:
        _print_post(p)
    click.echo(f"{len(rows)} matches", err=True)


def _iso_arg(v: str | None) -> str | None:
    if not v:
        return None
    from ..model import iso, parse_iso

    try:
        return iso(parse_iso(v))
    except ValueError:
        raise UserError(f"not an ISO 8601 date: {v!r}") from None


@click.command()
@click.option("--type", "type_", help="Only this event type (post_deleted, account_suspended…).")
@click.option("--since", help="Detected at or after this ISO date.")
@click.option("--account", help="Only this account.")
@json_option
@pass_ctx
@handle_errors
def events(c: Context, type_: str | None, since: str | None, account: str | None,
           as_json: bool) -> None:
    """Detected events (deletions, edits, closures…)."""
    acc_pk = _one_account(c, account)["id"] if account else None
    rows = c.store.iter_events(type=type_, since=_iso_arg(since), account_pk=acc_pk)
    if as_json:
        emit_json(rows)
        return
    n = 0
    for e in rows:
        who = f"{e['platform']}:{e['account'] or e['account_id']}"
        post = f" {e['post_id']}" if e["post_id"] else ""
        click.echo(f"{e['at']}  {e['type']:<20} {who}{post}")
        n += 1
    click.echo(f"{n} events", err=True)
