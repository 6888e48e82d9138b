"""No secret in logs, errors, listings or captures: a planted secret — a proxy password,
a webhook URL's query secret, a feed URL's ``access_token`` — is grepped for in every
output a user or a log sees (error lines, ``config``, ``status``, ``watch list``,
``alert list``/``add``/``test``, the collector's lines) and in the captures (a WARC
export)."""

from __future__ import annotations

import gzip
import socket
from datetime import UTC, datetime
from pathlib import Path

from cli_world import cli_run
from test_tor_only import canary, dead_port
from unerased.errors import redact_secrets
from unerased.model import AccountSnapshot
from unerased.store import Store

SECRET = "S3cr3tT0k3nXYZ"
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _outputs(*results: object) -> str:
    out = []
    for r in results:
        out.append(getattr(r, "stdout", "") + getattr(r, "stderr", ""))
    return "\n".join(out)


def test_redact_secrets_finds_credentials_in_any_text() -> None:
    text = (f"socks5h://tor:{SECRET}@127.0.0.1:9050 and "
            f"wss://m.example/api/v1/streaming?stream=user&access_token={SECRET} and "
            f"https://hooks.example/x?a=1&secret={SECRET}&b=2 and "
            f"http://u:{SECRET}@proxy.example:3128")
    got = redact_secrets(text)
    assert SECRET not in got
    assert "stream=user" in got and "a=1" in got and "&b=2" in got  # the rest kept
    assert "socks5h://tor:***@127.0.0.1:9050" in got


def test_proxy_password_never_shown(tmp_path: Path) -> None:
    home = tmp_path / "h"
    proxy = f"socks5h://tor:{SECRET}@127.0.0.1:{dead_port()}"
    with canary() as c:
        feed = f"http://127.0.0.1:{c.port}/feed.xml"
        env = {"UNERASED_ALLOW_HOSTS": f"http://127.0.0.1:{c.port}"}
        st = Store.open(home)
        with st.writer() as w:
            row = w.upsert_account(AccountSnapshot("rss", feed, handle=feed, url=feed), "t")
            w.update_account(row["id"], watched=True, watch_uri=f"rss:{feed}", proxy=proxy,
                             next_check="2000-01-01T00:00:00Z")
        st.close()
        results = [
            cli_run(home, None, "config", "proxy", proxy),
            cli_run(home, None, "config"),
            cli_run(home, None, "config", "proxy"),
            cli_run(home, None, "config", "--json"),
            cli_run(home, None, "--proxy", proxy, "poll", env=env),
            cli_run(home, None, "--proxy", proxy, "poll", "--json", env=env),
            cli_run(home, None, "--proxy", proxy, "run", "--for", "0.5", env=env),
            cli_run(home, None, "watch", "list"),
            cli_run(home, None, "watch", "list", "--json"),
            cli_run(home, None, "status"),
            cli_run(home, None, "status", "--json"),
            cli_run(home, None, "--proxy", f"socks6://u:{SECRET}@h:1", "poll"),
        ]
        text = _outputs(*results)
        assert "tor:***@" in text  # the proxy is shown, its password masked
        assert SECRET not in text
        assert c.hits == 0
    assert SECRET in (home / "config.toml").read_text()  # kept where it is needed


def test_webhook_secret_never_shown(tmp_path: Path) -> None:
    home = tmp_path / "h"
    Store.open(home).close()
    with canary() as c:
        hook = f"http://127.0.0.1:{c.port}/hook?token={SECRET}"
        env = {"UNERASED_ALLOW_HOSTS": f"http://127.0.0.1:{c.port}"}
        added = cli_run(home, None, "alert", "add", hook)
        assert added.exit_code == 0, added.output
        results = [
            added,
            cli_run(home, None, "alert", "list"),
            cli_run(home, None, "alert", "list", "--json"),
            cli_run(home, None, "alert", "test", "1", env=env),
            cli_run(home, None, "alert", "test", "1", "--json", env=env),
            cli_run(home, None, "status"),
            cli_run(home, None, "status", "--json"),
        ]
        assert c.hits >= 1  # the test alert really went out
    text = _outputs(*results)
    assert "token=[redacted]" in text
    assert SECRET not in text


def test_a_feed_token_is_kept_out_of_captures_errors_and_status(tmp_path: Path) -> None:
    home = tmp_path / "h"
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port = srv.getsockname()[1]
    srv.close()  # nothing listens: the check fails with the URL in its error
    feed = f"http://127.0.0.1:{port}/private.xml?access_token={SECRET}"
    env = {"UNERASED_ALLOW_HOSTS": f"http://127.0.0.1:{port}"}
    st = Store.open(home)
    with st.writer() as w:
        row = w.upsert_account(AccountSnapshot("rss", feed, handle=feed, url=feed), "t")
        w.update_account(row["id"], watched=True, watch_uri=f"rss:{feed}",
                         next_check="2000-01-01T00:00:00Z")
    st.close()
    results = [cli_run(home, None, "poll", env=env),
               cli_run(home, None, "poll", "--json", env=env),
               cli_run(home, None, "status"),
               cli_run(home, None, "status", "--json")]
    text = _outputs(*results)
    assert "access_token=[redacted]" in text
    assert SECRET not in text
    out = tmp_path / "c.warc"
    assert cli_run(home, None, "export", "warc", str(out)).exit_code == 0
    warc = gzip.decompress(out.read_bytes())
    assert b"WARC-Target-URI" in warc and b"access_token=[redacted]" in warc
    assert SECRET.encode() not in warc
    st = Store.open(home)
    try:
        err = st.list_accounts()[0]["check_error"]
        assert err and SECRET not in err
    finally:
        st.close()
