"""Screenshots of the web UI's main pages (run through scripts/screenshots).

A demo archive is made by the project's own simulator (``unerased demo``: a censorship
campaign over six provinces), served by a real ``unerased serve`` on a free loopback
port, logged in through its one-time link, and photographed in Debian's headless
Chromium (Playwright drives /usr/bin/chromium; no browser is downloaded): the overview,
the accounts, an account's timeline, a post with its diff, a search for 删除, and the
overview in Chinese. PNGs go to docs/screenshots/ (or --out)."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-proxy-server"]
VIEWPORT: Any = {"width": 1280, "height": 860}  # playwright's ViewportSize
MAX_HEIGHT = 1200  # a long page is cut here


def _unerased(*args: str, **kw: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.Popen([sys.executable, "-c", "from unerased.cli import main; main()",
                             *args], env=env, text=True, **kw)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _shoot(page: Any, path: str, out: Path, name: str) -> Path:
    page.goto(path)
    page.wait_for_load_state("load")
    height = min(page.evaluate("() => document.documentElement.scrollHeight"), MAX_HEIGHT)
    target = out / f"{name}.png"
    page.screenshot(path=str(target), full_page=True,
                    clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height})
    print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}: {path}",
          file=sys.stderr)
    return target


def _pick(api: Any, base: str) -> dict[str, str]:
    """The pages worth showing: the account with the most deletions, an edited post."""
    accounts = api.get(f"{base}/api/accounts?limit=500").json()["items"]
    # the timeline whose first screen shows the most deleted posts, marked
    def shown(a: dict[str, Any]) -> tuple[int, int]:
        items = api.get(f"{base}/api/accounts/{a['id']}?limit=6").json()["timeline"]["items"]
        return sum(p["status"] == "deleted" for p in items), a.get("deleted_posts") or 0

    best = max((a for a in accounts if a.get("deleted_posts")), key=shown)
    edited = api.get(f"{base}/api/events?type=post_edited&limit=50").json()["items"]
    post = next((e["post_pk"] for e in edited if e.get("post_pk")), None)
    if post is None:  # no edit in a short campaign: any deleted post
        deleted = api.get(f"{base}/api/events?type=post_deleted&limit=50").json()["items"]
        post = next(e["post_pk"] for e in deleted if e.get("post_pk"))
    return {"account": f"/accounts/{best['id']}", "post": f"/posts/{post}"}


def shoot_all(home: Path, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    server = _unerased("--home", str(home), "serve", "--port", str(port),
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert server.stdout is not None
    try:
        link = server.stdout.readline().strip()
        if "/login/link/" not in link:
            raise SystemExit(f"screenshots: serve printed {link!r}")
        base = link.split("/login/link/")[0]
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        shots: list[Path] = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            ctx = browser.new_context(base_url=base, viewport=VIEWPORT, locale="en-US")
            page = ctx.new_page()
            page.goto(link)
            with page.expect_navigation():
                page.click("main form button[type=submit]")
            picked = _pick(ctx.request, base)
            for name, path in (("overview", "/"), ("accounts", "/accounts"),
                               ("account", picked["account"]), ("post", picked["post"]),
                               ("search", "/search?q=%E5%88%A0%E9%99%A4")):
                shots.append(_shoot(page, path, out, name))
            zh = browser.new_context(base_url=base, viewport=VIEWPORT, locale="zh-CN",
                                     storage_state=ctx.storage_state())
            shots.append(_shoot(zh.new_page(), "/", out, "overview-zh"))
            shots.append(_shoot(zh.new_page(), picked["account"], out, "account-zh"))
            browser.close()
        return shots
    finally:
        server.terminate()
        server.wait(10)
        server.stdout.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots",
                    help="where the PNGs go (default: docs/screenshots)")
    ap.add_argument("--for", dest="seconds", type=float, default=20.0,
                    help="wall seconds the demo campaign runs (default 20)")
    ap.add_argument("--hours", type=float, default=240.0,
                    help="simulated hours it covers (default 240: the charts show days)")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit("screenshots: Debian's chromium is missing: "
                         "sudo apt-get install -y chromium")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        demo = _unerased("--home", str(home), "demo", "--for", str(args.seconds),
                         "--accounts", "36", "--hours", str(args.hours),
                         stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        if demo.wait() != 0:
            raise SystemExit("screenshots: `unerased demo` failed")
        shots = shoot_all(home / "demo", args.out)
    print(f"{len(shots)} screenshots in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
