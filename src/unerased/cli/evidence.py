"""``verify [--receipt FILE]``, ``receipt POST_ID OUT``, ``checkpoint``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ._context import (
    HTTP_URL,
    PROXY_URL,
    Context,
    UserError,
    emit_json,
    handle_errors,
    json_option,
    pass_ctx,
    term,
    term_block,
)

if TYPE_CHECKING:  # the ledger loads only when a command needs it
    from ..ledger.receipt import ReceiptReport
    from ..ledger.verify import VerifyReport


def _fail(message: str) -> None:
    click.echo(f"unerased: verify failed: {term(' '.join(message.split()))}", err=True)
    sys.exit(1)


def _report(rep: VerifyReport | ReceiptReport, as_json: bool) -> None:
    """A verification's outcome: its JSON (``--json``), else its summary; exit 1 with
    the summary on stderr when it failed."""
    if as_json:
        emit_json([rep.to_json()])
    if not rep.ok:
        _fail(rep.summary())
    if not as_json:
        click.echo(term(rep.summary()))


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
    _report(rep, as_json)
    if not as_json:
        click.echo(f"key: {term(rep.key)}")
        click.echo(f"NOTE: {term(rep.warning)}")
        for line in rep.story:
            click.echo(f"  {term(line)}")
        for w in rep.withheld:
            click.echo(f"  withheld: {w['count']} {term(w['kind'])} ({term(w['reason'])})")
        for r in rep.redacted:
            click.echo(f"  evidence redacted: capture {r['capture'][:12]} (redaction "
                       f"{r['redaction']} at {term(str(r['at']))}: {term(str(r['reason']))})")


@click.command()
@click.option("--receipt", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Check this receipt zip alone (no archive needed).")
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
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
    _report(rep, as_json)
    if not as_json:
        for r in rep.redactions:
            click.echo(f"  redaction {r['id']} at {term(str(r['at']))} ({term(str(r['target']))}): "
                       f"{r['leaves']} leaves redacted, {r['captures']} captures removed: "
                       f"{term(str(r['reason']))}")
            for u in r["lifted"]:
                click.echo(f"    lifted at {term(str(u['at']))} (`unredact`): "
                           f"{term(str(u['reason']))}")

@click.command()
@click.argument("post_id")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--published", is_flag=True,
              help="A published receipt: only what concerns this post (no listing that "
                   "holds other posts, no account history); what it leaves out is named.")
@json_option
@pass_ctx
@handle_errors
def receipt(c: Context, post_id: str, out: Path, published: bool, as_json: bool) -> None:
    """Write an evidence bundle for one post (POST_ID: its platform id, its URL, an
    at:// URI, or row:N), verifiable offline with `unerased verify --receipt OUT`."""
    from ..ledger.receipt import resolve_receipt_post, write_receipt

    post = resolve_receipt_post(c.store, post_id)
    s = write_receipt(c.store, f"row:{post['id']}", out, published=published)
    if as_json:
        got = {"path": str(s.path), "post_id": s.post_id,
               "account_uri": post["account_uri"], "leaves": s.leaves,
               "captures": s.captures, "blobs": s.blobs, "checkpoint": s.checkpoint_size}
        if published:
            got |= {"published": True, "withheld": s.withheld}
        emit_json([got])
    else:
        held = f", {s.withheld} leaves withheld" if published else ""
        click.echo(f"wrote {term(s.path)}: post {term(post['account_uri'])} {term(s.post_id)}, "
                   f"{s.leaves} ledger leaves ({s.captures} captures), {s.blobs} blobs, "
                   f"checkpoint {s.checkpoint_size}{held}")

@click.command()
@click.option("--timestamp-url", envvar="UNERASED_TIMESTAMP_URL", type=HTTP_URL,
              help="Also timestamp the checkpoint at this RFC 3161 authority "
                   "(env UNERASED_TIMESTAMP_URL).")
@click.option("--timestamp-ca", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="PEM of the authority's CA: the token must chain to it.")
@click.option("--proxy", type=PROXY_URL,
              help="Proxy for the timestamp request, e.g. socks5h://127.0.0.1:9050 "
                   "(else the global --proxy, else env UNERASED_PROXY).")
@json_option
@pass_ctx
@handle_errors
def checkpoint(c: Context, timestamp_url: str | None, timestamp_ca: Path | None,
               proxy: str | None, as_json: bool) -> None:
    """Sign a checkpoint of the ledger now (after checking it extends the previous
    one) and print the signed note."""
    from ..ledger.log import make_checkpoint

    ca = None
    if timestamp_ca is not None:
        try:
            ca = timestamp_ca.read_bytes()
        except OSError as e:
            raise UserError(f"cannot read {timestamp_ca}: {e.strerror}") from None
    via = c.proxy_for(proxy) if timestamp_url else None
    row = make_checkpoint(c.store, timestamp_url=timestamp_url, timestamp_ca_pem=ca,
                          proxy=via, require_proxy=c.requires_proxy())
    if as_json:
        emit_json([row.to_json()])
    else:
        click.echo(term_block(row.note), nl=False)
