"""The pure side of naming accounts and posts (unerased.refs): the canonical form, what
each form of an argument can match, and that no text makes it fail otherwise than with a
one-line usage error."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unerased.errors import AmbiguousError, NotFound, UsageError
from unerased.refs import (
    AccountMatch,
    PostMatch,
    account_matches,
    account_uri,
    pick_one,
    post_matches,
)


@pytest.mark.parametrize(("platform", "handle", "account_id", "uri"), [
    ("bluesky", "alice.bsky.social", "did:plc:a", "bluesky:alice.bsky.social"),
    ("bluesky", None, "did:plc:a", "bluesky:did:plc:a"),
    ("bluesky", "handle.invalid", "did:plc:a", "bluesky:did:plc:a"),
    ("mastodon", "bob@social.example", "109@social.example", "mastodon:@bob@social.example"),
    ("mastodon", None, "109@social.example", "mastodon:109@social.example"),
    ("rss", "https://b.example/feed", "https://b.example/feed", "rss:https://b.example/feed"),
    ("x", "alice", "1001", "x:alice"),
    ("x", None, "1001", "x:1001"),
])
def test_the_canonical_form(platform: str, handle: str | None, account_id: str,
                            uri: str) -> None:
    assert account_uri(platform, handle, account_id) == uri


def test_every_printed_form_names_its_account_back() -> None:
    """What account_uri prints, account_matches takes: one of its matches holds for the
    account it was made from."""
    accounts = [("bluesky", "alice.bsky.social", "did:plc:a"), ("bluesky", None, "did:plc:a"),
                ("mastodon", "bob@social.example", "109@social.example"),
                ("mastodon", None, "109@social.example"),
                ("rss", "https://b.example/feed", "https://b.example/feed"),
                ("x", "alice", "1001"), ("x", None, "1001")]
    for platform, handle, account_id in accounts:
        ms = account_matches(account_uri(platform, handle, account_id))
        assert any(_holds(m, platform, handle, account_id) for m in ms), (platform, ms)


def _holds(m: AccountMatch, platform: str, handle: str | None, account_id: str) -> bool:
    return ((m.platform in (None, platform))
            and (m.handle is None or (handle or "").lower() == m.handle.lower())
            and (m.account_id in (None, account_id))
            and m.url is None and m.watch_uri is None and m.row is None
            and (m.handle is not None or m.account_id is not None))


def test_a_bare_number_is_never_a_row() -> None:
    assert all(m.row is None for m in account_matches("12345"))
    assert all(m.row is None for m in post_matches("12345"))
    assert account_matches("row:7") == (AccountMatch(row=7),)
    assert post_matches("ROW:7") == (PostMatch(row=7),)


def test_post_urls() -> None:
    assert PostMatch(platform="x", post_id="5") in post_matches("https://x.com/a/status/5")
    assert PostMatch(platform="bluesky", post_id="at://did:plc:a/app.bsky.feed.post/k") in \
        post_matches("https://bsky.app/profile/did:plc:a/post/k")
    m = post_matches("https://host.example:3000/@bob/42")
    assert PostMatch(platform="mastodon", post_id="42", account=(
        AccountMatch(platform="mastodon", handle="bob@host.example:3000"),)) in m
    # a remote account seen through another instance: its number there is not its id
    assert all(x.post_id != "42" for x in post_matches("https://a.example/@bob@b.example/42"))


def test_pick_one() -> None:
    assert pick_one("post", "r", [1], str, "h") == 1
    with pytest.raises(NotFound, match="no post matches 'r'"):
        pick_one("post", "r", [], str, "h")
    with pytest.raises(AmbiguousError, match=r"'r' matches 12 posts: 0, 1, .*, 9 and 2 more; h"):
        pick_one("post", "r", list(range(12)), str, "h")


@given(st.text(max_size=200))
def test_any_text_is_matches_or_a_usage_error(text: str) -> None:
    for f in (account_matches, post_matches):
        try:
            got = f(text)
        except UsageError as e:
            assert "\n" not in str(e)
        else:
            assert got and len(set(got)) == len(got)


@given(st.sampled_from(["https://", "http://", "at://", "row:", "x:", "mastodon:@", ""]),
       st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_url_like_text_never_raises_otherwise(prefix: str, rest: str) -> None:
    for f in (account_matches, post_matches):
        with contextlib.suppress(UsageError):  # anything else fails the test
            f(prefix + rest)
