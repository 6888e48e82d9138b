"""``export FORMAT OUT [--account REF]… [--tag K=V]… [--since DATE] [--status S]
[--pseudonymise] [--encrypt-to RECIPIENT]…``."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UsageError
from ._context import ISO_DATE, Context, KeyValue, handle_errors, pass_ctx, term

POST_STATUSES = ["present", "deleted", "missing", "unavailable"]


@click.command()
@click.argument("format", type=click.Choice(["jsonl", "csv", "warc", "site"]))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--account", "accounts", multiple=True, metavar="ACCOUNT",
              help="Only this account (repeatable: any of them).")
@click.option("--tag", "tags", type=KeyValue(), multiple=True, metavar="KEY=VALUE",
              help="Only accounts watched with this tag (repeatable: every one).")
@click.option("--since", type=ISO_DATE,
              help="Only posts created (warc: captures made) at or after this date.")
@click.option("--status", type=click.Choice(POST_STATUSES),
              help="Only posts of this status (jsonl, csv).")
@click.option("--pseudonymise", is_flag=True,
              help="Keyed pseudonyms for accounts and posts; no handle, profile or URL "
                   "(jsonl, csv; for research sharing).")
@click.option("--encrypt-to", "encrypt_to", multiple=True, metavar="RECIPIENT",
              help="Encrypt the output to this age recipient (age1… or ssh-ed25519 …; "
                   "repeatable): writes OUT.age.")
@pass_ctx
@handle_errors
def export(c: Context, format: str, out: Path, accounts: tuple[str, ...],
           tags: tuple[str, ...], since: str | None, status: str | None, pseudonymise: bool,
           encrypt_to: tuple[str, ...]) -> None:
    """Export the archive: jsonl, csv (posts), warc (raw HTTP captures), site (a static
    mirror of deleted posts and closed accounts with their published receipts)."""
    from .. import _progress

    pairs = [(k.strip(), v.strip()) for k, _, v in (t.partition("=") for t in tags)]
    if format == "site":
        for name, given in (("--since", since), ("--status", status),
                            ("--pseudonymise", pseudonymise), ("--encrypt-to", encrypt_to)):
            if given:
                raise UsageError(f"{name} is not an option of `export site` (a site "
                                 "publishes deleted posts: use --account, --tag)")
        _site(c, out, pairs, accounts)
        return
    from ..export import Selection, run_export, select_accounts

    sel = Selection(select_accounts(c.store, accounts, pairs), status, since)
    pseud = None
    if pseudonymise:
        from ..export.pseudonym import Pseudonymiser, load_key

        pseud = Pseudonymiser(load_key(c.home))
    with _progress.count_bar(f"exporting {format}") as progress:
        n = run_export(c.store, format, out, progress=progress, selection=sel,
                       pseudonymise=pseud, encrypt_to=encrypt_to)
    shown = out if not encrypt_to or str(out) == "-" or out.name.endswith(".age") \
        else out.with_name(out.name + ".age")
    click.echo(f"wrote {n} records to {term(shown)}"
               f"{' (encrypted)' if encrypt_to else ''}", err=True)


def _site(c: Context, out: Path, pairs: list[tuple[str, str]],
          accounts: tuple[str, ...]) -> None:
    from .. import _progress
    from ..export import select_accounts
    from ..export.site import write_site

    if str(out) == "-":
        raise UsageError("a site is a directory: give one, not -")
    chosen = select_accounts(c.store, accounts, []) if accounts else None
    with _progress.count_bar("publishing deleted posts") as progress:
        s = write_site(c.store, out, tags=pairs, accounts=chosen, progress=progress)
    left = ""
    if s.left_out_accounts or s.left_out_posts:
        left = (f"; left out as not public: {s.left_out_accounts} accounts, "
                f"{s.left_out_posts} deleted posts")
    click.echo(f"wrote {term(out)}: {s.posts} deleted posts with their receipts, "
               f"{s.accounts} account pages ({s.closed} closed accounts){left}", err=True)
