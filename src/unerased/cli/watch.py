"""``watch add|list|remove``, ``poll``, ``run``, ``demo``."""

from __future__ import annotations

import math
import os
from typing import Any

import click

from ..refs import account_uri
from ._context import (
    KEY_VALUE,
    PROXY_URL,
    SECONDS,
    Context,
    UserError,
    creates_archive,
    emit_json,
    handle_errors,
    json_option,
    pass_ctx,
    run_async,
    term,
)

_PROXY_HELP = ("Proxy for the watches that have none of their own, e.g. "
               "socks5h://127.0.0.1:9050 (env UNERASED_PROXY).")


def _run_context(c: Context, proxy: str | None = None) -> Any:
    """The collector's context: the command's proxy (``--proxy``, else the global one)
    checked now (a bad value is a usage error before anything runs); a watch's own proxy
    comes first, UNERASED_PROXY after, the home's ``proxy`` setting last
    (``unerased.net.effective_proxy``); intervals, leases and confirmations from the
    home's settings (``unerased config``)."""
    from datetime import timedelta

    from .. import net
    from ..config import load
    from ..watch.detect import DetectConfig
    from ..watch.runner import RunContext, WatchConfig, default_client_factory
    from ..watch.schedule import ScheduleConfig

    settings = load(c.home)
    opts: dict[str, dict[str, Any]] = {}
    token = os.environ.get("UNERASED_X_BEARER_TOKEN")
    if token:
        opts["x"] = {"token": token}
    mtoken = os.environ.get("UNERASED_MASTODON_TOKEN")
    if mtoken:
        opts["mastodon"] = {"token": mtoken}
    plc = os.environ.get("UNERASED_PLC_URL")
    if plc:
        opts["bluesky"] = {"plc_url": plc}
    cfg = WatchConfig(
        interval=settings.duration("schedule.interval"),
        recheck_interval=settings.duration("schedule.recheck_interval"),
        lease=settings.duration("schedule.lease"),
        per_host_concurrency=int(settings["schedule.per_host_concurrency"]),
        detect=DetectConfig(
            confirmations=int(settings["detect.confirmations"]),
            min_confirm_interval=timedelta(
                seconds=float(settings["detect.min_confirm_interval"]))),
        source_options=opts,
        schedule=ScheduleConfig(
            base_interval=settings.duration("schedule.interval"),
            recheck_interval=settings.duration("schedule.recheck_interval"),
            min_interval=min(settings.duration("schedule.min_interval"),
                             settings.duration("schedule.max_interval")),
            max_interval=settings.duration("schedule.max_interval"),
        ) if settings["schedule.adaptive"] else None)
    command_proxy = proxy if proxy is not None else c.proxy  # checked by the option types
    env = dict(os.environ)
    proxy_setting = c.proxy_settings()  # the --require-proxy flag folded in
    net.effective_proxy(None, command_proxy, env, proxy_setting)  # every level checked now
    ctx = RunContext(c.store, default_client_factory(), cfg, proxy=command_proxy, env=env,
                     settings=proxy_setting)
    return ctx, settings


def _debug() -> bool:
    return os.environ.get("UNERASED_DEBUG", "").strip() not in ("", "0")


def _show_outcome(res: Any, as_json: bool) -> None:
    """One check: a JSON object on stdout (``--json``), else one line on stderr and its
    events on stdout. A traceback (a bug) only with UNERASED_DEBUG."""
    if res.outcome == "busy":  # said on stderr with --json too
        click.echo(f"skipped {res.account}: busy (another collector is checking it)",
                   err=True)
    if as_json:
        emit_json([res.to_json()])
    elif res.outcome != "busy":
        status = {"ok": "ok", "stale": "stale (a more recent check was stored first)"}.get(
            res.outcome, f"error: {term(res.error or '')}")
        seen = (f", {res.redacted_seen} redacted posts seen again (not stored)"
                if getattr(res, "redacted_seen", 0) else "")
        click.echo(f"{term(res.account)}: {status}; {len(res.events)} events, "
                   f"{res.captures} requests{seen}", err=True)
        for e in res.events:
            post = f" {term(e['post_id'])}" if e["post_id"] else ""
            click.echo(f"  {term(e['type'])}{post}")
    if res.traceback and _debug():
        click.echo(res.traceback.rstrip(), err=True)


def _show_loop_error(res: Any, as_json: bool) -> None:
    """A failure of the collector's own loop: one JSON line or one line on stderr."""
    if as_json:
        emit_json([res.to_json()])
    else:
        click.echo(f"unerased: collector: {term(res.error or '')}", err=True)
    if res.traceback and _debug():
        click.echo(res.traceback.rstrip(), err=True)


@click.group()
def watch() -> None:
    """Watch accounts on Bluesky, Mastodon, RSS/Atom and X."""

@watch.command("add")
@click.argument("uri")
@click.option("--service", help="API base URL (a PDS or AppView, a Mastodon instance).")
@click.option("--tag", "tags", multiple=True, type=KEY_VALUE, metavar="KEY=VALUE",
              help="Label (repeatable).")
