"""What every command shares: the archive's :class:`Context`, the one place errors
become what the user sees (:func:`handle_errors`), the option types that check a value
before a command runs, terminal-safe output (:func:`term`, :func:`emit_json`) and
``--json`` (like sqlite-utils' shared ``output_options``). Imports nothing heavy: the CLI
starts fast."""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..text.terminal import for_terminal, json_for_terminal

if TYPE_CHECKING:  # the store (SQLAlchemy) loads only when a command needs it: `import`
    from ..store import Store  # forks its archive reader before that, see ingest
    from ..vault import HomeKeys, Secret


F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Context:
    """What every command gets: where the archive is, the proxy the command line named.
    No globals."""

    home: Path
    db_url: str | None
    proxy: str | None = None  # the global --proxy (checked), None when not given
    creates: bool = False  # True for a command that makes the archive (@creates_archive)
    key_file: Path | None = None  # the global --key-file (env UNERASED_KEY_FILE)
    _store: Store | None = None
    _secret: Secret | None = None
    _keys: HomeKeys | None = None

    @property
    def store(self) -> Store:
        """The archive. Only a command marked :func:`creates_archive` makes one where
        there is none; every other command stops with ``no archive at HOME``. An
        encrypted home is unlocked first (:meth:`unlock`)."""
        if self._store is None:
            from ..store import Store

            keys = self.unlock()
            self._store = Store.open(self.home, self.db_url, create=self.creates, keys=keys)
        return self._store

    def secret(self, *, what: str = "passphrase", confirm: bool = False) -> Secret:
        """What unlocks the home, asked once per command: the ``--key-file``, else
        ``UNERASED_PASSPHRASE``, else a hidden prompt (``confirm``: typed twice)."""
        if self._secret is None:
            self._secret = ask_secret(self.key_file, "UNERASED_PASSPHRASE", what=what,
                                      confirm=confirm)
        return self._secret

    def unlock(self) -> HomeKeys | None:
        """The keys of an encrypted home, unlocked once per command (None: a plain home).
        A wrong passphrase or key file is one line (KeyLocked, exit 1)."""
        from ..vault import is_encrypted, unlock

        if self._keys is None and is_encrypted(self.home):
            self._keys = unlock(self.home, self.secret())
        return self._keys

    def proxy_for(self, command_proxy: str | None = None, *,
                  watch_proxy: str | None = None) -> str | None:
        """The proxy a request goes through (DESIGN.md, :func:`unerased.net.effective_proxy`):
        the watch's own, else the command's ``--proxy``, else the global ``--proxy``, else
        ``UNERASED_PROXY``, else the home's ``proxy`` setting (``unerased config``); None:
        direct. UsageError for a value that cannot be used."""
        from ..config import load
        from ..net import effective_proxy

        return effective_proxy(watch_proxy, command_proxy or self.proxy, os.environ,
                               load(self.home).proxy_mapping())

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        self._keys = self._secret = None  # not kept beyond the command


def ask_secret(key_file: Path | None, env_name: str, *, what: str = "passphrase",
               confirm: bool = False) -> Secret:
    """A key file's secret, else the passphrase in the environment variable ``env_name``,
    else one typed at a hidden prompt. No passphrase at all is a UsageError."""
    from ..errors import UsageError
    from ..vault import Secret, read_key_file

    if key_file is not None:
        return read_key_file(key_file)
    text = os.environ.get(env_name)
    if text is None:
        try:
            text = click.prompt(f"The archive's {what}", hide_input=True,
                                confirmation_prompt=confirm, err=True, default="",
                                show_default=False)
        except click.Abort:
            text = ""
    if not text:
        raise UsageError(f"no {what} given: type it at the prompt, or set {env_name}, or "
                         "use --key-file")
    return Secret(passphrase=text)


