"""The browser tests' world (tests/test_web_browser.py): a small archive (two provinces,
deleted and edited posts, closures, and an XSS corpus in every field the pages show), a
real ``unerased serve`` in a subprocess on a free port, Debian's Chromium through
Playwright (never a downloaded browser), and a hostile page on another loopback port."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from unerased.model import (
    AccountSnapshot,
    AccountStatus,
    Event,
    EventType,
    MediaItem,
    PostSnapshot,
)
from unerased.store import Store

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
INSTALL_CHROMIUM = "sudo apt-get install -y chromium (or run scripts/test, which does)"
INSTALL_PLAYWRIGHT = "pip install -e '.[test]' (or run scripts/test, which does)"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-proxy-server"]
# the served app runs on the real clock (its overview charts the last days): the
# archive's times are recent
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)


def _at(delta: timedelta) -> str:
    return (T0 + delta).isoformat().replace("+00:00", "Z")


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
EVIL = "evil.example"  # never reached: every request off the app's origin is aborted

# Each payload would set window.__pwned, open a dialog, log PWNED or fetch from EVIL if
# it ran or rendered as markup.
RUN = "window.__pwned=1;alert(1);console.log('PWNED')"
XSS_CORPUS = [
    f"<script>{RUN}</script>",
    f'"><script>{RUN}</script>',
    f"'><img src=x onerror=\"{RUN}\">",
    f"<img src=x onerror={RUN}//>",
    f"<body onload=\"{RUN}\">",
    f"<details open ontoggle=\"{RUN}\">x</details>",
    f"<input autofocus onfocus=\"{RUN}\">",
    f'<a href="javascript:{RUN}">click me</a>',
    f"javascript:{RUN}",
    "data:text/html;base64,PHNjcmlwdD5wYXJlbnQuX19wd25lZD0xPC9zY3JpcHQ+",
    f'<a href="data:text/html,<script>{RUN}</script>">data link</a>',
    f"<svg onload=\"{RUN}\"><script>{RUN}</script></svg>",
    f"<svg><a href=\"javascript:{RUN}\"><text y=\"20\">svg link</text></a></svg>",
    f"<math><mtext><table><mglyph><style><img src=x onerror=\"{RUN}\">",
    f"<style>body{{background:url(http://{EVIL}/css)}}</style>",
    f"<div style=\"background-image:url(http://{EVIL}/inline-css)\">styled</div>",
    f"</style><link rel=stylesheet href=\"http://{EVIL}/x.css\">",
    "<iframe srcdoc=\"<script>parent.__pwned=1;parent.alert(1)</script>\"></iframe>",
    "<iframe src=\"javascript:parent.__pwned=1\"></iframe>",
    f"<meta http-equiv=\"refresh\" content=\"0;url=http://{EVIL}/refresh\">",
    f"<base href=\"http://{EVIL}/\">",
    f"<object data=\"http://{EVIL}/o.swf\"></object><embed src=\"http://{EVIL}/e\">",
    f"<form action=\"http://{EVIL}/f\"><button autofocus>go</button></form>",
    "{{7*7}} ${7*7} {% raw %}{{ config }}",
    f"</textarea></title><script>{RUN}</script>",
    f"\u202eevil\u202c <b onmouseover=\"{RUN}\">bold</b>",
]
HOSTILE_PER_ACCOUNT = 3
LINK_PAYLOADS = [f"javascript:{RUN}", "data:text/html,<script>parent.__pwned=1</script>",
                 f"http://{EVIL}/profile", f"vbscript:{RUN}"]


def missing_tools(chromium: Path = CHROMIUM) -> str | None:
    """What the browser tests lack, with the command that installs it (a failure, never
    a skip); None when nothing is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return f"the browser tests need Playwright: {INSTALL_PLAYWRIGHT}"
    if not chromium.exists():
        return f"the browser tests need Debian's chromium at {chromium}: {INSTALL_CHROMIUM}"
    return None


@dataclass
class Archive:
    home: Path
    ids: dict[str, Any] = field(default_factory=dict)


