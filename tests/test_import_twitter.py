"""The X archive importer, on generated archives in the real layout and on hand-made
hostile ones: every failure is one ArchiveError line naming the file and the problem."""

from __future__ import annotations

import json
import tempfile
import tracemalloc
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unerased.errors import ArchiveError
from unerased.importers.twitter import iter_twitter_archive, parse_twitter_date
from unerased.model import AccountSnapshot, PostSnapshot
from unerased.sim.archives import (
    KEYWORDS,
    ArchiveSpec,
    jpeg_bytes,
    make_twitter_archive,
    png_bytes,
    twitter_date,
)

# --- helpers ------------------------------------------------------------------------------


def ytd(name: str, items: Any) -> bytes:
    return (f"window.YTD.{name}.part0 = " + json.dumps(items, indent=2, ensure_ascii=False)).encode()


ACCOUNT = ytd("account", [{"account": {
    "email": "secret@example.org", "createdVia": "web", "username": "tester",
    "accountId": "42", "createdAt": "2012-01-02T03:04:05.000Z", "accountDisplayName": "Tester"}}])


def tweet(tid: str, text: str, created: str = "Wed Oct 10 20:19:24 +0000 2018",
          **extra: Any) -> dict[str, Any]:
    t: dict[str, Any] = {
        "edit_info": {"initial": {"editTweetIds": [tid], "editableUntil": "2018-10-10T21:19:24.000Z",
                                  "editsRemaining": "5", "isEditEligible": False}},
        "retweeted": False, "source": '<a href="x" rel="nofollow">Web</a>',
        "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
        "display_text_range": ["0", str(len(text))], "favorite_count": "7", "id_str": tid,
        "truncated": False, "retweet_count": "2", "id": tid, "created_at": created,
        "favorited": False, "full_text": text, "lang": "en",
    }
    t.update(extra)
    return t


