"""A post is named by the platform's post id, the post's URL or an ``at://`` URI; an
internal row only as ``row:N``; a bare id that matches posts of several accounts is an
error naming them. Before: ``receipt 123 OUT`` took 123 as a row number when no post had
that id, and silently made a receipt for another post. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from cli_world import BSKY_POST, CANONICAL, cli_run, jsonl, one_error_line, seed
from unerased.store import Store


@pytest.fixture
def world(store: Store) -> dict[str, int]:
    return seed(store)


def _receipt_post(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("leaves/"):
                rec = json.loads(z.read(name))
                if rec.get("kind") == "post_version":
                    return rec["post"]  # type: ignore[no-any-return]
    raise AssertionError("no post version in the receipt")


CASES = [
    ("555", "x", "555"),
    ("https://x.com/alice/status/555", "x", "555"),
    ("https://twitter.com/alice/status/555/photo/1", "x", "555"),
    ("https://x.com/i/web/status/555", "x", "555"),
    (BSKY_POST, "bluesky", BSKY_POST),
    ("at://alice.bsky.social/app.bsky.feed.post/3kxyzabc", "bluesky", BSKY_POST),
    ("https://bsky.app/profile/alice.bsky.social/post/3kxyzabc", "bluesky", BSKY_POST),
    ("https://bsky.app/profile/did:plc:abcdefgh/post/3kxyzabc", "bluesky", BSKY_POST),
    ("https://social.example/@bob/123", "mastodon", "123"),
    ("https://social.example/users/bob/statuses/123", "mastodon", "123"),
    ("https://blog.example/p/1", "rss", "https://blog.example/p/1"),
]


def test_a_post_by_its_id_url_or_at_uri(home: Path, db_url: str | None, world: dict[str, int],
                                        tmp_path: Path) -> None:
    for k, (ref, platform, post_id) in enumerate(CASES):
        out = tmp_path / f"r{k}.zip"
        r = cli_run(home, db_url, "receipt", ref, str(out), "--json")
        assert r.exit_code == 0, (ref, r.output)
        (summary,) = jsonl(r.stdout)
        assert summary["post_id"] == post_id, ref
        got = _receipt_post(out)
        assert (got["platform"], got["post_id"]) == (platform, post_id), ref


def test_a_row_number_only_in_its_explicit_form(home: Path, db_url: str | None,
                                                world: dict[str, int], tmp_path: Path) -> None:
    st_posts = jsonl(cli_run(home, db_url, "posts", "rss:https://blog.example/feed.xml",
                             "--json").stdout)
    (blog,) = st_posts
    row = str(blog["id"])
    assert not any(p["post_id"] == row for p in
                   jsonl(cli_run(home, db_url, "search", "censorship", "--json").stdout))
    out = tmp_path / "r.zip"
    # a bare number that is no post's id: nothing found, no receipt for another post
    line = one_error_line(cli_run(home, db_url, "receipt", row, str(out)), 1)
    assert f"no post matches {row!r}" in line
    assert not out.exists()
    r = cli_run(home, db_url, "receipt", f"row:{row}", str(out), "--json")
    assert r.exit_code == 0, r.output
    assert _receipt_post(out)["post_id"] == "https://blog.example/p/1"
    assert jsonl(r.stdout)[0]["account_uri"] == CANONICAL["rss"]


def test_an_id_of_several_accounts_names_them(home: Path, db_url: str | None,
                                              world: dict[str, int], tmp_path: Path) -> None:
    out = tmp_path / "r.zip"
    line = one_error_line(cli_run(home, db_url, "receipt", "123", str(out)), 2)
    assert "x:alice" in line and "mastodon:@bob@social.example" in line, line
    assert "row:" in line
    assert not out.exists()
    # the URL says which
    r = cli_run(home, db_url, "receipt", "https://x.com/alice/status/123", str(out))
    assert r.exit_code == 0, r.output
    assert "x:alice 123" in r.stdout


@pytest.mark.parametrize("ref", ["row:abc", "row:", "row:-1", "row:99999999999999999999999", ""])
def test_a_malformed_row_is_a_usage_error(home: Path, db_url: str | None,
                                          world: dict[str, int], tmp_path: Path,
                                          ref: str) -> None:
    one_error_line(cli_run(home, db_url, "receipt", ref, str(tmp_path / "r.zip")), 2)
    one_error_line(cli_run(home, db_url, "posts", ref), 2)


def test_unknown_post_is_one_line(home: Path, db_url: str | None, world: dict[str, int],
                                  tmp_path: Path) -> None:
    for ref in ("999999", "https://x.com/alice/status/999", "at://did:plc:zz/app.bsky.feed.post/q",
                "row:999999"):
        one_error_line(cli_run(home, db_url, "receipt", ref, str(tmp_path / "r.zip")), 1)


def test_the_library_looks_posts_up_the_same_way(store: Store, world: dict[str, int],
                                                 tmp_path: Path) -> None:
    from unerased.errors import AmbiguousError, NotFound
    from unerased.ledger.receipt import write_receipt

    with pytest.raises(AmbiguousError):
        write_receipt(store, "123", tmp_path / "a.zip")
    with pytest.raises(NotFound):
        write_receipt(store, str(world["rss"]), tmp_path / "b.zip")
    s = write_receipt(store, "https://social.example/@bob/123", tmp_path / "c.zip")
    assert s.post_id == "123" and _receipt_post(tmp_path / "c.zip")["platform"] == "mastodon"