@click.option("--proxy", type=PROXY_URL, help="The watch's own proxy, kept and used for every "
              "request made for it, e.g. socks5h://127.0.0.1:9050; 'env': the environment's.")
@json_option
@pass_ctx
@creates_archive
@handle_errors
def add(c: Context, uri: str, service: str | None, tags: tuple[str, ...],
        proxy: str | None, as_json: bool) -> None:
    """Watch an account: bluesky:HANDLE_OR_DID, mastodon:@user@host, rss:URL, x:USERNAME."""
    from ..watch.runner import add_watch
    from ..watch.uri import parse_uri

    wu = parse_uri(uri)
    kv: dict[str, str] = {}
    for t in tags:
        if "=" not in t:
            raise UserError(f"--tag must be KEY=VALUE, not {t!r}")
        k, v = t.split("=", 1)
        kv[k.strip()] = v.strip()
    row = run_async(add_watch(_run_context(c)[0], wu, service=service, tags=kv, proxy=proxy))
    acc = c.store.account_json(c.store.find_accounts(f"row:{row['id']}")[0])
    if as_json:
        emit_json([acc])
    else:
        click.echo(f"watching {term(acc['uri'])} ({term(acc['account_id'])}), "
                   f"status {term(acc['status'])}")

@watch.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also accounts known only from imports.")
@json_option
@pass_ctx
@handle_errors
def list_(c: Context, show_all: bool, as_json: bool) -> None:
    """Watched accounts with their status."""
    rows = [c.store.account_json(r) for r in c.store.list_accounts(watched_only=not show_all)]
    if as_json:
        emit_json(rows)
        return
    for a in rows:
        err = f"  (last error: {term(a['check_error'])})" if a["check_error"] else ""
        click.echo(f"{term(a['uri'])}  {term(a['status'])}  {a['posts']} posts, "
                   f"{a['deleted_posts']} deleted  last check {term(a['last_check'] or 'never')}"
                   f"{err}")
    click.echo(f"{len(rows)} accounts", err=True)

@watch.command("remove")
@click.argument("uri")
@pass_ctx
@handle_errors
def remove(c: Context, uri: str) -> None:
    """Stop watching an account (URI: any form `posts` takes); its archive is kept."""
    from ..watch.runner import remove_watch

    a = c.store.resolve_account(uri, watched=True)
    remove_watch(c.store, a["id"])
    click.echo(f"stopped watching {term(account_uri(a['platform'], a['handle'], a['account_id']))}"
               "; its archive is kept", err=True)

@click.command()
@click.option("--once", is_flag=True, help="One pass over every watched account, then exit.")
@click.option("--proxy", type=PROXY_URL, help=_PROXY_HELP)
@json_option
@pass_ctx
@handle_errors
def poll(c: Context, once: bool, proxy: str | None, as_json: bool) -> None:
    """Check the watched accounts that are due (or all, with --once). Exit 1 when a
    check failed."""
    from ..watch.runner import poll as run_poll

    results = run_async(run_poll(
        _run_context(c, proxy)[0], once=once, on_result=lambda r: _show_outcome(r, as_json),
        on_loop_error=lambda r: _show_loop_error(r, as_json)))
    if not results:
        click.echo("nothing due (see `unerased watch list`)", err=True)
    checks = [r for r in results if r.outcome != "busy"]
    failed = [r for r in checks if r.outcome == "error"]
    if failed:
        raise UserError(f"{len(failed)} of {len(checks)} checks failed "
                        "(see `unerased watch list`)")

@click.command()
@click.option("--for", "duration", type=SECONDS, help="Stop after this many seconds.")
@click.option("--proxy", type=PROXY_URL, help=_PROXY_HELP)
@json_option
@pass_ctx
@handle_errors
def run(c: Context, duration: float | None, proxy: str | None, as_json: bool) -> None:
    """The collector daemon: checks what is due, forever (or --for SECONDS), within each
    host's request budget. Every check that failed is one line (a JSON line with --json);
    SIGTERM or SIGINT stops it gracefully (the checks in flight are stored, the claims
    not used given back, a checkpoint signed; exit 0)."""
    ctx, settings = _run_context(c, proxy)
    run_async(_daemon(ctx, settings, duration, as_json))


