"""Imports through the browser (web/views/imports.py, web/_jobs.py, web/_upload.py), in
process: real exports from the shared testdata uploaded by an editor, imported in the
background by the CLI's code, progress on a self-refreshing page and its JSON twin; the
CLI's refusals for hostile zips; one import at a time; the size cap (413); viewers
(403) and CSRF-less posts (403) refused; the uploaded file deleted in every case."""

from __future__ import annotations

import time
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from cli_world import cli_run, one_error_line
from shared_data import ARCHIVES
from unerased.web import MAX_UPLOAD_KEY, detect_kind, issue_api_token, jobs_of
from web_world import Client, Web, make_web

X_SMALL = ARCHIVES / "x-2020-lumeninferius" / "archive.zip"
MASTODON = ARCHIVES / "mastodon-2025-goija" / "archive.zip"
BLUESKY = ARCHIVES / "bluesky-2023-greenground" / "repo.car"


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    w = make_web(tmp_path / "home")
    yield w
    for job in jobs_of(w.config).recent():
        jobs_of(w.config).wait(job, 60)
    w.close()


def _upload(c: Client, path: Path, kind: str = "auto", csrf: str | None = None,
            url: str = "/import", **kw: Any) -> Any:
    token = c.csrf("/import") if csrf is None else csrf
    return c.post(url, data={"csrf": token, "kind": kind},
                  files={"archive": (path.name, path.read_bytes(), "application/zip")}, **kw)


def _finished(c: Client, job: str, **kw: Any) -> dict[str, Any]:
    for _ in range(600):
        data: dict[str, Any] = c.get(f"/api/import/{job}", **kw).json()
        if not data["active"]:
            return data
        time.sleep(0.05)
    raise AssertionError("the import did not end")


def _uploads_left(web: Web) -> list[Path]:
    up = web.config.home / "uploads"
    return list(up.rglob("*")) if up.exists() else []


def test_editor_imports_an_x_archive_with_progress_page(web: Web) -> None:
    c = web.logged_in("editor")
    page = c.get("/import")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text and 'name="csrf"' in page.text
    assert '<select name="kind">' in page.text
    before = c.get("/api/").json()["counts"]["accounts"]
    r = _upload(c, X_SMALL)
    assert r.status_code == 303 and r.headers["location"].startswith("/import/")
    job = r.headers["location"].rsplit("/", 1)[1]
    data = _finished(c, job)
    assert data["stage"] == "done" and data["error"] is None and data["kind"] == "twitter-archive"
    s = data["summary"]
    assert s["archive"] == "archive.zip" and s["account"].startswith("x:")
    assert s["posts"] > 0 and s["new_posts"] == s["posts"] and data["posts"] == s["posts"]
    assert c.get("/api/").json()["counts"]["accounts"] == before + 1
    html = c.get(f"/import/{job}")
    assert html.status_code == 200 and "http-equiv=\"refresh\"" not in html.text
    assert f"{s['posts']} posts read" in html.text and s["account"] in html.text
    assert _uploads_left(web) == []  # the uploaded file is gone
    # the same archive again: the CLI's idempotence (nothing new)
    again = _finished(c, _upload(c, X_SMALL).headers["location"].rsplit("/", 1)[1])
    assert again["summary"]["new_posts"] == 0 and again["summary"]["unchanged"] == s["posts"]
    listing = c.get("/api/import").json()
    assert [j["id"] for j in listing["jobs"]][1] == job and listing["busy"] is None


def test_mastodon_and_bluesky_kinds_chosen_or_detected_api_token(web: Web) -> None:
    editor = web.store.add_user("ed", "editor", web.clock())
    token = issue_api_token(web.store, editor["id"], web.clock())
    c = web.client()
    auth = {"Authorization": f"Bearer {token}"}
    r = c.post("/api/import", data={"kind": "mastodon-archive"}, headers=auth,
               files={"archive": ("my export.zip", MASTODON.read_bytes())})
    assert r.status_code == 202, r.text
    assert r.headers["location"] == r.json()["url"] == f"/api/import/{r.json()['id']}"
    data = _finished(c, r.json()["id"], headers=auth)
    assert data["stage"] == "done", data
    assert data["summary"]["account"].startswith("mastodon:") and data["name"] == "my export.zip"
    assert detect_kind(MASTODON, "m") == "mastodon-archive"
    assert detect_kind(X_SMALL, "x") == "twitter-archive"
    assert detect_kind(BLUESKY, "b") == "bluesky-car"
    r = c.post("/api/import", headers=auth, files={"archive": ("repo.car", BLUESKY.read_bytes())})
    assert r.status_code == 202
    data = _finished(c, r.json()["id"], headers=auth)
    assert data["stage"] == "done" and data["kind"] == "bluesky-car", data


