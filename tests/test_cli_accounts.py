"""One canonical account form, printed everywhere (human and --json), and every form of
an account accepted wherever one is asked for; an ambiguous argument names the
candidates (exit 2), nothing found is one line (exit 1). SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_world import CANONICAL, cli_run, jsonl, names, one_error_line, seed
from unerased.store import Store

FORMS = {
    "x_alice": ["x:alice", "x:ALICE", "twitter:alice", "x:@alice", "@alice", "alice", "Alice",
                "https://x.com/alice", "https://twitter.com/alice",
                "https://mobile.twitter.com/alice/", "https://www.x.com/alice?s=20",
                "1001", "x:1001", "x:Alice"],
    "bsky": ["bluesky:alice.bsky.social", "alice.bsky.social", "@alice.bsky.social",
             "bluesky:@Alice.bsky.social", "did:plc:abcdefgh", "bluesky:did:plc:abcdefgh",
             "https://bsky.app/profile/alice.bsky.social",
             "https://bsky.app/profile/did:plc:abcdefgh", "at://did:plc:abcdefgh",
             "at://alice.bsky.social"],
    "masto": ["mastodon:@bob@social.example", "@bob@social.example", "bob@social.example",
              "mastodon:bob@Social.Example", "https://social.example/@bob",
              "https://social.example/users/bob", "109@social.example",
              "mastodon:109@social.example"],
    "rss": ["rss:https://blog.example/feed.xml", "https://blog.example/feed.xml"],
}


@pytest.fixture
def world(store: Store) -> dict[str, int]:
    return seed(store)


@pytest.mark.parametrize("who", sorted(FORMS))
def test_every_form_names_the_account(home: Path, db_url: str | None, world: dict[str, int],
                                      who: str) -> None:
    for ref in FORMS[who]:
        r = cli_run(home, db_url, "posts", ref, "--json")
        assert r.exit_code == 0, (ref, r.output)
        posts = jsonl(r.stdout)
        assert posts and names(posts, "account_uri") == {CANONICAL[who]}, ref
        r = cli_run(home, db_url, "search", "censorship", "--account", ref, "--json")
        assert r.exit_code == 0, (ref, r.output)
        assert names(jsonl(r.stdout), "account_uri") == {CANONICAL[who]}, ref


def test_row_form_and_events_account(home: Path, db_url: str | None,
                                     world: dict[str, int]) -> None:
    r = cli_run(home, db_url, "posts", f"row:{world['masto']}", "--json")
    assert names(jsonl(r.stdout), "account_uri") == {CANONICAL["masto"]}
    r = cli_run(home, db_url, "events", "--account", "https://bsky.app/profile/alice.bsky.social",
                "--json")
    (ev,) = jsonl(r.stdout)
    assert ev["type"] == "account_suspended" and ev["account_uri"] == CANONICAL["bsky"]
    # the fields DESIGN.md defines are kept as they were
    assert ev["account"] is None and ev["account_id"] == "did:plc:abcdefgh"


def test_a_bare_number_is_never_a_row(home: Path, db_url: str | None,
                                      world: dict[str, int]) -> None:
    """Before: a bare number was also the account's row number."""
    r = cli_run(home, db_url, "posts", str(world["rss"]), "--json")
    line = one_error_line(r, 1)
    assert "no account matches" in line


def test_an_ambiguous_account_names_the_candidates(home: Path, db_url: str | None,
                                                   world: dict[str, int]) -> None:
    # '12345' is the handle of one X account and the user id of another
    for args in (["posts", "12345"], ["posts", "x:12345"],
                 ["search", "account", "--account", "12345"],
                 ["events", "--account", "12345"]):
        line = one_error_line(cli_run(home, db_url, *args), 2)
        assert "x:12345" in line and "x:zed" in line, line
        assert f"row:{world['x_digits']}" in line and f"row:{world['x_zed']}" in line


@pytest.mark.parametrize("args", [["posts", "x:nobody"], ["posts", "https://x.com/nobody"],
                                  ["events", "--account", "nobody"],
                                  ["search", "x", "--account", "mastodon:@a@b.example"],
                                  ["watch", "remove", "bluesky:nobody.example"]])
def test_nothing_found_is_one_line(home: Path, db_url: str | None, world: dict[str, int],
                                   args: list[str]) -> None:
    one_error_line(cli_run(home, db_url, *args), 1)


def test_the_canonical_form_is_printed_by_every_listing(home: Path, db_url: str | None,
                                                        world: dict[str, int]) -> None:
    # watch list: human and JSON (uri is the canonical form; watch_uri what was typed)
    r = cli_run(home, db_url, "watch", "list", "--all", "--json")
    by_id = {a["id"]: a for a in jsonl(r.stdout)}
    for who, uri in CANONICAL.items():
        assert by_id[world[who]]["uri"] == uri
    assert by_id[world["x_alice"]]["watch_uri"] == "x:Alice"
    assert by_id[world["bsky"]]["watch_uri"] is None
    human = cli_run(home, db_url, "watch", "list", "--all").stdout
    for uri in CANONICAL.values():
        assert any(line.startswith(uri + " ") for line in human.splitlines()), (uri, human)
    # posts and search, human: each post line names its account the same way
    human = cli_run(home, db_url, "search", "censorship").stdout
    for uri in CANONICAL.values():
        assert f" {uri} " in human, (uri, human)
    human = cli_run(home, db_url, "posts", "bob@social.example").stdout
    assert f" {CANONICAL['masto']} 123" in human
    # events, human and JSON
    r = cli_run(home, db_url, "events")
    assert CANONICAL["x_alice"] + " 123" in r.stdout and CANONICAL["bsky"] in r.stdout
    evs = jsonl(cli_run(home, db_url, "events", "--json").stdout)
    assert names(evs, "account_uri") == {CANONICAL["x_alice"], CANONICAL["bsky"]}


def test_watch_remove_takes_every_form(home: Path, db_url: str | None,
                                       world: dict[str, int]) -> None:
    r = cli_run(home, db_url, "watch", "remove", "https://twitter.com/ALICE")
    assert r.exit_code == 0, r.output
    assert "stopped watching x:alice" in r.stderr
    assert jsonl(cli_run(home, db_url, "watch", "list", "--json").stdout) == []
    # not watched any more: one line, exit 1
    one_error_line(cli_run(home, db_url, "watch", "remove", "x:alice"), 1)
