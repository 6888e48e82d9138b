"""``unerased serve`` and ``unerased user`` (cli/web.py): users made, listed, removed,
tokens printed once; ``serve`` refusing --no-auth beyond loopback, and a real server on
loopback whose printed one-time link logs in once."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import httpx

from cli_proc import spawn
from cli_world import cli_run, jsonl, one_error_line


def test_user_add_list_token_remove(tmp_path: Path) -> None:
    home = tmp_path / "home"
    r = cli_run(home, None, "user", "add", "ann", "--role", "editor")
    assert r.exit_code == 0, r.output
    assert re.fullmatch(r"http://127\.0\.0\.1:8321/login/link/[A-Za-z0-9_-]{43}\n", r.stdout)
    assert "added ann (editor)" in r.stderr
    r = cli_run(home, None, "user", "add", "bob", "--url", "https://archive.example/")
    assert r.stdout.startswith("https://archive.example/login/link/")
    one_error_line(cli_run(home, None, "user", "add", "ann"), 2)
    one_error_line(cli_run(home, None, "user", "add", "bad name"), 2)
    one_error_line(cli_run(home, None, "user", "add", "x", "--role", "root"), 2)
    tok = cli_run(home, None, "user", "token", "ann")
    assert tok.exit_code == 0 and re.fullmatch(r"unr_[A-Za-z0-9_-]{43}\n", tok.stdout)
    rows = jsonl(cli_run(home, None, "user", "list", "--json").stdout)
    assert [(u["name"], u["role"], u["tokens"], u["has_password"]) for u in rows] == [
        ("ann", "editor", 1, False), ("bob", "viewer", 0, False)]
    assert tok.stdout.strip() not in (home / "unerased.sqlite").read_bytes().decode("latin-1")
    human = cli_run(home, None, "user", "list")
    assert human.stdout.startswith("ann  editor  no password yet, 1 API tokens")
    assert cli_run(home, None, "user", "remove", "ann").exit_code == 0
    one_error_line(cli_run(home, None, "user", "remove", "ann"), 1)
    one_error_line(cli_run(home, None, "user", "token", "ann"), 1)
    assert [u["name"] for u in jsonl(cli_run(home, None, "user", "list", "--json").stdout)
            ] == ["bob"]


def test_no_auth_is_refused_beyond_loopback(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "192.0.2.1", "::", "example.org"):
        r = cli_run(tmp_path / "home", None, "serve", "--host", host, "--no-auth")
        line = one_error_line(r, 2)
        assert "--no-auth is refused" in line


def test_serve_on_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = cli_run(tmp_path / "home", None, "serve", "--port", str(port))
        line = one_error_line(r, 1)
        assert f"cannot listen on 127.0.0.1 port {port}" in line
        assert r.stdout == ""  # no login link for a server that never ran


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_on_loopback_prints_a_one_time_link(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = _free_port()
    proc = spawn(home, None, "serve", "--port", str(port))
    try:
        assert proc.stdout is not None
        link = proc.stdout.readline().strip()
        assert re.fullmatch(rf"http://127\.0\.0\.1:{port}/login/link/[A-Za-z0-9_-]{{43}}", link)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, trust_env=False) as c:
            for _ in range(100):  # the server starts listening after it printed the link
                try:
                    r = c.get("/")
                    break
                except httpx.ConnectError:
                    time.sleep(0.1)
            assert r.status_code == 303 and r.headers["location"].startswith("/login")
            assert c.get("/api/events").status_code == 401
            path = link.removeprefix(base)
            page = c.get(path)
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert csrf is not None
            assert c.post(path, data={"csrf": csrf.group(1)}).status_code == 303
            assert c.get("/").status_code == 200
            assert c.get("/api/").json()["counts"]["accounts"] == 0
            again = re.search(r'name="csrf" value="([^"]+)"', c.get("/").text)
            assert again is not None and again.group(1) != csrf.group(1)  # a new session's
            assert c.post(path, data={"csrf": again.group(1)}).status_code == 404  # once
            assert c.get("/", headers={"Host": "rebound.example"}).status_code == 400
            assert "server" not in c.get("/").headers
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    users = jsonl(cli_run(home, None, "user", "list", "--json").stdout)
    assert [(u["name"], u["role"]) for u in users] == [("admin", "admin")]