def archive(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def posts(path: Path, **kw: Any) -> list[PostSnapshot]:
    out = list(iter_twitter_archive(path, **kw))
    assert isinstance(out[0], AccountSnapshot)
    rest = out[1:]
    assert all(isinstance(p, PostSnapshot) for p in rest)
    return [p for p in rest if isinstance(p, PostSnapshot)]


def fails(path: Path) -> str:
    with pytest.raises(ArchiveError) as e:
        for _ in iter_twitter_archive(path):
            pass
    text = str(e.value)
    assert "\n" not in text and text.startswith(f"{path}: ")
    return text


def by_post(snaps: list[PostSnapshot]) -> dict[str, list[PostSnapshot]]:
    out: dict[str, list[PostSnapshot]] = {}
    for s in snaps:
        out.setdefault(s.post_id, []).append(s)
    return out


def check_against_spec(spec: ArchiveSpec, snaps: list[PostSnapshot]) -> None:
    assert len(snaps) == spec.n_snapshots
    got = by_post(snaps)
    assert len(got) == spec.n_posts
    for pid, sp in spec.posts.items():
        versions = got[pid]
        assert [v.version_key for v in versions] == sp.version_ids, pid
        assert [v.text for v in versions] == sp.texts, pid
        first = versions[0]
        assert first.kind == sp.kind and first.reply_to == sp.reply_to, pid
        assert first.quote_of == sp.quote_of and first.deleted == sp.deleted, pid
        assert first.created_at == sp.created_at.replace(microsecond=0), pid
        assert all(len(v.media) == sp.media for v in versions), pid
        assert first.url == f"https://x.com/{spec.username}/status/{pid}"
        assert first.platform == "x" and first.account_id == spec.account_id
    for kw in KEYWORDS:
        with_kw = {s.post_id for s in snaps if kw in s.text}
        assert with_kw == set(spec.keyword_posts[kw]) and with_kw


# --- generated archives ---------------------------------------------------------------------


@pytest.mark.parametrize("layout", [
    {"parts": 1}, {"parts": 3}, {"old_layout": True}, {"parts": 2, "cjk_ratio": 1.0},
])
def test_generated_archive_round_trip(tmp_path: Path, layout: dict[str, Any]) -> None:
    spec = make_twitter_archive(tmp_path / "x.zip", n_tweets=150, seed=7, media_every=7,
                                edits_every=15, deleted=4, note_tweets=3, **layout)
    assert spec.complete and spec.n_tweets == 150
    items = list(iter_twitter_archive(spec.path))
    acc = items[0]
    assert isinstance(acc, AccountSnapshot)
    assert (acc.platform, acc.account_id, acc.handle) == ("x", spec.account_id, spec.username)
    assert acc.display_name == spec.display_name and acc.url == "https://x.com/sample_user"
    assert acc.profile["bio"] == spec.bio and "email" not in json.dumps(acc.profile)
    assert acc.created_at == spec.account_created_at
    snaps = [s for s in items[1:] if isinstance(s, PostSnapshot)]
    check_against_spec(spec, snaps)
    if layout.get("old_layout"):
        assert not spec.edit_chains and not spec.deleted_ids and not spec.note_ids
        assert acc.observed_at is None
    else:
        assert len(spec.edit_chains) >= 3 and len(spec.deleted_ids) == 4
        assert len(spec.note_ids) == 3 and acc.observed_at == spec.generated_at
    assert len(spec.tweet_files) == layout.get("parts", 1)
    assert sum(len(s.media) for s in snaps) == spec.media_files > 0


def test_edit_chains_are_one_post_in_order(tmp_path: Path) -> None:
    spec = make_twitter_archive(tmp_path / "x.zip", n_tweets=400, edits_every=20, media_every=0)
    got = by_post(posts(spec.path))
    assert len(spec.edit_chains) >= 10
    lengths = set()
    for pid in spec.edit_chains:
        versions = got[pid]
        lengths.add(len(versions))
        keys = [v.version_key or "" for v in versions]
        assert keys[0] == pid and keys == sorted(keys, key=int)
        assert versions[0].edited_at is None
        stamps = [v.created_at for v in versions]
        assert all(a is not None and b is not None and a < b for a, b in zip(stamps, stamps[1:], strict=False))
        assert all(v.edited_at == v.created_at for v in versions[1:])
        assert versions[-1].text.startswith(versions[0].text) and versions[-1].text != versions[0].text
    assert lengths == {2, 3}


def test_deleted_and_note_and_media(tmp_path: Path) -> None:
    spec = make_twitter_archive(tmp_path / "x.zip", n_tweets=100, media_every=10, deleted=3,
                                note_tweets=2)
    got = by_post(posts(spec.path))
    for pid in spec.deleted_ids:
        assert [v.deleted for v in got[pid]] == [True]
        assert "删除" in got[pid][0].text
        assert "deleted_at" in (got[pid][0].raw or {})
    for pid in spec.note_ids:
        snap = got[pid][0]
        assert len(snap.text) > 300 and "…" not in snap.text and "t.co" not in snap.text
        assert snap.text == spec.posts[pid].text
        assert snap.raw is not None and snap.raw["full_text"].endswith(snap.raw["entities"]["urls"][0]["url"])
    with_media = [s for v in got.values() for s in v if s.media]
    assert len(with_media) == spec.media_files >= 10
    assert any(s.deleted for s in with_media)  # deleted_tweets_media/ is read too
    with zipfile.ZipFile(spec.path) as zf:
        for s in with_media:
            (m,) = s.media
            assert m.filename and m.filename.startswith(f"{s.version_key}-")
            folder = "deleted_tweets_media" if s.deleted else "tweets_media"
            assert m.content == zf.read(f"data/{folder}/{m.filename}")
            assert m.content[:4] in (b"\xff\xd8\xff\xfe", b"\x89PNG")
            assert m.url and m.url.startswith("https://pbs.twimg.com/media/")
            assert m.kind == "image" and m.mime in ("image/jpeg", "image/png")


def test_images_are_real() -> None:
    png = png_bytes(3, 2, (1, 2, 3))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png.endswith(b"IEND\xaeB`\x82")
    jpg = jpeg_bytes(200, b"c")
    assert jpg.startswith(b"\xff\xd8") and jpg.endswith(b"\xff\xd9") and b"\xff\xc0" in jpg


def test_progress_reports(tmp_path: Path) -> None:
    spec = make_twitter_archive(tmp_path / "x.zip", n_tweets=3000, media_every=100)
    calls: list[tuple[int, int]] = []
    snaps = posts(spec.path, progress=lambda done, total: calls.append((done, total)))
    assert len(snaps) == spec.n_snapshots
    assert len(calls) >= 2 and calls[-1][0] == calls[-1][1] > 1_000_000
    assert all(a[0] <= b[0] and a[1] == b[1] for a, b in zip(calls, calls[1:], strict=False))


# --- field parsing ----------------------------------------------------------------------------


def test_fields_entities_links_numbers_dates(tmp_path: Path) -> None:
    t1 = tweet("1051204021313536000", "Q&amp;A: 1 &lt; 2 &gt; 0 see https://t.co/abc123",
               entities={"urls": [{"url": "https://t.co/abc123",
                                   "expanded_url": "https://example.org/p?a=1&b=2",
                                   "display_url": "example.org/p", "indices": ["30", "53"]}]})
    t2 = tweet("1051204021313536001", "@friend 审查 &amp; 删除",
               in_reply_to_status_id_str="99", in_reply_to_status_id="99",
               in_reply_to_screen_name="friend", lang="zh")
    t3 = tweet("1051204021313536002", "RT @other: hi", retweeted_status={"id_str": "77"})
    t4 = tweet("1051204021313536003", "look", quoted_status_id_str="55", lang="und")
    t5 = tweet("1051204021313536004", "so true https://t.co/q",
               entities={"urls": [{"url": "https://t.co/q",
                                   "expanded_url": "https://twitter.com/someone/status/66"}]})
    t6 = {"id": 12345, "full_text": "old style, numeric id, no wrapper",
          "created_at": "Mon Jan 02 03:04:05 +0100 2012"}
    t7 = tweet("1051204021313536005", "RT @x: media rt", extended_entities={"media": [
        {"type": "photo", "source_status_id_str": "88",
         "media_url_https": "https://pbs.twimg.com/media/K.jpg"}]})
    t8 = tweet("1051204021313536006", "perma", quoted_status_permalink={
        "url": "https://t.co/z", "expanded": "https://x.com/a_b/status/123", "display": "x"})
    p = archive(tmp_path / "a.zip", {
        "data/account.js": ACCOUNT,
        "data/tweets.js": ytd("tweets", [{"tweet": t} for t in (t1, t2, t3, t4, t5, t7, t8)] + [t6]),
    })
    s = {x.post_id: x for x in posts(p)}
    a = s["1051204021313536000"]
    assert a.text == "Q&A: 1 < 2 > 0 see https://example.org/p?a=1&b=2"
    assert a.created_at == datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC)
    assert a.kind == "post" and a.lang == "en" and a.version_key == a.post_id
    assert a.raw == t1 and a.raw["favorite_count"] == "7"  # raw is the tweet as found
    assert a.url == "https://x.com/tester/status/1051204021313536000"
    b = s["1051204021313536001"]
    assert (b.kind, b.reply_to, b.text, b.lang) == ("reply", "99", "@friend 审查 & 删除", "zh")
    c = s["1051204021313536002"]
    assert (c.kind, c.repost_of) == ("repost", "77")
    d = s["1051204021313536003"]
    assert (d.kind, d.quote_of, d.lang) == ("quote", "55", None)
    e = s["1051204021313536004"]
    assert (e.kind, e.quote_of) == ("quote", "66")
    assert e.text == "so true https://twitter.com/someone/status/66"
    f = s["12345"]
    assert f.text == "old style, numeric id, no wrapper"
    assert f.created_at == datetime(2012, 1, 2, 2, 4, 5, tzinfo=UTC)
    g = s["1051204021313536005"]
    assert (g.kind, g.repost_of) == ("repost", "88")
    assert [m.url for m in g.media] == ["https://pbs.twimg.com/media/K.jpg"]
    assert g.media[0].content is None and g.media[0].kind == "image"
    assert s["1051204021313536006"].quote_of == "123"


