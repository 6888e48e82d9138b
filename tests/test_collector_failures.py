"""Never fail silently: a check that failed makes `poll` exit 1 and say how many, is one
JSON object with its error under `--json`, is recorded on the account (`check_error`),
and is one line of `run`'s log; an unexpected exception in one check is one line naming
the account while the other accounts are checked (a traceback only with
UNERASED_DEBUG). Real processes against real servers on loopback, on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli_proc import jsonl, unerased_run
from net_servers import Site, mastodon_site, sites, status
from sim_server import SimServer
from unerased.model import parse_iso
from unerased.sim.platform import SimPlatform
from unerased.store import Store
from unerased.watch import detect as detect_module
from unerased.watch.runner import (
    RunContext,
    WatchConfig,
    add_watch,
    default_client_factory,
    poll,
    run_forever,
)
from unerased.watch.uri import parse_uri

CHECK_KEYS = {"account", "account_id", "platform", "outcome", "error", "events", "requests",
              "at", "redacted_seen"}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("UNERASED_ALLOW_HOSTS", "UNERASED_PROXY", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "UNERASED_DEBUG"):
        monkeypatch.delenv(name, raising=False)


def add(store: Store, who: str, site: Site) -> str:
    uri = f"mastodon:@{who}@social.example"
    ctx = RunContext(store, default_client_factory(), WatchConfig())
    row = asyncio.run(add_watch(ctx, parse_uri(uri), service=site.base, tags={}))
    return str(store.account_json(row)["uri"])  # the canonical form every command prints


def two_watches(home: Path, db_url: str | None) -> tuple[Site, Site, str, str]:
    """alice and bob, each on their own loopback instance; bob's is then taken down."""
    up = mastodon_site([status(1, "hello")], username="alice")
    down = mastodon_site([status(2, "bye")], username="bob")
    store = Store.open(home, db_url)
    alice, bob = add(store, "alice", up), add(store, "bob", down)
    store.close()
    down.close()
    return up, down, alice, bob


def test_poll_exits_1_says_how_many_failed_and_json_is_one_object_per_check(
        tmp_path: Path, db_url: str | None) -> None:
    home = tmp_path / "home"
    up, _down, alice, bob = two_watches(home, db_url)
    before = datetime.now(UTC)
    with sites(up):
        r = unerased_run(home, db_url, "poll", "--once")
        js = unerased_run(home, db_url, "poll", "--once", "--json")
    assert r.returncode == 1, r.stderr  # before: 0
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert any(ln.startswith(f"{alice}: ok") for ln in lines)
    assert any(ln.startswith(f"{bob}: error: ") for ln in lines)
    assert lines[-1] == "unerased: error: 1 of 2 checks failed (see `unerased watch list`)"

    assert js.returncode == 1, js.stderr
    checks = jsonl(js.stdout)  # before: nothing at all for the failed check
    assert len(checks) == 2 and all(set(c) == CHECK_KEYS for c in checks)
    by = {c["account"]: c for c in checks}
    ok, failed = by[alice], by[bob]
    assert ok["outcome"] == "ok" and ok["error"] is None and ok["requests"] >= 2
    assert ok["platform"] == "mastodon" and ok["account_id"].startswith("109@127.0.0.1:")
    assert failed["outcome"] == "error" and failed["events"] == []
    assert failed["error"] and "\n" not in failed["error"]
    assert failed["requests"] >= 1  # the failed request is itself kept as evidence
    for c in checks:
        at = parse_iso(c["at"])
        assert at is not None and before - timedelta(seconds=1) <= at <= datetime.now(UTC)
    assert js.stderr.strip().splitlines()[-1].endswith("1 of 2 checks failed "
                                                       "(see `unerased watch list`)")
    listed = {a["uri"]: a for a in jsonl(
        unerased_run(home, db_url, "watch", "list", "--json").stdout)}
    assert listed[bob]["check_error"] == failed["error"]
    assert listed[alice]["check_error"] is None


def test_poll_json_lists_events_of_a_check(tmp_path: Path, db_url: str | None) -> None:
    home = tmp_path / "home"
    sim = SimPlatform(seed=3)
    alice = sim.add_account("alice")
    st = sim.post(alice, "hello", at=datetime.now(UTC) - timedelta(hours=1))
    with SimServer(sim) as srv:
        store = Store.open(home, db_url)
        ctx = RunContext(store, default_client_factory(), WatchConfig())
        row = asyncio.run(add_watch(ctx, parse_uri("mastodon:@alice@social.example"),
                                    service=srv.base, tags={}))
        canonical = store.account_json(row)["uri"]  # the handle the platform answered with
        store.close()
        assert unerased_run(home, db_url, "poll", "--once").returncode == 0
        sim.edit(st, "hello, edited")
        r = unerased_run(home, db_url, "poll", "--once", "--json")
    assert r.returncode == 0, r.stderr
    (check,) = jsonl(r.stdout)
    assert check["account"] == canonical and check["outcome"] == "ok"
    assert canonical.startswith("mastodon:@alice@127.0.0.1:")
    assert [(e["type"], e["post_id"]) for e in check["events"]] == [("post_edited", st.id)]
    store = Store.open(home, db_url)
    assert check["events"] == list(store.iter_events())  # the JSON of `events`
    store.close()


