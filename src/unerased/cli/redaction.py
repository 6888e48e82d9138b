"""``redact POST_ID|ACCOUNT --reason TEXT`` and ``unredact POST_ID|ACCOUNT --reason TEXT``
(docs/redaction.md)."""

from __future__ import annotations

from typing import Any

import click

from ..errors import AmbiguousError, NotFound, UsageError
from ._context import Context, emit_json, handle_errors, json_option, pass_ctx, term

__all__ = ["redact", "unredact"]


def _reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not text:
        raise UsageError("--reason: say why (it is kept in the redaction record)")
    return text


def _target(c: Context, ref: str, account: bool) -> tuple[str, dict[str, Any]]:
    """("post", post) or ("account", account row) that ``ref`` names: a post first,
    unless ``--account``; an account when no post matches."""
    store = c.store
    if not account:
        try:
            return "post", store.resolve_post(ref)
        except NotFound:
            pass
    try:
        return "account", store.resolve_account(ref)
    except NotFound:
        what = "account" if account else "post or account"
        raise NotFound(f"no {what} matches {ref!r}") from None
    except AmbiguousError:
        raise
    except UsageError:
        if account:
            raise
        raise NotFound(f"no post or account matches {ref!r}") from None


@click.command()
@click.argument("ref", metavar="POST_ID|ACCOUNT")
@click.option("--reason", required=True, help="Why (kept in the redaction record).")
@click.option("--account", is_flag=True,
              help="REF names an account (else a post, then an account if no post matches).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_ctx
@handle_errors
def redact(c: Context, ref: str, reason: str, account: bool, yes: bool, as_json: bool) -> None:
    """Remove a post's (or an account's) content from the archive for good: texts,
    media no other post uses, the raw captures that hold it, search terms, the salts of
    its leaves. The ledger stays verifiable; backups still hold the content."""
    why = _reason(reason)
    kind, row = _target(c, ref, account)
    if kind == "post":
        name = f"post {row['account_uri']} {row['post_id']} (row:{row['id']})"
        account_pk, post_pk = int(row["account_pk"]), int(row["id"])
    else:
        name = f"account {c.store.account_json(row)['uri']} (row:{row['id']}) and all its posts"
        account_pk, post_pk = int(row["id"]), None
    if not yes:
        click.confirm(f"Redact {term(name)}? Its content is removed from this archive for "
                      "good (backups and sealed copies still hold it)", abort=True, err=True)
    done = c.store.redact(reason=why, account_pk=account_pk, post_pk=post_pk)
    if as_json:
        emit_json([{**done.to_json(), "ref": ref}])
        return
    click.echo(f"redacted {term(name)}: {done.versions} versions of {done.posts} posts, "
               f"{len(done.leaves)} ledger leaves, {len(done.captures)} raw captures, "
               f"{done.blobs_removed} files removed; redaction {done.id} at {done.at} "
               f"(to allow archiving it again: unerased unredact {term(done.unredact[0])} "
               "--reason …)")


@click.command()
@click.argument("ref", metavar="POST_ID|ACCOUNT")
@click.option("--reason", required=True, help="Why it may be archived again (kept).")
@json_option
@pass_ctx
@handle_errors
def unredact(c: Context, ref: str, reason: str, as_json: bool) -> None:
    """Allow a redacted post (its id) or account (platform:ACCOUNT_ID) to be archived
    again by later imports and polls. Nothing removed comes back."""
    why = _reason(reason)
    rows = c.store.redacted_matching(ref)
    if not rows:
        raise NotFound(f"no redacted post or account matches {ref!r}")
    from ..model import iso, utcnow

    at = iso(utcnow()) or ""
    c.store.lift_redaction([int(r["id"]) for r in rows], why, at)
    out = [{"platform": r["platform"], "account_id": r["account_id"], "post_id": r["post_id"],
            "redaction": r["redaction_pk"], "lifted_at": at, "lifted_reason": why}
           for r in rows]
    if as_json:
        emit_json(out)
        return
    for r in out:
        what = (f"post {r['post_id']}" if r["post_id"] is not None
                else f"account {r['platform']}:{r['account_id']}")
        click.echo(f"unredacted {term(what)} (redaction {r['redaction']}): later imports and "
                   "polls may archive it again")
