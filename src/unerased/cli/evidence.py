"""``verify [--receipt FILE]``, ``receipt POST_ID OUT``, ``checkpoint``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._context import Context, UserError, emit_json, handle_errors, json_option, pass_ctx


def _fail(message: str) -> None:
    click.echo(f"unerased: verify failed: {' '.join(message.split())}", err=True)
    sys.exit(1)


def _read_key(path: Path) -> str:
    from ..ledger import note

    try:
        text = path.read_text(encoding="utf-8").strip()
        note.parse_verifier(text)
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read the key {path}: {e}") from None
    except note.NoteError as e:  # the same error, naming the file
        raise note.NoteError(f"{path}: {e}") from None
    return text


def _verify_receipt(path: Path, as_json: bool) -> None:
    from ..ledger.receipt import verify_receipt

    rep = verify_receipt(path)
    if as_json:
        emit_json([rep.to_json()])
    if not rep.ok:
        _fail(rep.summary())
    if not as_json:
        click.echo(rep.summary())
        click.echo(f"key: {rep.key}")
        click.echo(f"NOTE: {rep.warning}")
        for line in rep.story:
            click.echo(f"  {line}")


@click.command()
@click.option("--receipt", type=click.Path(dir_okay=False, path_type=Path),
              help="Check this receipt zip alone (no archive needed).")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, path_type=Path),
              help="The log's public key (default: keys/ledger.pub in the home).")
@click.option("--no-orphans", is_flag=True, help="Do not look for unreferenced blobs.")
@json_option
@pass_ctx
@handle_errors
def verify(c: Context, receipt: Path | None, key_file: Path | None, no_orphans: bool,
           as_json: bool) -> None:
    """Check the whole archive against its ledger (or one receipt); exit 1 and name
    the first bad item."""
    if receipt is not None:
        _verify_receipt(receipt, as_json)
        return
    from ..ledger.verify import verify_archive

    vkey = _read_key(key_file) if key_file is not None else None
    from .. import _progress

    with _progress.count_bar("verifying") as progress:
        rep = verify_archive(c.store, progress=progress, verifier_key=vkey,
                             check_orphans=not no_orphans)
    if as_json:
        emit_json([rep.to_json()])
    if not rep.ok:
        _fail(rep.summary())
    if not as_json:
        click.echo(rep.summary())

@click.command()
@click.argument("post_id")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@pass_ctx
@handle_errors
def receipt(c: Context, post_id: str, out: Path, as_json: bool) -> None:
    """Write an evidence bundle for one post (its platform id or number), verifiable
    offline with `unerased verify --receipt OUT`."""
    from ..ledger.receipt import write_receipt

    s = write_receipt(c.store, post_id, out)
    if as_json:
        emit_json([{"path": str(s.path), "post_id": s.post_id, "leaves": s.leaves,
                    "captures": s.captures, "blobs": s.blobs,
                    "checkpoint": s.checkpoint_size}])
    else:
        click.echo(f"wrote {s.path}: post {s.post_id}, {s.leaves} ledger leaves "
                   f"({s.captures} captures), {s.blobs} blobs, checkpoint {s.checkpoint_size}")

@click.command()
@click.option("--timestamp-url", envvar="UNERASED_TIMESTAMP_URL",
              help="Also timestamp the checkpoint at this RFC 3161 authority "
                   "(env UNERASED_TIMESTAMP_URL).")
@click.option("--timestamp-ca", type=click.Path(dir_okay=False, path_type=Path),
              help="PEM of the authority's CA: the token must chain to it.")
@json_option
@pass_ctx
@handle_errors
def checkpoint(c: Context, timestamp_url: str | None, timestamp_ca: Path | None,
               as_json: bool) -> None:
    """Sign a checkpoint of the ledger now (after checking it extends the previous
    one) and print the signed note."""
    from ..ledger.log import make_checkpoint

    ca = None
    if timestamp_ca is not None:
        try:
            ca = timestamp_ca.read_bytes()
        except OSError as e:
            raise UserError(f"cannot read {timestamp_ca}: {e.strerror}") from None
    row = make_checkpoint(c.store, timestamp_url=timestamp_url, timestamp_ca_pem=ca)
    if as_json:
        emit_json([row.to_json()])
    else:
        click.echo(row.note, nl=False)