def test_run_logs_every_failed_check(tmp_path: Path, db_url: str | None) -> None:
    home = tmp_path / "home"
    up, _down, alice, bob = two_watches(home, db_url)
    with sites(up):
        text = unerased_run(home, db_url, "run", "--for", "1.5")
        assert text.returncode == 0, text.stderr
        assert "Traceback" not in text.stderr
        assert sum(ln.startswith(f"{bob}: error: ") for ln in text.stderr.splitlines()) == 1
        assert sum(ln.startswith(f"{alice}: ok") for ln in text.stderr.splitlines()) == 1
        store = Store.open(home, db_url)
        with store.writer() as w:  # both due again
            for a in store.list_accounts(watched_only=True):
                w.update_account(a["id"], next_check=None)
        store.close()
        js = unerased_run(home, db_url, "run", "--for", "1.5", "--json")
    assert js.returncode == 0, js.stderr
    checks = jsonl(js.stdout)  # before: nothing for the failed check
    assert all(set(c) == CHECK_KEYS for c in checks)
    assert [c["outcome"] for c in checks if c["account"] == bob] == ["error"]
    assert [c["outcome"] for c in checks if c["account"] == alice] == ["ok"]


def test_a_failing_checkpoint_is_a_logged_loop_failure_and_the_loop_goes_on(
        tmp_path: Path, db_url: str | None) -> None:
    """The daemon's own failures (here: an empty ledger key file, so no checkpoint can
    be signed) are one JSON line each; checks go on; `run` is not stopped by them
    (before: the first failure ended the daemon)."""
    home = tmp_path / "home"
    up, _down, alice, _bob = two_watches(home, db_url)
    (home / "keys").mkdir(exist_ok=True)
    (home / "keys" / "ledger.key").write_text("")
    with sites(up):
        r = unerased_run(home, db_url, "run", "--for", "1.5", "--json")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    lines = jsonl(r.stdout)
    loop = [c for c in lines if c["outcome"] == "loop_error"]
    assert loop and all(set(c) == CHECK_KEYS and c["account"] is None for c in loop)
    assert all("key file" in c["error"] and "\n" not in c["error"] for c in loop)
    assert [c["outcome"] for c in lines if c["account"] == alice] == ["ok"]


def test_periodic_loop_failures_do_not_stop_the_checks(store: Store) -> None:
    """In process: a checkpoint after every pass, each failing; every failure is
    reported to the loop's callback and the passes go on."""
    (store.home / "keys").mkdir(exist_ok=True)
    (store.home / "keys" / "ledger.key").write_text("")
    posts = [status(1, "hello")]
    seen: list[Any] = []
    failures: list[str] = []
    with sites(mastodon_site(posts)) as (site,):
        add(store, "alice", site)
        clock = [datetime.now(UTC)]

        def now() -> datetime:
            clock[0] += timedelta(minutes=30)  # every pass finds alice due
            return clock[0]

        ctx = RunContext(store, default_client_factory(), WatchConfig(
            checkpoint_every=timedelta(0)), now=now)
        asyncio.run(run_forever(ctx, duration=1.0, tick=0.1, on_result=seen.append,
                                on_loop_error=lambda f: failures.append(f.error or "")))
    assert len(seen) >= 2 and all(o.outcome == "ok" for o in seen)
    assert len(failures) >= len(seen)  # each pass's checkpoint, and the final one
    assert all("key file" in f for f in failures)


def _break_detection_for(monkeypatch: pytest.MonkeyPatch, victim: str) -> None:
    original = detect_module.detect

    def detect(account: Any, posts: Any, check: Any, *args: Any, **kw: Any) -> Any:
        if check.snapshot is not None and (check.snapshot.handle or "").startswith(victim + "@"):
            raise KeyError("a bug in detection")
        return original(account, posts, check, *args, **kw)

    monkeypatch.setattr(detect_module, "detect", detect)


def test_an_unexpected_exception_is_that_checks_error(store: Store,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _break_detection_for(monkeypatch, "alice")
    with sites(mastodon_site([status(1, "a")], username="alice"),
               mastodon_site([status(2, "b")], username="bob")) as (s1, s2):
        alice, bob = add(store, "alice", s1), add(store, "bob", s2)
        ctx = RunContext(store, default_client_factory(), WatchConfig())
        outs = {o.account: o for o in asyncio.run(poll(ctx, once=True))}
    assert outs[bob].outcome == "ok" and len(list(store.iter_posts())) == 1
    assert outs[alice].outcome == "error"
    assert outs[alice].error == "internal error: KeyError: 'a bug in detection'"
    assert outs[alice].traceback and "Traceback" in outs[alice].traceback
    rows = {store.account_json(a)["uri"]: a for a in store.list_accounts(watched_only=True)}
    assert rows[alice]["check_error"] == outs[alice].error
    assert rows[alice]["claimed_by"] is None  # released: the next pass may try again
    assert parse_iso(rows[alice]["next_check"]) is not None


def test_the_cli_says_one_line_per_broken_check_and_a_traceback_only_in_debug(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from unerased.cli import cli

    _break_detection_for(monkeypatch, "alice")
    with sites(mastodon_site([status(1, "a")], username="alice"),
               mastodon_site([status(2, "b")], username="bob")) as (s1, s2):
        store = Store.open(home)
        alice, bob = add(store, "alice", s1), add(store, "bob", s2)
        store.close()
        r = CliRunner().invoke(cli, ["--home", str(home), "poll", "--once"])
        assert r.exit_code == 1
        assert "Traceback" not in r.stderr
        assert f"{alice}: error: internal error: KeyError: 'a bug in detection'" in r.stderr
        assert f"{bob}: ok" in r.stderr
        monkeypatch.setenv("UNERASED_DEBUG", "1")
        r = CliRunner().invoke(cli, ["--home", str(home), "poll", "--once"])
    assert r.exit_code == 1
    assert "Traceback" in r.stderr and "a bug in detection" in r.stderr