def _bomb(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("data/tweets.js", b"\x00" * (20 << 20))
    return path


def _traversal(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("data/tweets.js", b"window.YTD.tweets.part0 = []")
        z.writestr("../evil", b"x")
    return path


@pytest.mark.parametrize("make", [_bomb, _traversal], ids=["zip-bomb", "path-traversal"])
def test_hostile_zips_get_the_clis_refusal(web: Web, tmp_path: Path, make: Any) -> None:
    archive = make(tmp_path / "archive.zip")
    cli = one_error_line(cli_run(tmp_path / "cli-home", None, "import", "twitter-archive",
                                 str(archive)), 1)
    problem = cli.split("archive.zip: ", 1)[1]  # the CLI's line names the file first
    c = web.logged_in("editor")
    before = c.get("/api/").json()["counts"]
    for kind in ("twitter-archive", "auto"):
        r = _upload(c, archive, kind)
        data = _finished(c, r.headers["location"].rsplit("/", 1)[1])
        assert data["stage"] == "failed" and data["summary"] is None
        assert data["error"].startswith("archive.zip: ") and problem in data["error"]
        assert "nothing was imported" in data["error"] and "\n" not in data["error"]
        assert str(web.config.home) not in data["error"]  # the upload's path is not shown
        page = c.get(r.headers["location"])
        assert problem.split(" (")[0] in page.text.replace("&#39;", "'")
    assert c.get("/api/").json()["counts"] == before  # nothing imported
    assert _uploads_left(web) == []
    assert not (tmp_path / "evil").exists() and not (web.config.home / "evil").exists()


def test_corrupt_and_unknown_archives_import_nothing(web: Web, tmp_path: Path) -> None:
    c = web.logged_in("editor")
    before = c.get("/api/").json()["counts"]
    cut = tmp_path / "cut.zip"
    cut.write_bytes(X_SMALL.read_bytes()[: X_SMALL.stat().st_size // 2])
    data = _finished(c, _upload(c, cut, "twitter-archive").headers["location"].rsplit("/")[-1])
    assert data["stage"] == "failed" and data["error"].startswith("cut.zip: ")
    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"hello, not an archive\n" * 10)
    data = _finished(c, _upload(c, junk).headers["location"].rsplit("/")[-1])
    assert data["stage"] == "failed" and "choose its kind" in data["error"]
    assert c.get("/api/").json()["counts"] == before
    assert _uploads_left(web) == []


def test_one_import_at_a_time(web: Web) -> None:
    c = web.logged_in("editor")
    jobs = jobs_of(web.config)
    held = jobs.reserve("someone", None)  # an upload in progress
    page = c.get(f"/import/{held.id}")
    assert page.status_code == 200
    assert '<meta http-equiv="refresh" content="2">' in page.text  # no JavaScript needed
    assert c.get(f"/api/import/{held.id}").json()["refresh"] == 2
    assert f'href="/import/{held.id}"' in c.get("/import").text
    r = _upload(c, X_SMALL)
    assert r.status_code == 409 and "busy" in r.text and held.id in r.text
    api = _upload(c, X_SMALL, url="/api/import")
    assert api.status_code == 409 and api.json()["error"].startswith("busy: ")
    jobs.abandon(held)
    assert _upload(c, X_SMALL).status_code == 303


def test_size_cap_is_a_clear_413(tmp_path: Path) -> None:
    w = make_web(tmp_path / "home", extra={MAX_UPLOAD_KEY: 10_000})
    try:
        c = w.logged_in("editor")
        r = _upload(c, X_SMALL)  # Content-Length over the cap: refused before reading
        assert r.status_code == 413 and "limit" in r.text and "--max-upload" in r.text
        token = c.csrf("/import")

        async def body() -> AsyncIterator[bytes]:  # no Content-Length: cut while streaming
            yield (b'--B\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n'
                   + token.encode() + b'\r\n--B\r\nContent-Disposition: form-data; '
                   b'name="archive"; filename="big.zip"\r\n\r\n')
            for _ in range(100):
                yield b"\x00" * 1000
            yield b"\r\n--B--\r\n"

        r = c.post("/api/import", content=body(),
                   headers={"Content-Type": "multipart/form-data; boundary=B"})
        assert r.status_code == 413 and "limit" in r.json()["error"]
        assert _uploads_left(w) == [] and jobs_of(w.config).recent() == []
    finally:
        w.close()


def test_viewer_and_csrf_are_refused(web: Web) -> None:
    viewer = web.logged_in("viewer")
    assert viewer.get("/import").status_code == 403
    assert viewer.get("/api/import").status_code == 403
    assert 'href="/import"' not in viewer.get("/").text
    r = _upload(viewer, X_SMALL, csrf=viewer.csrf("/"))
    assert r.status_code == 403
    editor = web.logged_in("editor")
    assert 'href="/import"' in editor.get("/").text
    for token in ("", "forged-token-of-another-session-xxxxxxxxxxxx"):
        r = _upload(editor, X_SMALL, csrf=token)
        assert r.status_code == 403 and "CSRF" in r.text
    r = editor.post("/import", files={"archive": ("a.zip", X_SMALL.read_bytes())})
    assert r.status_code == 403  # no token at all, file first
    anon = web.client()
    r = anon.post("/import", files={"archive": ("a.zip", b"x")})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert anon.post("/api/import", files={"archive": ("a.zip", b"x")}).status_code == 401
    assert jobs_of(web.config).recent() == [] and _uploads_left(web) == []
    assert editor.get("/api/").json()["counts"]["posts"] == 3  # the world's, nothing more


def test_unusable_forms_are_400(web: Web) -> None:
    c = web.logged_in("editor")
    token = c.csrf("/import")
    assert c.post("/import", data={"csrf": token}).status_code == 400  # not multipart
    r = c.post("/import", data={"csrf": token, "kind": "auto"}, files={"other": ("a", b"x")})
    assert r.status_code == 400
    r = c.post("/import", data={"csrf": token, "kind": "docx"},
               files={"archive": ("a.zip", X_SMALL.read_bytes())})
    assert r.status_code == 400 and "kind" in r.text
    r = c.post("/import", data={"csrf": token},
               files={"archive": ("empty.zip", b"")})
    assert r.status_code == 400
    assert c.get("/import/nope").status_code == 404
    assert jobs_of(web.config).recent() == [] and _uploads_left(web) == []


def test_serve_max_upload_option(tmp_path: Path) -> None:
    for bad in ("0", "lots", "5X"):
        r = cli_run(tmp_path / "home", None, "serve", "--max-upload", bad)
        assert r.exit_code == 2 and "not a size" in r.output, r.output
