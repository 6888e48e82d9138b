"""``export FORMAT OUT [--tag K=V]…``."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UsageError
from ._context import Context, KeyValue, handle_errors, pass_ctx, term


@click.command()
@click.argument("format", type=click.Choice(["jsonl", "csv", "warc", "site"]))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--tag", "tags", type=KeyValue(), multiple=True, metavar="KEY=VALUE",
              help="site: only accounts watched with this tag (repeatable: every one).")
@pass_ctx
@handle_errors
def export(c: Context, format: str, out: Path, tags: tuple[str, ...]) -> None:
    """Export the archive: jsonl, csv (posts), warc (raw HTTP captures), site (a static
    mirror of deleted posts and closed accounts with their published receipts)."""
    from .. import _progress

    if format == "site":
        _site(c, out, tags)
        return
    if tags:
        raise UsageError("--tag is an option of `export site` only")
    from ..export import run_export

    with _progress.count_bar(f"exporting {format}") as progress:
        n = run_export(c.store, format, out, progress=progress)
    click.echo(f"wrote {n} records to {term(out)}", err=True)


def _site(c: Context, out: Path, tags: tuple[str, ...]) -> None:
    from .. import _progress
    from ..export.site import write_site

    if str(out) == "-":
        raise UsageError("a site is a directory: give one, not -")
    pairs = [(k.strip(), v.strip()) for k, _, v in (t.partition("=") for t in tags)]
    with _progress.count_bar("publishing deleted posts") as progress:
        s = write_site(c.store, out, tags=pairs, progress=progress)
    left = ""
    if s.left_out_accounts or s.left_out_posts:
        left = (f"; left out as not public: {s.left_out_accounts} accounts, "
                f"{s.left_out_posts} deleted posts")
    click.echo(f"wrote {term(out)}: {s.posts} deleted posts with their receipts, "
               f"{s.accounts} account pages ({s.closed} closed accounts){left}", err=True)
