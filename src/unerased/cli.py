"""The ``unerased`` command line. Thin: it parses, opens the store, calls a module, prints.

Every listing takes ``--json`` and then prints JSON Lines on stdout and nothing else.
Errors are one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:  # the store (SQLAlchemy) loads only when a command needs it: `import`
    from .store import Store  # forks its archive reader before that, see ingest


F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Context:
    """What every command gets: where the archive is. No globals."""

    home: Path
    db_url: str | None
    _store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            from .store import Store

            self._store = Store.open(self.home, self.db_url)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


class UserError(click.ClickException):
    """One line on stderr, exit 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"unerased: error: {self.format_message()}", err=True)


class BadUsage(UserError):
    """One line on stderr, exit 2 (a bad argument or option value)."""

    exit_code = 2


def handle_errors(f: F) -> F:
    """The one place the error tree (:mod:`unerased.errors`) becomes what the user sees:
    one clear line on stderr and the error's exit code (1, or 2 for a usage error)."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .errors import UnerasedError

        try:
            return f(*args, **kwargs)
        except KeyboardInterrupt:
            click.echo("unerased: interrupted; nothing uncommitted was kept", err=True)
            sys.exit(130)
        except UnerasedError as e:
            raise (BadUsage if e.exit_code == 2 else UserError)(str(e)) from None

    return wrapper  # type: ignore[return-value]


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="JSON Lines on stdout.")(f)


def emit_json(rows: Iterable[dict[str, Any]]) -> int:
    n = 0
    out = sys.stdout
    for r in rows:
        out.write(json.dumps(r, ensure_ascii=False) + "\n")
        n += 1
    out.flush()
    return n


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home", type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("UNERASED_HOME", "./unerased-data"), show_default="./unerased-data",
    help="Archive home: SQLite file, blobs, keys (env UNERASED_HOME).",
)
@click.option("--db", "db_url", envvar="UNERASED_DB", default=None,
              help="Database URL overriding the home's SQLite, e.g. postgresql://… (env UNERASED_DB).")
@click.version_option(package_name="unerased")
@click.pass_context
def cli(ctx: click.Context, home: Path, db_url: str | None) -> None:
    """unerased keeps what censors erase."""
    ctx.obj = Context(Path(home), db_url)
    ctx.call_on_close(ctx.obj.close)


pass_ctx = click.make_pass_decorator(Context)


# ------------------------------------------------------------------ import


@cli.group("import")
def import_group() -> None:
    """Import a platform's own archive export."""


def _import_cmd(kind: str, help_text: str) -> None:
    @import_group.command(kind, help=help_text)
    @click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
    @json_option
    @pass_ctx
    @handle_errors
    def cmd(c: Context, path: Path, as_json: bool) -> None:
        from .errors import ArchiveError
        from .ingest import import_archive, start_reading

        if not path.is_file():
            raise ArchiveError(str(path), "no such file")
        # the reader process starts before the progress bar's thread (so it can fork)
        # and parses while the store opens
        reading = start_reading(kind, path)
        try:
            from . import _progress

            with _progress.bytes_bar(f"importing {path.name}") as progress:
                counts = import_archive(lambda: c.store, kind, path, progress=progress,
                                        reading=reading)
        finally:
            reading.close()
        summary = {"archive": str(path), "kind": kind, "accounts": counts.accounts,
                   **counts.as_dict()}
        if as_json:
            emit_json([summary])
        else:
            click.echo(
                f"imported {path.name}: {counts.posts} posts read, {counts.new_posts} new, "
                f"{counts.new_versions} new versions, {counts.unchanged} unchanged, "
                f"{counts.deleted} marked deleted by their owner"
            )


_import_cmd("twitter-archive", "Import an X/Twitter 'download your data' zip.")
_import_cmd("mastodon-archive", "Import a Mastodon account archive zip.")
_import_cmd("bluesky-car", "Import a Bluesky repository CAR file (com.atproto.sync.getRepo).")


@cli.command("sample-archive")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["twitter-archive", "mastodon-archive", "bluesky-car"]),
              default="twitter-archive", show_default=True)
@click.option("--posts", "n", type=int, default=2000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
def sample_archive(out: Path, kind: str, n: int, seed: int) -> None:
    """Write a synthetic archive in the platform's real layout (for trying unerased)."""
    if kind == "twitter-archive":
        from .sim.archives import make_twitter_archive

        make_twitter_archive(out, n_tweets=n, seed=seed)
    elif kind == "mastodon-archive":
        from .sim.archives_fedi import make_mastodon_archive

        make_mastodon_archive(out, n_posts=n, seed=seed)
    else:
        from .sim.archives_fedi import make_bluesky_car

        make_bluesky_car(out, n_posts=n, seed=seed)
    click.echo(f"wrote a sample {kind} with {n} posts to {out}", err=True)


# ------------------------------------------------------------------ reading


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


@cli.command()
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


@cli.command()
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
    from .model import iso, parse_iso

    try:
        return iso(parse_iso(v))
    except ValueError:
        raise UserError(f"not an ISO 8601 date: {v!r}") from None


@cli.command()
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


@cli.command()
@click.argument("format", type=click.Choice(["jsonl", "csv", "warc"]))
@click.argument("out", type=click.Path(path_type=Path))
@pass_ctx
@handle_errors
def export(c: Context, format: str, out: Path) -> None:
    """Export the archive: jsonl, csv (posts), warc (raw HTTP captures)."""
    from . import _progress
    from .export import run_export

    with _progress.count_bar(f"exporting {format}") as progress:
        n = run_export(c.store, format, out, progress=progress)
    click.echo(f"wrote {n} records to {out}", err=True)


def _register_more() -> None:
    """Add the commands that live in their own modules (idempotent)."""
    from . import _cli_evidence, _cli_watch

    _cli_watch.register(cli)
    _cli_evidence.register(cli)


def main() -> None:
    _register_more()
    try:
        cli(prog_name="unerased")
    except SystemExit as e:
        _exit(e.code)
    _exit(0)


def _exit(code: Any) -> None:
    """Exit without the interpreter's module teardown, which costs ~0.1 s once SQLAlchemy
    is loaded, on every command. What teardown would do that matters still happens: the
    store is closed (the click context's close callback), atexit handlers run (weakref
    finalizers, multiprocessing's clean-up), the standard streams are flushed. With
    another thread still running, exit the normal way (it would be joined)."""
    import threading

    if isinstance(code, str):
        click.echo(code, err=True)
        code = 1
    code = 0 if code is None else int(code)
    if threading.active_count() > 1:
        sys.exit(code)
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            code = code or 1
    os._exit(code)