@pytest.mark.parametrize(("value", "expected"), [
    ("Wed Oct 10 20:19:24 +0000 2018", datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC)),
    ("Wed Oct 10 20:19:24 -0130 2018", datetime(2018, 10, 10, 21, 49, 24, tzinfo=UTC)),
    ("2011-06-23T13:04:14.000Z", datetime(2011, 6, 23, 13, 4, 14, tzinfo=UTC)),
    ("Wed Foo 10 20:19:24 +0000 2018", None), ("yesterday", None), (12345, None), ("", None),
])
def test_parse_twitter_date(value: Any, expected: datetime | None) -> None:
    assert parse_twitter_date(value) == expected


def test_twitter_date_round_trip() -> None:
    dt = datetime(2019, 3, 19, 14, 5, 17, tzinfo=UTC)
    assert twitter_date(dt) == "Tue Mar 19 14:05:17 +0000 2019"
    assert parse_twitter_date(twitter_date(dt)) == dt


def test_edit_chain_spanning_parts_and_media_alt(tmp_path: Path) -> None:
    ids = ["1600000000000000001", "1600000000000000500", "1600000000000000900"]
    ctl = {"editTweetIds": ids, "editableUntil": "2022-12-01T00:00:00.000Z",
           "editsRemaining": "3", "isEditEligible": True}
    newest = tweet(ids[2], "v3", "Thu Dec 01 00:20:00 +0000 2022",
                   edit_info={"edit": {"initialTweetId": ids[0], "editControlInitial": ctl}})
    middle = tweet(ids[1], "v2", "Thu Dec 01 00:10:00 +0000 2022",
                   edit_info={"edit": {"initialTweetId": ids[0], "editControlInitial": ctl}})
    orig = tweet(ids[0], "v1 https://t.co/m", "Thu Dec 01 00:00:00 +0000 2022",
                 edit_info={"initial": ctl}, extended_entities={"media": [{
                     "type": "photo", "url": "https://t.co/m", "ext_alt_text": "a cat",
                     "media_url_https": "https://pbs.twimg.com/media/CAT.png"}]})
    other = tweet("1500000000000000000", "unrelated")
    p = archive(tmp_path / "a.zip", {
        "data/account.js": ACCOUNT,
        "data/tweets.js": ytd("tweets", [{"tweet": newest}, {"tweet": other}]),
        "data/tweets-part1.js": ytd("tweets", [{"tweet": middle}]).replace(b"part0", b"part1"),
        "data/tweets-part2.js": ytd("tweets", [{"tweet": orig}]).replace(b"part0", b"part2"),
        f"data/tweets_media/{ids[0]}-CAT.png": png_bytes(1, 1, (0, 0, 0)),
        f"data/tweets_media/{ids[0]}-extra.mp4": b"\x00\x00\x00\x18ftypmp42",
    })
    snaps = posts(p)
    assert [s.post_id for s in snaps] == ["1500000000000000000"] + [ids[0]] * 3
    chain = snaps[1:]
    assert [s.version_key for s in chain] == ids and [s.text for s in chain] == [
        "v1 https://t.co/m", "v2", "v3"]
    cat, mp4 = chain[0].media
    assert (cat.alt, cat.kind, cat.mime, cat.filename) == ("a cat", "image", "image/png", f"{ids[0]}-CAT.png")
    assert (mp4.kind, mp4.mime, mp4.url) == ("video", "video/mp4", None)
    assert mp4.content == b"\x00\x00\x00\x18ftypmp42"


