"""``unerased run`` as a service: SIGTERM stops it gracefully (the checks in flight are
stored, no claim is left behind, a last heartbeat says it stopped; exit 0);
``unerased status`` reports it, read only, and ``--stale-after`` is the dead-man check;
``unerased config`` shows and sets HOME/config.toml, and its proxy is the last step of
the proxy order. Real processes, real loopback servers."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli_proc import jsonl, one_error_line, spawn, unerased_run
from net_servers import closed_port, mastodon_site, sites, status
from sim_server import SimServer
from unerased.sim.platform import HOST, SimPlatform
from unerased.store import Store
from unerased.watch.runner import RunContext, WatchConfig, add_watch, default_client_factory
from unerased.watch.uri import parse_uri


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("UNERASED_ALLOW_HOSTS", "UNERASED_PROXY", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def _watch_sim(home: Path, db_url: str | None, srv: SimServer, sim: SimPlatform) -> None:
    store = Store.open(home, db_url)
    ctx = RunContext(store, default_client_factory(), WatchConfig())
    for acc in sim.accounts.values():
        asyncio.run(add_watch(ctx, parse_uri(f"mastodon:@{acc.username}@{HOST}"),
                              service=srv.base, tags={}))
    store.close()


def test_sigterm_stops_run_gracefully(tmp_path: Path, db_url: str | None) -> None:
    home = tmp_path / "home"
    sim = SimPlatform(seed=5)
    now = datetime.now(UTC)
    for name in ("ann", "ben", "cat", "dan"):
        acc = sim.add_account(name)
        sim.post(acc, f"{name} says hello", at=now - timedelta(hours=2))
    with SimServer(sim, delay=0.4) as srv:
        _watch_sim(home, db_url, srv, sim)
        n_before = len(srv.requests)
        proc = spawn(home, db_url, "run", "--json")
        deadline = time.monotonic() + 60
        while len(srv.requests) == n_before and time.monotonic() < deadline:
            time.sleep(0.02)  # until a check is in flight (a real process: no clock to inject)
        assert len(srv.requests) > n_before
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    lines = jsonl(out)
    outcomes = [ln["outcome"] for ln in lines]
    assert outcomes[0] == "started" and outcomes[-1] == "stopped"
    assert "loop_error" not in outcomes
    checks = [ln for ln in lines if ln["account"] is not None]
    assert checks and all(c["outcome"] == "ok" for c in checks)  # in flight, then stored
    store = Store.open(home, db_url)
    rows = store.list_accounts(watched_only=True)
    assert all(r["claimed_by"] is None and r["claimed_until"] is None for r in rows)
    assert sum(1 for r in rows if r["last_check"]) == len(checks)
    beats = store.state_items("heartbeat:")
    assert len(beats) == 1
    (beat,) = beats.values()
    assert beat["stopped"] is True and beat["checks"] == len(checks) and beat["in_flight"] == 0
    store.close()

    rep = jsonl(unerased_run(home, db_url, "status", "--json").stdout)[0]
    assert rep["accounts"]["watched"] == 4 and rep["accounts"]["claimed"] == 0
    assert [c["state"] for c in rep["collectors"]] == ["stopped"]
    assert rep["collectors"][0]["checks"] == len(checks)
    assert unerased_run(home, db_url, "status", "--stale-after", "1h").returncode == 0
    again = unerased_run(home, db_url, "run", "--for", "1")
    assert again.returncode == 0, again.stderr
    store = Store.open(home, db_url)
    assert list(store.state_items("heartbeat:")) == list(beats)  # a restart: the same id
    store.close()


def test_status_stale_after_is_the_dead_man_check(tmp_path: Path, db_url: str | None) -> None:
    home = tmp_path / "home"
    site = mastodon_site([status(1, "hello")])
    with sites(site):
        store = Store.open(home, db_url)
        ctx = RunContext(store, default_client_factory(), WatchConfig())
        asyncio.run(add_watch(ctx, parse_uri("mastodon:@alice@social.example"),
                              service=site.base, tags={}))
        with store.writer() as w:  # last checked two hours ago, due for 1h45
            (row,) = store.list_accounts(watched_only=True)
            w.update_account(row["id"], last_check="2000-01-01T00:00:00Z",
                             next_check="2000-01-01T00:15:00Z",
                             check_error="HTTP 503 Service Unavailable")
        store.close()
    r = unerased_run(home, db_url, "status", "--stale-after", "30m")
    line = one_error_line(r)
    assert line == ("unerased: error: no collector has checked anything within 30m "
                    "(last check: since 2000-01-01T00:00:00Z)")
    assert "1 watched, 1 due, 1 overdue" in r.stdout
    assert "HTTP 503 Service Unavailable" in r.stdout
    js = jsonl(unerased_run(home, db_url, "status", "--json").stdout)[0]
    assert js["errors"][0]["error"] == "HTTP 503 Service Unavailable"
    assert js["collectors"] == [] and js["accounts"]["overdue"] == 1
    bad = unerased_run(home, db_url, "status", "--stale-after", "soon")
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1


def test_status_never_creates_a_home(tmp_path: Path) -> None:
    home = tmp_path / "nothing-here"
    r = unerased_run(home, None, "status")
    assert r.returncode == 1 and "no archive" in r.stderr
    assert not home.exists()


def test_config_shows_sets_masks_and_refuses(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert unerased_run(home, None, "config").returncode == 0
    assert not home.exists()  # showing reads only
    assert unerased_run(home, None, "config", "schedule.interval", "2m").returncode == 0
    assert unerased_run(home, None, "config", "smtp.password", "hunter2").returncode == 0
    assert unerased_run(home, None, "config", "budgets.mastodon.social", "100/1m"
                        ).returncode == 0
    path = home / "config.toml"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    shown = unerased_run(home, None, "config")
    assert 'schedule.interval = "2m"' in shown.stdout
    assert "hunter2" not in shown.stdout and 'smtp.password = "***"' in shown.stdout
    assert 'budgets.mastodon.social = "100/1m"' in shown.stdout
    one = jsonl(unerased_run(home, None, "config", "smtp.password", "--json").stdout)
    assert one == [{"key": "smtp.password", "value": "***", "set": True}]
    for args, word in ((["nope", "1"], "unknown setting 'nope'"),
                       (["smtp.port", "99999"], "smtp.port"),
                       (["schedule.interval", "soon"], "not a duration"),
                       (["proxy", "ftp://x:1"], "unsupported proxy scheme"),
                       (["budgets.default", "lots"], "N/DURATION"),
                       (["nope"], "unknown setting")):
        r = unerased_run(home, None, "config", *args)
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.splitlines()) == 1 and word in r.stderr, r.stderr
    assert "hunter2" in path.read_text()  # kept, only shown masked
    assert unerased_run(home, None, "config", "schedule.interval", "default").returncode == 0
    assert "interval" not in path.read_text().split("[schedule]")[-1].split("[")[0]
    path.write_text('[schedule]\ninterval = "often"\n')
    r = unerased_run(home, None, "config")
    assert r.returncode == 2 and str(path) in r.stderr and len(r.stderr.splitlines()) == 1


def test_the_config_proxy_is_used_when_nothing_else_names_one(tmp_path: Path) -> None:
    """A dead proxy in the config: the check fails through it, nothing reaches the site
    directly (fail closed); `--proxy` on the command line still comes first."""
    home = tmp_path / "home"
    site = mastodon_site([status(1, "hello")])
    with sites(site):
        store = Store.open(home)
        ctx = RunContext(store, default_client_factory(), WatchConfig())
        asyncio.run(add_watch(ctx, parse_uri("mastodon:@alice@social.example"),
                              service=site.base, tags={}))
        store.close()
        before = site.connections
        dead = f"socks5h://127.0.0.1:{closed_port()}"
        assert unerased_run(home, None, "config", "proxy", dead).returncode == 0
        r = unerased_run(home, None, "poll", "--once", "--json")
        assert r.returncode == 1
        (check,) = jsonl(r.stdout)
        assert check["outcome"] == "error" and site.connections == before