async def _daemon(ctx: Any, settings: Any, duration: float | None, as_json: bool) -> None:
    import asyncio
    import signal

    from ..alerts import smtp_from_settings
    from ..collector import (
        AlertPump,
        Collector,
        CollectorOptions,
        budgets_from,
        daemon_id,
        make_streams,
    )

    def log(res: Any) -> None:
        if as_json:
            emit_json([res.to_json()])
        else:
            click.echo(f"unerased: collector {term(ctx.collector)}: {term(res.outcome)}",
                       err=True)

    beat_every = settings.duration("heartbeat.interval")
    ctx.collector = await asyncio.to_thread(
        daemon_id, ctx.store, ctx.now(), beat_every) or ctx.collector
    alert_proxy = ctx.proxy_for({})
    streams = make_streams(
        settings, await asyncio.to_thread(ctx.store.list_accounts, watched_only=True),
        proxy=alert_proxy, env=ctx.env, cursors=ctx.store.state_items("stream:"),
        require_proxy=ctx.requires_proxy(),
        mastodon_token=ctx.env.get("UNERASED_MASTODON_TOKEN"),
        mastodon_instance=ctx.env.get("UNERASED_MASTODON_INSTANCE"))
    col = Collector(
        ctx, budgets=budgets_from(settings.budgets()), streams=streams,
        options=CollectorOptions(
            max_in_flight=int(settings["schedule.max_in_flight"]),
            heartbeat_every=beat_every),
        on_result=lambda r: _show_outcome(r, as_json),
        on_loop_error=lambda r: _show_loop_error(r, as_json), on_log=log)
    col.alerts = AlertPump(ctx.store, col.writer, ctx.collector, proxy=alert_proxy,
                           env=ctx.env, smtp=smtp_from_settings(settings.get),
                           require_proxy=ctx.requires_proxy())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, col.stop)
    try:
        await col.run(duration)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def _hours(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not math.isfinite(value) or not 0.5 <= value <= 24 * 60:
        raise click.BadParameter(f"{value!r} is not a number of hours from 0.5 to 1440",
                                 ctx, param)
    return value


@click.command()
@click.option("--for", "duration", type=SECONDS, default=30.0, show_default=True,
              help="Run for this many wall seconds (the whole campaign plays in them).")
@click.option("--hours", type=float, default=12.0, show_default=True, callback=_hours,
              help="Simulated hours the campaign covers (the sweep comes half-way).")
@click.option("--round", "round_s", type=SECONDS, default=0.5, show_default=True,
              help="Wall seconds per round of checks, at most.")
@click.option("--accounts", type=click.IntRange(6, 1000), default=60, show_default=True,
              help="Accounts in the campaign (dealt over the six provinces).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=7, show_default=True,
              help="The campaign's seed (the same seed, the same campaign).")
@click.option("--serve", "serve_web", is_flag=True,
              help="Also serve the web UI over the demo's archive on 127.0.0.1 while it runs "
                   "(a one-time login link is printed).")
@click.option("--port", type=click.IntRange(1, 65535), default=8321, show_default=True,
              help="The port of --serve.")
@json_option
@pass_ctx
@handle_errors
def demo(c: Context, duration: float, hours: float, round_s: float, accounts: int,
         seed: int, serve_web: bool, port: int, as_json: bool) -> None:
    """A censorship campaign on a simulated platform, watched live: accounts in six
    provinces, deletions, a sweep closing two provinces, a summary scored against the
    campaign's ground truth.

    Its archive goes to HOME/demo (your own archive is not touched), the summary to
    HOME/demo/summary.json. With --serve, the web UI shows it as it unfolds."""
    import json

    from rich.console import Console

    from ..sim.demo import poll_due, run_demo
    from ..sim.demo_view import LiveView
    from ..store import Store

    home = c.home / "demo"
    if (home / "unerased.sqlite").exists():
        import shutil

        shutil.rmtree(home)
    store = Store.open(home)
    web: _DemoWeb | None = None
    console = Console(stderr=as_json, highlight=False)
    view = LiveView(console, events=not as_json)

    def collect(ctx: Any) -> Any:
        outcomes = poll_due(ctx)
        if as_json:
            for o in outcomes:
                if o.events:
                    emit_json(o.events)
        return outcomes

    try:
        if serve_web:
            web = _DemoWeb(store, home, port, as_json)
            web.start()
        result = run_demo(store, seconds=duration, hours=hours, round_seconds=round_s,
                          accounts=accounts, seed=seed, view=view, collect=collect)
    finally:
        if web is not None:
            web.stop()
        store.close()
    (home / "summary.json").write_text(json.dumps(result.to_json(), indent=2) + "\n")
    click.echo(f"the demo archive is in {term(home)}: try `unerased --home {term(home)} "
               "events`", err=True)
    if web is not None:
        click.echo(f"the web UI stopped with the demo; to browse the demo's archive again: "
                   f"`unerased --home {term(home)} serve --port {port}`", err=True)


class _DemoWeb:
    """``demo --serve``: the web UI (``unerased serve``'s app and server, a login
    required) over the demo's archive, on 127.0.0.1, in a thread of its own while the
    campaign runs in this one."""

    def __init__(self, store: Any, home: Any, port: int, as_json: bool) -> None:
        from .web import admin_login_link, base_url, listen, need_web, uvicorn_server

        need_web()
        from ..web import WebConfig, create_app

        self.sock = listen("127.0.0.1", port)
        app = create_app(WebConfig(home=home, store=store, host="127.0.0.1", port=port))
        url = base_url("127.0.0.1", port)
        admin_login_link(store, url, err=as_json)  # stdout holds --json's events
        click.echo(f"the web UI of the demo: {url}/ (while the demo runs)", err=True)
        self.server = uvicorn_server(app)
        self.thread: Any = None

    def start(self) -> None:
        import threading

        self.thread = threading.Thread(target=self.server.run, name="unerased-demo-web",
                                       kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.sock.close()
