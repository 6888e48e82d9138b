"""The classic (pre-2019, "Grailbird") X archive: the month files of x-2019-classic-brenden,
and the ``tweets.csv``-only variant built here from that archive's own data. Expectations
come from reading the export directly in the test, not from the importer's code."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared_data import ARCHIVES
from unerased.errors import ArchiveError
from unerased.importers import iter_twitter_archive
from unerased.model import AccountSnapshot, PostSnapshot

CLASSIC = ARCHIVES / "x-2019-classic-brenden" / "archive.zip"
OWNER = "854994858712354816"


def month_tweets() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with zipfile.ZipFile(CLASSIC) as zf:
        for name in sorted(n for n in zf.namelist() if n.startswith("data/js/tweets/")):
            text = zf.read(name).decode("utf-8")
            assert text.startswith("Grailbird.data.tweets_")
            out += json.loads(text.split("=", 1)[1])
    return out


def date(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S %z").astimezone(UTC)


def expected_text(t: dict[str, Any]) -> str:
    text = html.unescape(t["text"])
    for u in t["entities"]["urls"]:
        text = text.replace(u["url"], u["expanded_url"])
    return text


def read(path: Path) -> tuple[AccountSnapshot, dict[str, PostSnapshot]]:
    items = list(iter_twitter_archive(path))
    acc = items[0]
    assert isinstance(acc, AccountSnapshot)
    posts = {p.post_id: p for p in items[1:] if isinstance(p, PostSnapshot)}
    assert len(posts) == len(items) - 1
    return acc, posts


def test_classic_archive_imports_whole() -> None:
    tweets = month_tweets()
    assert len(tweets) == 3313
    acc, posts = read(CLASSIC)
    assert (acc.account_id, acc.handle, acc.display_name) == (OWNER, "brenden_gerelle",
                                                              "Brenden Gerelle")
    assert acc.created_at == datetime(2017, 4, 20, 9, 47, 14, tzinfo=UTC)
    assert acc.observed_at == datetime(2019, 2, 8, 11, 27, 30, tzinfo=UTC)
    assert len(posts) == 3313
    for t in tweets:
        p = posts[t["id_str"]]
        assert p.created_at == date(t["created_at"])
        assert p.text == expected_text(t), t["id_str"]
        assert p.url == f"https://x.com/brenden_gerelle/status/{t['id_str']}"
        if "retweeted_status" in t:
            assert (p.kind, p.repost_of) == ("repost", t["retweeted_status"]["id_str"])
        elif t.get("in_reply_to_status_id_str"):
            assert (p.kind, p.reply_to) == ("reply", t["in_reply_to_status_id_str"])
        else:
            assert p.kind in ("post", "quote")
        want_media = [m["media_url_https"] for m in t["entities"]["media"]]
        assert [m.url for m in p.media] == want_media
        assert all(m.content is None for m in p.media)  # classic archives carried no media
    kinds = [p.kind for p in posts.values()]
    assert kinds.count("repost") == 212
    assert sum(1 for p in posts.values() if p.reply_to) == 439
    # Twitter escaped &, <, > in v1.1 text: stored as people wrote them
    assert any("&" in p.text for p in posts.values())
    assert not any("&amp;" in p.text for p in posts.values())


# --- the tweets.csv variant ----------------------------------------------------------------


def _csv_row(t: dict[str, Any]) -> list[str]:
    ents = sorted(t["entities"]["urls"] + t["entities"]["media"], key=lambda e: e["indices"][0])
    rt = t.get("retweeted_status")
    return [
        t["id_str"], t.get("in_reply_to_status_id_str", ""), t.get("in_reply_to_user_id_str", ""),
        t["created_at"], t["source"], t["text"], rt["id_str"] if rt else "",
        rt["user"]["id_str"] if rt else "", rt["created_at"] if rt else "",
        ",".join(e["expanded_url"] for e in ents),
    ]


def csv_archive(path: Path, *, user_details: bool) -> Path:
    """A classic archive whose only tweets are in ``tweets.csv`` (the columns Twitter wrote),
    made from the real archive's month files."""
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(["tweet_id", "in_reply_to_status_id", "in_reply_to_user_id", "timestamp",
                "source", "text", "retweeted_status_id", "retweeted_status_user_id",
                "retweeted_status_timestamp", "expanded_urls"])
    for t in month_tweets():
        w.writerow(_csv_row(t))
    with zipfile.ZipFile(CLASSIC) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("tweets.csv", buf.getvalue().encode("utf-8"))
        for name in src.namelist():
            if name.startswith("data/js/tweets/"):
                continue
            if name.endswith("user_details.js") and not user_details:
                continue
            zf.writestr(name, src.read(name))
    return path


@pytest.mark.parametrize("user_details", [True, False])
def test_tweets_csv_only(tmp_path: Path, user_details: bool) -> None:
    acc, posts = read(csv_archive(tmp_path / "csv.zip", user_details=user_details))
    assert acc.account_id == OWNER and acc.handle == "brenden_gerelle"
    assert len(posts) == 3313
    for t in month_tweets():
        p = posts[t["id_str"]]
        assert p.created_at == date(t["created_at"])
        if "retweeted_status" in t:
            assert (p.kind, p.repost_of) == ("repost", t["retweeted_status"]["id_str"])
        elif t.get("in_reply_to_status_id_str"):
            assert (p.kind, p.reply_to) == ("reply", t["in_reply_to_status_id_str"])
        # links expanded where each t.co has its address, as in the month files
        shown = html.unescape(t["text"])
        if len(set(re.findall(r"https?://t\.co/\w+", shown))) == len(
                t["entities"]["urls"] + t["entities"]["media"]):
            want = shown
            ents = sorted(t["entities"]["urls"] + t["entities"]["media"],
                          key=lambda e: e["indices"][0])
            for e in ents:
                want = want.replace(e["url"], e["expanded_url"])
            assert p.text == want
        else:
            assert p.text == shown


def test_csv_without_owner_is_one_line(tmp_path: Path) -> None:
    p = tmp_path / "bare.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("tweets.csv", '"tweet_id","timestamp","text"\n"5","2019-01-01 00:00:00 +0000","hi"\n')
    with pytest.raises(ArchiveError, match="whose tweets these are"):
        list(iter_twitter_archive(p))


@pytest.mark.parametrize("body, needle", [
    (b'"tweet_id","text"\n"1","x"\n', "no timestamp column"),
    (b'"tweet_id","timestamp","text"\n"abc","2019-01-01 00:00:00 +0000","x"\n', "no tweet id"),
    (b'"tweet_id","timestamp","text"\n"1","2019-01-01 00:00:00 +0000","unterminated\n',
     "malformed CSV"),
    (b'"tweet_id","timestamp","text"\n"1","x","\xff\xfe"\n', "not UTF-8"),
    (b"", "is empty"),
])
def test_hostile_csv_one_line(tmp_path: Path, body: bytes, needle: str) -> None:
    p = tmp_path / "h.zip"
    with zipfile.ZipFile(CLASSIC) as src, zipfile.ZipFile(p, "w") as zf:
        zf.writestr("tweets.csv", body)
        zf.writestr("data/js/user_details.js", src.read("data/js/user_details.js"))
    with pytest.raises(ArchiveError) as e:
        list(iter_twitter_archive(p))
    assert needle in str(e.value) and "\n" not in str(e.value)