def creates_archive(f: F) -> F:
    """Mark a command that makes the archive when there is none (``import``, ``watch
    add``); put it under ``@pass_ctx``."""

    @functools.wraps(f)
    def wrapper(c: Context, *args: Any, **kwargs: Any) -> Any:
        c.creates = True
        return f(c, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


# ------------------------------------------------------------------------ output


def term(value: object) -> str:
    """One field for a line of human output: every control, bidi and invisible format
    character a platform or an archive put in it shown as an escape, a newline too."""
    return for_terminal("" if value is None else str(value), keep_newlines=False)


def term_block(text: str, indent: str = "") -> str:
    """Several lines of archive text (a post), escaped, each line indented."""
    return indent + for_terminal(text).replace("\n", "\n" + indent)


class UserError(click.ClickException):
    """One line on stderr, exit 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"unerased: error: {term(self.format_message())}", err=True)


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


_NO_ARGS_IS_HELP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


@contextmanager
def one_line_usage_errors() -> Iterator[None]:
    """click's own usage errors (an unknown command or option, a bad choice, a number out
    of range) as the one line every error is, naming the help to read."""
    try:
        yield
    except _NO_ARGS_IS_HELP:
        raise  # no arguments at all: click (8.2 and later) prints the help
    except click.UsageError as e:
        where = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
        raise BadUsage(f"{e.format_message()}{where}") from None


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="JSON Lines on stdout.")(f)


def emit_json(rows: Iterable[dict[str, Any]]) -> int:
    """Each row as one line of JSON on stdout. Characters a terminal would act on
    (controls, bidi, invisible formats) are written as JSON ``\\u`` escapes: the value a
    program reads is exactly the archive's."""
    n = 0
    out = sys.stdout
    for r in rows:
        out.write(json_for_terminal(json.dumps(r, ensure_ascii=False)) + "\n")
        n += 1
    out.flush()
    return n


pass_ctx = click.make_pass_decorator(Context)


def run_async(coro: Any) -> Any:
    import asyncio  # not at import time: the CLI starts without it

    return asyncio.run(coro)


# ------------------------------------------------------------------------ option types

if TYPE_CHECKING:  # generic only in newer click (the project supports click 8.1)
    _ParamType = click.ParamType[Any, Any]
else:
    _ParamType = click.ParamType


class Seconds(_ParamType):
    """A finite, positive number of seconds."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        try:
            v = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(v) or v <= 0:
            self.fail(f"{value!r} is not a positive number of seconds", param, ctx)
        return v


class IsoDate(_ParamType):
    """An ISO 8601 date or time (a time without a zone is UTC), given back as the ISO
    8601 UTC text the archive stores."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        from ..model import iso, parse_iso

        try:
            got = iso(parse_iso(str(value)))
        except (ValueError, OverflowError):
            got = None
        if not got:
            self.fail(f"not an ISO 8601 date: {value!r} (e.g. 2024-05-01 or "
                      "2024-05-01T12:00:00Z)", param, ctx)
        return got


class KeyValue(_ParamType):
    """``KEY=VALUE`` with a non-empty key."""

    name = "key=value"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        key, sep, _ = str(value).partition("=")
        if not sep or not key.strip():
            self.fail(f"must be KEY=VALUE, not {value!r}", param, ctx)
        return str(value)


class HttpUrl(_ParamType):
    """An http(s) URL with a host."""

    name = "url"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        from urllib.parse import urlsplit

        text = str(value).strip()
        try:
            u = urlsplit(text)
            ok = u.scheme in ("http", "https") and bool(u.hostname)
            _ = u.port
        except ValueError:
            ok = False
        if not ok:
            self.fail(f"{value!r} is not an http(s) URL", param, ctx)
        return text


class ProxyUrl(_ParamType):
    """A proxy unerased can use (``http``, ``https``, ``socks5``, ``socks5h``; see
    :func:`unerased.net.check_proxy`), or ``env``: the environment's proxy."""

    name = "url"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        text = str(value).strip()
        if text.lower() == "env":
            return text
        from ..errors import UsageError
        from ..net import check_proxy

        try:
            return check_proxy(text)
        except UsageError as e:
            self.fail(str(e).removeprefix("--proxy: "), param, ctx)


SECONDS = Seconds()
ISO_DATE = IsoDate()
KEY_VALUE = KeyValue()
HTTP_URL = HttpUrl()
PROXY_URL = ProxyUrl()