def _event(w: Any, kind: EventType, at: datetime, acc: dict[str, Any],
           post: tuple[str, int] | None = None, detail: dict[str, Any] | None = None) -> None:
    w.add_event(Event(kind, at, acc["platform"], acc.get("handle") or acc["account_id"],
                      acc["account_id"], post[0] if post else None, detail=detail or {}),
                acc["id"], post[1] if post else None)


def seed_archive(home: Path) -> Archive:
    """Two provinces (fujian, xinjiang) with a deleted post (删除), an edited post and a
    closed account each, and hostile accounts carrying the XSS corpus."""
    store = Store.open(home)
    arc = Archive(home)
    try:
        with store.writer() as w:
            for n, region in enumerate(("fujian", "xinjiang")):
                for k in range(3):
                    name = f"{region[:2]}_user{k}"
                    snap = AccountSnapshot("mastodon", f"{n}{k}@sim.example",
                                           handle=f"{name}@sim.example",
                                           display_name=f"{region} 用户 {k}",
                                           url=f"https://sim.example/@{name}")
                    acc = w.upsert_account(snap, "test", at=_at(timedelta(days=-30)))
                    w.update_account(acc["id"], watched=True,
                                     tags_json=json.dumps({"province": region}))
                    acc = {**acc, "id": acc["id"]}
                    arc.ids[name] = acc["id"]
                    texts = [(f"p{k}a", f"今天又有朋友被约谈，要求删除推特 {region} {k}"),
                             (f"p{k}b", f"an ordinary post {k} from {region}")]
                    w.add_posts(acc, [PostSnapshot(
                        "mastodon", snap.account_id, pid, text,
                        created_at=T0 - timedelta(days=6 - i - k), version_key="v1")
                        for i, (pid, text) in enumerate(texts)], "test")
                    pks = w.post_pks(acc["id"], [t[0] for t in texts])
                    if k == 0:  # an edit: a second version of p0b
                        w.add_posts(acc, [PostSnapshot(
                            "mastodon", snap.account_id, "p0b",
                            f"an ordinary post 0 from {region}, edited afterwards",
                            created_at=T0 - timedelta(days=5), version_key="v2")], "test")
                        _event(w, EventType.POST_EDITED, T0 - timedelta(days=2, hours=n),
                               acc, ("p0b", pks["p0b"]))
                        arc.ids[f"edited_{region}"] = pks["p0b"]
                    if k < 2:  # a deletion
                        pk = pks[f"p{k}a"]
                        w.update_post(pk, status="deleted", deleted_reason="user_deleted",
                                      last_seen=_at(timedelta(days=-3)),
                                      first_missing=_at(timedelta(days=-2)),
                                      deleted_at=_at(timedelta(days=-2)))
                        _event(w, EventType.POST_DELETED,
                               T0 - timedelta(days=1 + k, hours=n), acc,
                               (f"p{k}a", pk), {"reason": "user_deleted"})
                        arc.ids[f"deleted_{region}_{k}"] = pk
                    if k == 2:  # a closure
                        w.upsert_account(AccountSnapshot(
                            "mastodon", snap.account_id, handle=snap.handle,
                            display_name=snap.display_name, url=snap.url,
                            status=AccountStatus.SUSPENDED), "test", at=_at(timedelta(hours=-6)))
                        _event(w, EventType.ACCOUNT_SUSPENDED, T0 - timedelta(hours=6 - n),
                               acc)
                        arc.ids[f"closed_{region}"] = acc["id"]
            corpus = list(enumerate(XSS_CORPUS))
            for g in range(0, len(corpus), HOSTILE_PER_ACCOUNT):
                _hostile(w, arc, g // HOSTILE_PER_ACCOUNT,
                         corpus[g:g + HOSTILE_PER_ACCOUNT])
    finally:
        store.close()
    return arc


