"""``unerased demo --serve`` (cli/watch.py): the web UI over the demo's archive on
loopback while the campaign runs, behind the login ``serve`` has (its one-time link
printed first); the overview answers during the run, and the server ends with the
demo."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import httpx

from cli_proc import spawn
from cli_world import cli_run, one_error_line


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_demo_serves_the_web_ui_while_it_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = _free_port()
    proc = spawn(home, None, "demo", "--serve", "--port", str(port), "--for", "15",
                 "--accounts", "12", "--hours", "2")
    base = f"http://127.0.0.1:{port}"
    try:
        assert proc.stdout is not None
        link = proc.stdout.readline().strip()
        assert re.fullmatch(rf"{re.escape(base)}/login/link/[A-Za-z0-9_-]{{43}}", link), link
        with httpx.Client(base_url=base, trust_env=False) as c:
            for _ in range(100):
                try:
                    r = c.get("/")
                    break
                except httpx.ConnectError:
                    time.sleep(0.1)
            assert r.status_code == 303 and r.headers["location"].startswith("/login")  # login kept
            path = link.removeprefix(base)
            csrf = re.search(r'name="csrf" value="([^"]+)"', c.get(path).text)
            assert csrf is not None
            assert c.post(path, data={"csrf": csrf.group(1)}).status_code == 303
            seen = []
            for _ in range(40):  # the campaign's accounts appear as it runs
                page = c.get("/")
                assert page.status_code == 200 and "<h1" in page.text
                counts = c.get("/api/").json()["counts"]
                seen.append(counts["accounts"])
                if counts["accounts"] >= 12:
                    break
                time.sleep(0.2)
            assert seen[-1] >= 12, seen
            assert proc.poll() is None  # answered during the run
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        assert "the web UI stopped with the demo" in err and f"--port {port}" in err
        with socket.socket() as s:  # the server ended with the demo
            assert s.connect_ex(("127.0.0.1", port)) != 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_demo_serve_on_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = cli_run(tmp_path / "home", None, "demo", "--serve", "--port", str(port),
                    "--for", "1")
        assert f"cannot listen on 127.0.0.1 port {port}" in one_error_line(r, 1)