def test_edit_chain_with_missing_version_is_flushed_in_order(tmp_path: Path) -> None:
    ids = ["1600000000000000001", "1600000000000000500", "1600000000000000900"]
    ctl = {"editTweetIds": ids}
    v3 = tweet(ids[2], "v3", edit_info={"edit": {"initialTweetId": ids[0], "editControlInitial": ctl}})
    v1 = tweet(ids[0], "v1", edit_info={"initial": ctl})
    p = archive(tmp_path / "a.zip", {"data/account.js": ACCOUNT,
                                     "data/tweets.js": ytd("tweets", [{"tweet": v3}, {"tweet": v1}])})
    assert [s.version_key for s in posts(p)] == [ids[0], ids[2]]


def test_note_tweet_matched_by_second_and_prefix(tmp_path: Path) -> None:
    long_a = "First long story. " * 30
    long_b = "Second long story, different. " * 20
    created = "Wed Feb 08 15:12:34 +0000 2023"
    t_a = tweet("1623000000000000001", long_a[:200] + "… https://t.co/self", created,
                entities={"urls": [{"url": "https://t.co/self",
                                    "expanded_url": "https://twitter.com/i/web/status/1623000000000000001"}]})
    t_b = tweet("1623000000000000002", long_b[:150] + "…", created)
    t_short = tweet("1623000000000000003", "First long story.", created)
    notes = [{"noteTweet": {"noteTweetId": "900" + str(i), "createdAt": "2023-02-08T15:12:34.000Z",
                            "updatedAt": "2023-02-08T15:12:34.000Z",
                            "core": {"styletags": [], "urls": [], "text": text, "mentions": [],
                                     "cashtags": [], "hashtags": []}}}
             for i, text in enumerate([long_b.strip(), long_a.strip()])]
    p = archive(tmp_path / "a.zip", {
        "data/account.js": ACCOUNT,
        "data/tweets.js": ytd("tweets", [{"tweet": t} for t in (t_a, t_b, t_short)]),
        "data/note-tweet.js": ytd("note_tweet", notes),
    })
    s = {x.post_id: x for x in posts(p)}
    assert s["1623000000000000001"].text == long_a.strip()
    assert s["1623000000000000002"].text == long_b.strip()
    assert s["1623000000000000003"].text == "First long story."


