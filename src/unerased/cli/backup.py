"""``backup OUT [--with-keys]`` and ``restore IN [HOME]`` (docs/backups.md)."""

from __future__ import annotations

from pathlib import Path

import click

from ._context import Context, UserError, emit_json, handle_errors, json_option, pass_ctx, term

__all__ = ["backup", "restore"]


@click.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--with-keys", is_flag=True,
              help="Include the secrets (ledger signing key, web secret, secret settings).")
@json_option
@pass_ctx
@handle_errors
def backup(c: Context, out: Path, with_keys: bool, as_json: bool) -> None:
    """Back the archive up into OUT (a new or empty directory, owner-only): a consistent
    copy of the database while the collector writes, every blob checked by its digest,
    a manifest of SHA-256 digests. Secrets are left out unless --with-keys."""
    from ..backup import make_backup

    res = make_backup(c.store, out, with_keys=with_keys)
    row = {"out": str(out), "database": res.database, "files": res.files, "blobs": res.blobs,
           "bytes": res.bytes, "with_keys": res.with_keys,
           "manifest_sha256": res.manifest_sha256, "damaged_blobs": res.damaged}
    if as_json:
        emit_json([row])
    else:
        click.echo(f"backed up {res.blobs} blobs and the database into {term(out)}"
                   f"{' with the keys' if with_keys else ' (keys left out)'}", err=True)
        click.echo(f"manifest sha256 {res.manifest_sha256}")
    if res.damaged:
        raise UserError(f"{len(res.damaged)} blobs of the home are damaged (kept in the "
                        f"backup's damaged/, never restored): first {res.damaged[0]}; run "
                        "`unerased verify`")


@click.command()
@click.argument("src", metavar="IN", type=click.Path(file_okay=False, exists=True,
                                                    path_type=Path))
@click.argument("home", required=False, type=click.Path(file_okay=False, path_type=Path))
@json_option
@pass_ctx
@handle_errors
def restore(c: Context, src: Path, home: Path | None, as_json: bool) -> None:
    """Restore the backup IN into HOME (default: --home), which must be new or empty;
    a PostgreSQL backup goes into the empty database --db names. Every file is checked
    against the manifest first."""
    from ..backup import restore_backup

    target = home or c.home
    res = restore_backup(src, target, c.db_url)
    if as_json:
        emit_json([{"home": str(target), "files": res.files, "blobs": res.blobs,
                    "with_keys": res.with_keys, "checkpoint": res.checkpoint,
                    "encrypted": res.encrypted}])
        return
    keys = "" if res.with_keys else "; the backup holds no signing key: copy keys/ledger.key " \
        "back before the next checkpoint"
    if res.encrypted:
        keys += "; the home is encrypted: it opens with the passphrase or key file of the " \
            "home it was backed up from"
    click.echo(f"restored {res.blobs} blobs and the database into {term(target)}{keys}",
               err=True)
