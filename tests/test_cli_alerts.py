"""``unerased alert add|list|remove|test`` (docs/cli.md, docs/alerts.md): the secret is
shown once, ``test`` sends through the real delivery path to a loopback receiver (and
through the proxy, never around it), bad values are one line and exit 2."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from cli_world import cli_run, jsonl, one_error_line
from net_servers import Site, canary, closed_port, json_answer, sites, socks5_proxy


def _add(home: Path, db: str | None, *args: str) -> dict[str, object]:
    r = cli_run(home, db, "alert", "add", *args, "--json")
    assert r.exit_code == 0, r.output
    (row,) = jsonl(r.stdout)
    return row


def test_add_prints_id_and_secret_once_and_list_never(home: Path, db_url: str | None) -> None:
    r = cli_run(home, db_url, "alert", "add", "https://hooks.example/x",
                "--on", "account_deleted,post_deleted", "--tag", "risk=high")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("rule 1  https://hooks.example/x  on account_deleted,"
                               "post_deleted; tag risk=high")
    secret = lines[1].removeprefix("secret ")
    assert len(secret) == 64 and int(secret, 16) >= 0
    row = _add(home, db_url, "mailto:ops@example.org", "--min-posts", "3", "--within", "10m",
               "--silent-days", "7")
    assert row["id"] == 2 and row["within_s"] == 600 and row["min_posts"] == 3
    assert "mass_deletion" in row["on"] and "account_silent" in row["on"]  # type: ignore[operator]
    assert isinstance(row["secret"], str) and len(row["secret"]) == 64
    listed = cli_run(home, db_url, "alert", "list", "--json")
    assert [j["id"] for j in jsonl(listed.stdout)] == [1, 2]
    assert secret not in listed.stdout and "secret" not in listed.stdout
    text = cli_run(home, db_url, "alert", "list")
    assert "1  https://hooks.example/x" in text.stdout and secret not in text.stdout


def test_remove(home: Path, db_url: str | None) -> None:
    _add(home, db_url, "https://hooks.example/x")
    r = cli_run(home, db_url, "alert", "remove", "1")
    assert r.exit_code == 0 and "removed rule 1" in r.stderr
    assert jsonl(cli_run(home, db_url, "alert", "list", "--json").stdout) == []
    assert "no alert rule 1" in one_error_line(cli_run(home, db_url, "alert", "remove", "1"), 1)
    assert "not a rule id" in one_error_line(cli_run(home, db_url, "alert", "remove", "x"), 2)


@pytest.mark.parametrize(("args", "says"), [
    (["ftp://x"], "alert target"),
    (["mailto:nobody"], "not an e-mail address"),
    (["https://h/", "--within", "5y"], "--within"),
    (["https://h/", "--on", "account_deleted,bogus"], "bogus"),
    (["https://h/", "--tag", "nokey"], "--tag"),
    (["https://h/", "--min-posts", "0"], "--min-posts"),
])
def test_bad_values_are_one_line_exit_2(home: Path, args: list[str], says: str) -> None:
    assert says in one_error_line(cli_run(home, None, "alert", "add", *args), 2)


def test_test_sends_a_signed_alert_through_the_real_path(home: Path, db_url: str | None
                                                         ) -> None:
    with sites(Site("127.0.0.1")) as (site,):
        site.routes["/hook"] = lambda _s: json_answer(200, {})
        row = _add(home, db_url, site.url("/hook"))
        r = cli_run(home, db_url, "alert", "test", "1")
        assert r.exit_code == 0, r.output
        (seen,) = site.seen
    assert r.stdout.startswith("delivered test alert ")
    did = seen.headers["x-unerased-delivery"]
    assert did in r.stdout
    mac = hmac.new(bytes.fromhex(str(row["secret"])), seen.body, hashlib.sha256).hexdigest()
    assert seen.headers["x-unerased-signature"] == "sha256=" + mac
    payload = json.loads(seen.body)
    assert payload["kind"] == "test" and payload["rule"] == 1 and payload["delivery_id"] == did


def test_test_failing_receiver_is_one_line_exit_1(home: Path) -> None:
    with sites(Site("127.0.0.1")) as (site,):
        site.routes["/hook"] = lambda _s: json_answer(500, {})
        _add(home, None, site.url("/hook"))
        line = one_error_line(cli_run(home, None, "alert", "test", "1"), 1)
        assert len(site.seen) == 1  # one attempt, no retry loop in a command
    assert "HTTP 500" in line
    assert "no alert rule 9" in one_error_line(cli_run(home, None, "alert", "test", "9"), 1)
    assert "no SMTP server" in one_error_line(
        cli_run(home, None, "alert", "test", str(_add(home, None, "mailto:o@example.org")["id"])),
        1)


def test_test_goes_through_the_proxy_or_not_at_all(home: Path) -> None:
    target = canary("127.0.0.2")
    with sites(target):
        _add(home, None, target.url("/hook"))
        dead = f"socks5h://127.0.0.1:{closed_port()}"
        one_error_line(cli_run(home, None, "--proxy", dead, "alert", "test", "1"), 1)
        one_error_line(cli_run(home, None, "alert", "test", "1",
                               env={"UNERASED_PROXY": dead}), 1)
        assert target.connections == 0
        with socks5_proxy() as proxy:
            r = cli_run(home, None, "--proxy", f"socks5h://127.0.0.1:{proxy.port}",
                        "alert", "test", "1")
            assert r.exit_code == 0, r.output
            assert [x.port for x in proxy.relayed] == [target.port]
        assert target.peers == ["127.0.0.3"]