def _hostile(w: Any, arc: Archive, g: int, payloads: list[tuple[int, str]]) -> None:
    """An account whose names, profile fields and tags carry ``payloads``, with one post
    per payload carrying it in its text, HTML, link card, media alt text and URL, an
    edit (the diff) and, for every other one, a deletion event's detail."""
    joined = " ".join(p for _, p in payloads)
    link = LINK_PAYLOADS[g % len(LINK_PAYLOADS)]
    snap = AccountSnapshot(
        "mastodon", f"x{g}@hostile.example", handle=f"x{g}@hostile.example",
        display_name=joined, url=link,
        profile={"note": joined, "description": joined, "avatar": link,
                 "fields": [{"name": p, "value": p} for _, p in payloads]})
    acc = w.upsert_account(snap, "test", at=_at(timedelta(days=-30)))
    tags = {"province": joined, **{p[:40]: p for _, p in payloads}}
    w.update_account(acc["id"], watched=True, tags_json=json.dumps(tags))
    arc.ids[f"hostile_account_{g}"] = acc["id"]
    for i, payload in payloads:
        link = LINK_PAYLOADS[i % len(LINK_PAYLOADS)]
        card = {"url": link, "title": payload, "description": payload, "image": link}
        body = (f"<p>{payload} <a href=\"http://{EVIL}/body{i}\">a link {i}</a> "
                f"<a href=\"{link}\">another</a></p>")
        versions = [PostSnapshot(
            "mastodon", snap.account_id, f"h{i}", f"hostile {i}{edit} {payload}",
            created_at=T0 - timedelta(hours=i), url=link, html=body, version_key=key,
            raw={"content": body, "card": card,
                 "embed": {"$type": "app.bsky.embed.external#view",
                           "external": {"uri": link, "title": payload,
                                        "description": payload}}},
            media=[MediaItem(filename="a.png", mime="image/png", content=PNG, alt=payload,
                             url=link, kind="image")])
            for key, edit in (("v1", ""), ("v2", " (edited)"))]
        for v in versions:
            w.add_posts(acc, [v], "test")
        pk = w.post_pks(acc["id"], [f"h{i}"])[f"h{i}"]
        if i % 2:
            w.update_post(pk, status="deleted", deleted_reason="unknown",
                          last_seen=_at(timedelta(days=-3)),
                          first_missing=_at(timedelta(days=-2)))
            _event(w, EventType.POST_DELETED, T0 - timedelta(minutes=i), acc,
                   (f"h{i}", pk), {"reason": payload})
        arc.ids[f"hostile_post_{i}"] = pk


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def local_non_loopback_ipv4() -> str | None:
    """An IPv4 address of one of this machine's own interfaces that is not loopback
    (``ip -o -4 addr``), proven local by binding it; None when there is none."""
    ip = shutil.which("ip")
    if ip is None:
        return None
    try:
        out = subprocess.run([ip, "-o", "-4", "addr", "show", "scope", "global"],
                             capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        parts = line.split()
        if "inet" in parts:
            addr = parts[parts.index("inet") + 1].split("/")[0]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind((addr, 0))
            except OSError:
                continue
            return addr
    return None


@dataclass
class Server:
    proc: subprocess.Popen[str]
    base: str
    link: str  # the one-time login link printed at start
    stderr: list[str]


@contextmanager
def serve(home: Path, host: str = "127.0.0.1", *extra: str) -> Iterator[Server]:
    """A real ``unerased serve`` on a free port of ``host``: the app as users run it."""
    port = free_port(host)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
              "all_proxy"):
        env.pop(k, None)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from unerased.cli import main; main()", "--home", str(home),
         "serve", "--host", host, "--port", str(port), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    errors: list[str] = []
    assert proc.stderr is not None and proc.stdout is not None
    threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True).start()  # type: ignore[arg-type]
    try:
        link = proc.stdout.readline().strip()
        assert "/login/link/" in link, f"serve printed {link!r}; stderr: {errors}"
        base = link.split("/login/link/")[0]
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection((host, port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(f"serve did not listen: {errors}") from None
                time.sleep(0.05)
        yield Server(proc, base, link, errors)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


@contextmanager
def hostile_site(html: str) -> Iterator[str]:
    """Another origin on another loopback port serving ``html`` at ``/`` (a page that
    tries to post forms to the app)."""
    body = html.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
