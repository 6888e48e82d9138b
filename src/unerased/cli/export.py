"""``export FORMAT OUT``."""

from __future__ import annotations

from pathlib import Path

import click

from ._context import Context, handle_errors, pass_ctx, term


@click.command()
@click.argument("format", type=click.Choice(["jsonl", "csv", "warc"]))
@click.argument("out", type=click.Path(path_type=Path))
@pass_ctx
@handle_errors
def export(c: Context, format: str, out: Path) -> None:
    """Export the archive: jsonl, csv (posts), warc (raw HTTP captures)."""
    from .. import _progress
    from ..export import run_export

    with _progress.count_bar(f"exporting {format}") as progress:
        n = run_export(c.store, format, out, progress=progress)
    click.echo(f"wrote {n} records to {term(out)}", err=True)
