"""``serve`` (the web UI and JSON API) and ``user add|list|remove|token`` (its users);
docs/web.md."""

from __future__ import annotations

import re
from typing import Any

import click

from ._context import (
    BadUsage,
    Context,
    UserError,
    creates_archive,
    emit_json,
    handle_errors,
    json_option,
    pass_ctx,
    term,
)

__all__ = ["ROLE_CHOICE", "serve", "user"]

ROLE_CHOICE = click.Choice(["viewer", "editor", "admin"])
USER_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
DEFAULT_URL = "http://127.0.0.1:8321"


def _need_web() -> None:
    """The ``web`` extra, or one line naming the pip command (exit 2)."""
    import importlib.util

    from ..errors import MissingExtra

    for mod in ("starlette", "jinja2", "itsdangerous", "multipart", "argon2", "uvicorn"):
        if importlib.util.find_spec(mod) is None:
            raise MissingExtra("the web UI", "web")


def _check_name(name: str) -> str:
    if not USER_NAME.fullmatch(name):
        raise BadUsage(f"a user name is 1 to 64 letters, digits, '.', '_' or '-', not {name!r}")
    return name


def base_url(host: str, port: int) -> str:
    """The URL a login link starts with: the bound address (loopback for a wildcard)."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (loopback by default).")
@click.option("--port", type=click.IntRange(1, 65535), default=8321, show_default=True,
              help="Port to listen on.")
@click.option("--no-auth", is_flag=True,
              help="No login (everyone is an admin); refused on any address but loopback.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Another name the Host header may carry (a reverse proxy's; repeatable).")
@pass_ctx
@creates_archive
@handle_errors
def serve(c: Context, host: str, port: int, no_auth: bool, allow_hosts: tuple[str, ...]) -> None:
    """Serve the web UI and JSON API (a login is required; a one-time link is printed)."""
    _need_web()
    from ..web import is_loopback

    if no_auth and not is_loopback(host):
        raise BadUsage(f"--no-auth is refused on {host}: only on a loopback address "
                       "(127.0.0.1, ::1, localhost)")
    import uvicorn

    from ..model import utcnow
    from ..web import LINK_LIFETIME_SERVE, WebConfig, create_app, issue_login_link
    from .watch import _run_context

    store = c.store
    config = WebConfig(home=c.home, db_url=c.db_url, store=store, host=host, port=port,
                       auth=not no_auth, allow_hosts=tuple(allow_hosts),
                       extra={"run_context": lambda _store: _run_context(c)})
    app = create_app(config)
    sock = _listen(host, port)
    url = base_url(host, port)
    if no_auth:
        click.echo(f"serving {url}/ without a login (--no-auth, loopback only)", err=True)
    else:
        admins = [u for u in store.list_users() if u["role"] == "admin"]
        admin = admins[0] if admins else store.add_user("admin", "admin", utcnow())
        token = issue_login_link(store, admin["id"], utcnow(), LINK_LIFETIME_SERVE)
        minutes = int(LINK_LIFETIME_SERVE.total_seconds() // 60)
        click.echo(f"{url}/login/link/{token}")
        click.echo(f"log in as {term(admin['name'])} with the link above (once, within "
                   f"{minutes} minutes); `unerased user add` makes more users", err=True)
    if not is_loopback(host):
        click.echo("unerased: warning: serving beyond loopback over plain HTTP: put a TLS "
                   "reverse proxy in front (docs/web.md)", err=True)
    server = uvicorn.Server(uvicorn.Config(
        app, log_level="warning", server_header=False, date_header=False,
        # a TLS reverse proxy on this machine says https (X-Forwarded-Proto): the
        # session cookie is then Secure; nobody else is believed
        proxy_headers=True, forwarded_allow_ips="127.0.0.1,::1",
        access_log=False, lifespan="on"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def _listen(host: str, port: int) -> Any:
    """A listening socket on ``host``:``port`` (bound before the link is used, so that
    a port in use is one line and exit 1, not a server's log)."""
    import socket

    try:
        family, kind, proto, _, addr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as e:
        raise UserError(f"cannot listen on {host} port {port}: {e.strerror or e}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise UserError(f"cannot listen on {host} port {port}: {e.strerror or e}") from None
    return sock


@click.group()
def user() -> None:
    """Users of the web UI: roles viewer, editor, admin (docs/web.md)."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=ROLE_CHOICE, default="viewer", show_default=True,
              help="viewer reads; editor also adds and removes watched accounts; admin "
                   "also manages users.")
@click.option("--url", "url", default=DEFAULT_URL, show_default=True,
              help="Where the server is reached, for the printed link.")
@pass_ctx
@creates_archive
@handle_errors
def user_add(c: Context, name: str, role: str, url: str) -> None:
    """Add a user and print a one-time login link for them."""
    _need_web()
    from ..model import utcnow
    from ..web import LINK_LIFETIME_ADD, issue_login_link

    u = c.store.add_user(_check_name(name), role, utcnow())
    token = issue_login_link(c.store, u["id"], utcnow(), LINK_LIFETIME_ADD)
    hours = int(LINK_LIFETIME_ADD.total_seconds() // 3600)
    click.echo(f"{url.rstrip('/')}/login/link/{token}")
    click.echo(f"added {term(name)} ({role}); the link above logs them in once, within "
               f"{hours} hours, to set a password", err=True)


def _user_json(u: dict[str, Any]) -> dict[str, Any]:
    return {"name": u["name"], "role": u["role"], "has_password": u["has_password"],
            "tokens": u["tokens"], "sessions": u["sessions"], "created_at": u["created_at"]}


@user.command("list")
@json_option
@pass_ctx
@handle_errors
def user_list(c: Context, as_json: bool) -> None:
    """The users and their roles (never a secret)."""
    rows = [_user_json(u) for u in c.store.list_users()]
    if as_json:
        emit_json(rows)
        return
    for u in rows:
        pw = "password set" if u["has_password"] else "no password yet"
        click.echo(f"{term(u['name'])}  {u['role']}  {pw}, {u['tokens']} API tokens, "
                   f"{u['sessions']} sessions")
    click.echo(f"{len(rows)} users", err=True)


@user.command("remove")
@click.argument("name")
@pass_ctx
@handle_errors
def user_remove(c: Context, name: str) -> None:
    """Remove a user, its sessions, API tokens and login links."""
    if not c.store.remove_user(name):
        raise UserError(f"no user named {name!r}")
    click.echo(f"removed {term(name)}: its sessions and API tokens no longer work", err=True)


@user.command("token")
@click.argument("name")
@pass_ctx
@handle_errors
def user_token(c: Context, name: str) -> None:
    """Make an API token for a user and print it once (`Authorization: Bearer TOKEN`)."""
    _need_web()
    from ..model import utcnow
    from ..web import issue_api_token

    u = c.store.get_user(name)
    if u is None:
        raise UserError(f"no user named {name!r}")
    click.echo(issue_api_token(c.store, u["id"], utcnow()))
    click.echo(f"an API token of {term(name)} ({u['role']}), shown this once: send it as "
               "`Authorization: Bearer TOKEN`", err=True)