def test_account_from_manifest_when_account_js_is_missing(tmp_path: Path) -> None:
    manifest = b'window.__THAR_CONFIG = {"userInfo": {"accountId": "77", "userName": "m_user",' \
               b' "displayName": "M"}, "archiveInfo": {"generationDate": "2023-01-01T00:00:00.000Z"}}'
    p = archive(tmp_path / "a.zip", {"twitter-2023/data/manifest.js": manifest,
                                     "twitter-2023/data/tweets.js": ytd("tweets", [{"tweet": tweet("5", "x")}])})
    items = list(iter_twitter_archive(p))
    acc = items[0]
    assert isinstance(acc, AccountSnapshot) and (acc.account_id, acc.handle) == ("77", "m_user")
    assert isinstance(items[1], PostSnapshot) and items[1].url == "https://x.com/m_user/status/5"
    assert items[1].observed_at == datetime(2023, 1, 1, tzinfo=UTC)


# --- bad input --------------------------------------------------------------------------------


def test_not_a_zip(tmp_path: Path) -> None:
    p = tmp_path / "backup.zip"
    p.write_bytes(b"window.YTD.tweets.part0 = []")
    assert fails(p) == f"{p}: not a zip file"


def test_truncated_zip(tmp_path: Path) -> None:
    spec = make_twitter_archive(tmp_path / "x.zip", n_tweets=300)
    data = spec.path.read_bytes()
    p = tmp_path / "backup.zip"
    p.write_bytes(data[: len(data) - 200])
    assert "not a zip file" in fails(p)


def test_corrupted_tweets_data(tmp_path: Path) -> None:
    spec = make_twitter_archive(tmp_path / "x.zip", n_tweets=2000, media_every=0)
    data = bytearray(spec.path.read_bytes())
    start = data.find(b"data/tweets.js") + 200
    for i in range(start, start + 64):
        data[i] ^= 0x55
    p = tmp_path / "backup.zip"
    p.write_bytes(bytes(data))
    assert fails(p).startswith(f"{p}: data/tweets.js: ")


def test_missing_tweets_js(tmp_path: Path) -> None:
    p = archive(tmp_path / "backup.zip", {"data/account.js": ACCOUNT, "data/like.js": b"[]"})
    assert fails(p) == (f"{p}: no data/tweets.js (nor the classic data/js/tweets/) in it "
                        "(is this an X archive?)")


