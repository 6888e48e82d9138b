"""The ``unerased`` command line. Thin: it parses, opens the store, calls a module, prints.

Every listing takes ``--json`` and then prints JSON Lines on stdout and nothing else.
Errors are one line on stderr and a non-zero exit, never a traceback (the error tree of
:mod:`unerased.errors` is mapped in one place, :func:`handle_errors`). One module per
command group, registered here explicitly; none of them imports this package back.
Every option and command is documented in docs/cli.md (tests/test_docs.py checks).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from . import alerts, evidence, export, imports, reading, watch, web
from ._context import (
    PROXY_URL,
    BadUsage,
    Context,
    UserError,
    creates_archive,
    emit_json,
    handle_errors,
    json_option,
    one_line_usage_errors,
    pass_ctx,
    term,
)

__all__ = [
    "BadUsage",
    "Context",
    "UserError",
    "cli",
    "creates_archive",
    "emit_json",
    "handle_errors",
    "json_option",
    "main",
    "pass_ctx",
    "term",
]


class RootGroup(click.Group):
    """The root: click's own usage errors, at every level below it too, are the one line
    every error is (exit 2)."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        with one_line_usage_errors():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with one_line_usage_errors():
            return super().invoke(ctx)


@click.group("unerased", cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home", type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("UNERASED_HOME", "./unerased-data"), show_default="./unerased-data",
    help="Archive home: SQLite file, blobs, keys (env UNERASED_HOME).",
)
@click.option("--db", "db_url", envvar="UNERASED_DB", default=None,
              help="Database URL overriding the home's SQLite, e.g. postgresql://… (env UNERASED_DB).")
@click.option("--proxy", type=PROXY_URL, default=None,
              help="Proxy for every request, e.g. socks5h://127.0.0.1:9050; 'env': the "
                   "environment's (else env UNERASED_PROXY).")
@click.version_option(package_name="unerased")
@click.pass_context
def cli(ctx: click.Context, home: Path, db_url: str | None, proxy: str | None) -> None:
    """unerased keeps what censors erase."""
    ctx.obj = Context(Path(home), db_url, proxy)
    ctx.call_on_close(ctx.obj.close)


def _register_more() -> None:
    """Register every command group on :func:`cli` (idempotent; done at import)."""
    for cmd in (
        imports.import_group, imports.sample_archive,
        reading.posts, reading.search, reading.events,
        export.export,
        watch.watch, watch.poll, watch.run, watch.demo,
        evidence.verify, evidence.receipt, evidence.checkpoint,
        alerts.alert,
        web.serve, web.user,
    ):
        cli.add_command(cmd)


_register_more()


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
