"""What every command shares: the archive's :class:`Context`, the one place errors
become what the user sees (:func:`handle_errors`), and ``--json`` output (like
sqlite-utils' shared ``output_options``). Imports nothing heavy: the CLI starts fast."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:  # the store (SQLAlchemy) loads only when a command needs it: `import`
    from ..store import Store  # forks its archive reader before that, see ingest


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
            from ..store import Store

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
        from ..errors import UnerasedError

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


pass_ctx = click.make_pass_decorator(Context)


def run_async(coro: Any) -> Any:
    import asyncio  # not at import time: the CLI starts without it

    return asyncio.run(coro)