def test_missing_account(tmp_path: Path) -> None:
    p = archive(tmp_path / "backup.zip", {"data/tweets.js": ytd("tweets", [])})
    assert "no accountId" in fails(p)


def test_malformed_json_exact_byte(tmp_path: Path) -> None:
    body = b'window.YTD.tweets.part0 = [ {"tweet": {"id_str": "1", }} ]'
    p = archive(tmp_path / "backup.zip", {"data/account.js": ACCOUNT, "data/tweets.js": body})
    msg = fails(p)
    assert msg.startswith(f"{p}: data/tweets.js: malformed JSON at byte {body.index(b'}}')} (")


def test_malformed_json_mid_stream(tmp_path: Path) -> None:
    good = [{"tweet": tweet(str(10**17 + i), f"推特 tweet number {i}")} for i in range(600)]
    text = ytd("tweets", good)
    assert len(text) > 300_000
    cut = text.rindex(b'"full_text"', 0, 250_000)
    body = text[:cut] + b"@@@" + text[cut:]
    p = archive(tmp_path / "backup.zip", {"data/account.js": ACCOUNT, "data/tweets.js": body})
    seen: list[str] = []
    with pytest.raises(ArchiveError) as e:
        for s in iter_twitter_archive(p):
            seen.append(s.post_id if isinstance(s, PostSnapshot) else "account")
    assert str(e.value).startswith(f"{p}: data/tweets.js: malformed JSON at byte {cut} (")
    assert len(seen) > 100  # the tweets before the damage came through first


def test_truncated_json(tmp_path: Path) -> None:
    body = ytd("tweets", [{"tweet": tweet("1", "a")}, {"tweet": tweet("2", "b")}])
    p = archive(tmp_path / "backup.zip", {"data/account.js": ACCOUNT, "data/tweets.js": body[:-40]})
    assert "data/tweets.js: JSON ends early at byte" in fails(p)


@pytest.mark.parametrize(("body", "problem"), [
    (b"<script>[1]", "does not start with window.YTD.<name>.partN = ["),
    (b"var tweets = [1]", "item 0 is not a JSON object"),  # the classic `var x = ` prefix
    (b"window.YTD.tweets.part0 = {}", "does not start with a JSON array after '='"),
    (b"   ", "is empty: no JSON array in it"),
    (b"window.YTD.tweets.part0 = [ 1 ]", "item 0 is not a JSON object"),
    (b'window.YTD.tweets.part0 = [ {"tweet": {"full_text": "no id"}} ]', "item 0 has no tweet id"),
    (b'window.YTD.tweets.part0 = [ {"tweet": {"id_str": "../1"}} ]', "item 0 has no tweet id"),
    (b"window.YTD.tweets.part0 = [" + b"[" * 200_000, "JSON nested deeper than 256 levels"),
    (b'window.YTD.tweets.part0 = [ {"a":' * 2000, "JSON nested deeper than 256 levels"),
    (b'window.YTD.tweets.part0 = [ "\xff\xfe" ]', "malformed JSON at byte"),
])
def test_bad_tweets_file(tmp_path: Path, body: bytes, problem: str) -> None:
    p = archive(tmp_path / "backup.zip", {"data/account.js": ACCOUNT, "data/tweets.js": body})
    assert fails(p).startswith(f"{p}: data/tweets.js: {problem}")


def test_trailing_semicolon_and_bom_accepted(tmp_path: Path) -> None:
    body = b"\xef\xbb\xbf" + ytd("tweets", [{"tweet": tweet("1", "ok")}]) + b";\n"
    p = archive(tmp_path / "a.zip", {"data/account.js": ACCOUNT, "data/tweets.js": body})
    assert [s.text for s in posts(p)] == ["ok"]


def test_malformed_account_js(tmp_path: Path) -> None:
    body = b"window.YTD.account.part0 = [ {,"
    p = archive(tmp_path / "backup.zip", {"data/account.js": body, "data/tweets.js": ytd("tweets", [])})
    assert fails(p).startswith(f"{p}: data/account.js: malformed JSON at byte {body.index(b',')} (")


