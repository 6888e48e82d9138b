"""``import twitter-archive|mastodon-archive|bluesky-car``, ``sample-archive``."""

from __future__ import annotations

from pathlib import Path

import click

from ._context import (
    Context,
    creates_archive,
    emit_json,
    handle_errors,
    json_option,
    pass_ctx,
    term,
)


@click.group("import")
def import_group() -> None:
    """Import a platform's own archive export."""


def _import_cmd(kind: str, help_text: str) -> None:
    @import_group.command(kind, help=help_text)
    @click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
    @json_option
    @pass_ctx
    @creates_archive
    @handle_errors
    def cmd(c: Context, path: Path, as_json: bool) -> None:
        from ..errors import ArchiveError
        from ..ingest import import_archive, start_reading

        if not path.is_file():
            raise ArchiveError(str(path), "no such file")
        # the reader process starts before the progress bar's thread (so it can fork)
        # and parses while the store opens
        reading = start_reading(kind, path)
        try:
            c.unlock()  # an encrypted home's passphrase asked before the progress bar
            from rich.markup import escape

            from .. import _progress

            label = escape(f"importing {term(path.name)}")  # a file name is not markup
            with _progress.bytes_bar(label) as progress:
                counts = import_archive(lambda: c.store, kind, path, progress=progress,
                                        reading=reading)
        finally:
            reading.close()
        uris = counts.account_uris
        summary = {"archive": str(path), "kind": kind, "account": counts.account,
                   "accounts": counts.accounts, "account_uris": uris, **counts.as_dict(),
                   "redacted_seen": counts.redacted_seen,
                   "notices": [n.to_json() for n in counts.notices]}
        if as_json:
            emit_json([summary])
        else:
            k = len(counts.notices)
            warned = f", {k} warning{'s' if k != 1 else ''} (below)" if k else ""
            click.echo(
                f"imported {term(path.name)} ({term(', '.join(uris)) or 'no account'}): "
                f"{counts.posts} posts read, {counts.new_posts} new, "
                f"{counts.new_versions} new versions, {counts.unchanged} unchanged, "
                f"{counts.deleted} marked deleted by their owner"
                f"{counts.media_line()}{warned}"
            )
            for notice in counts.notices:
                click.echo(f"unerased: warning: {term(notice.message)}", err=True)


_import_cmd("twitter-archive", "Import an X/Twitter 'download your data' zip.")
_import_cmd("mastodon-archive",
            "Import a Mastodon account archive (the .zip, or the .tar.gz of older versions).")
_import_cmd("bluesky-car", "Import a Bluesky repository CAR file (com.atproto.sync.getRepo).")


@click.command("sample-archive")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["twitter-archive", "mastodon-archive", "bluesky-car"]),
              default="twitter-archive", show_default=True)
@click.option("--posts", "n", type=click.IntRange(min=1), default=2000, show_default=True,
              help="How many posts.")
@click.option("--seed", type=int, default=1, show_default=True,
              help="The random seed: the same seed gives the same archive.")
def sample_archive(out: Path, kind: str, n: int, seed: int) -> None:
    """Write a synthetic archive in the platform's real layout (for trying unerased)."""
    if kind == "twitter-archive":
        from ..sim.archives import make_twitter_archive

        make_twitter_archive(out, n_tweets=n, seed=seed)
    elif kind == "mastodon-archive":
        from ..sim.archives_fedi import make_mastodon_archive

        make_mastodon_archive(out, n_posts=n, seed=seed)
    else:
        from ..sim.archives_fedi import make_bluesky_car

        make_bluesky_car(out, n_posts=n, seed=seed)
    click.echo(f"wrote a sample {kind} with {n} posts to {term(out)}", err=True)