def _with_member(tmp_path: Path, info: zipfile.ZipInfo, data: bytes) -> Path:
    p = tmp_path / "backup.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("data/account.js", ACCOUNT)
        zf.writestr("data/tweets.js", ytd("tweets", []))
        zf.writestr(info, data)
    return p


def test_unsafe_members_rejected(tmp_path: Path) -> None:
    p = _with_member(tmp_path, zipfile.ZipInfo("../evil"), b"x")
    assert fails(p) == f"{p}: member '../evil' escapes the archive"
    p = _with_member(tmp_path, zipfile.ZipInfo("/abs/evil"), b"x")
    assert fails(p) == f"{p}: member '/abs/evil' has an absolute path"
    link = zipfile.ZipInfo("data/tweets_media/1-x.jpg")
    link.create_system = 3
    link.external_attr = (0o120777) << 16
    p = _with_member(tmp_path, link, b"/etc/passwd")
    assert fails(p) == f"{p}: member 'data/tweets_media/1-x.jpg' is a symbolic link"


def test_zip_bomb_rejected(tmp_path: Path) -> None:
    p = archive(tmp_path / "backup.zip", {"data/account.js": ACCOUNT,
                                          "data/tweets.js": b"window.YTD.tweets.part0 = [" + b" " * (30 << 20) + b"]"})
    assert "member 'data/tweets.js' expands" in fails(p)
    p = archive(tmp_path / "b2.zip", {"data/account.js": ACCOUNT, "data/tweets.js": ytd("tweets", [])})
    with pytest.raises(ArchiveError) as e:
        list(iter_twitter_archive(p, zip_limits={"max_total": 100}))
    assert "over the limit of 100" in str(e.value)


def test_encrypted_member_rejected(tmp_path: Path) -> None:
    p = archive(tmp_path / "backup.zip", {"data/account.js": ACCOUNT, "data/tweets.js": ytd("tweets", [])})
    data = bytearray(p.read_bytes())
    cd = data.find(b"PK\x01\x02", data.find(b"PK\x01\x02") + 4)  # the second member
    data[cd + 8] |= 0x1
    p.write_bytes(bytes(data))
    assert fails(p) == f"{p}: member 'data/tweets.js' is encrypted"


# --- properties ------------------------------------------------------------------------------------


def _iterate(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "m.zip"
        p.write_bytes(raw)
        try:
            for _ in iter_twitter_archive(p):
                pass
        except ArchiveError as e:
            assert "\n" not in str(e) and str(e).startswith(str(p))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_only_archive_error(raw: bytes) -> None:
    _iterate(raw)


@pytest.fixture(scope="module")
def small_archive() -> Iterator[bytes]:
    with tempfile.TemporaryDirectory() as d:
        spec = make_twitter_archive(Path(d) / "s.zip", n_tweets=25, media_every=5, edits_every=6,
                                    deleted=2, note_tweets=2, compresslevel=0)
        yield spec.path.read_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_archives_only_archive_error(small_archive: bytes, data: st.DataObject) -> None:
    raw = bytearray(small_archive)
    for _ in range(data.draw(st.integers(1, 8), label="flips")):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.sampled_from([0, 0x22, 0x5B, 0x7B, 0x5C, 0xFF, data.draw(st.integers(0, 255))]))
    if data.draw(st.booleans(), label="truncate"):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    _iterate(bytes(raw))


# --- memory -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_memory_stays_bounded_on_a_50mb_tweets_js(tmp_path: Path) -> None:
    spec = make_twitter_archive(tmp_path / "big.zip", n_tweets=65_000, media_every=0,
                                record_posts=0, compresslevel=1)
    with zipfile.ZipFile(spec.path) as zf:
        size = zf.getinfo("data/tweets.js").file_size
    assert size > 45_000_000
    tracemalloc.start()
    try:
        count = 0
        for _ in iter_twitter_archive(spec.path):
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == spec.n_snapshots + 1
    assert peak < 4_000_000, f"peak {peak} bytes while streaming {size} bytes"
