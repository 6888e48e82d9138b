"""Long tweets ("note tweets"): their whole text, whatever their leading @mentions.

X keeps the full text of a tweet longer than 280 characters in ``note-tweet.js``, without
the tweet's id and without the leading ``@mentions`` of a reply; ``tweets.js`` holds the
text cut short. The expectations here come from reading the real exports directly (JSON
parsed in the test, notes paired with tweets by their snowflake ids' times), not from the
importer's code."""

from __future__ import annotations

import html
import json
import re
import zipfile
from pathlib import Path
from typing import Any

from shared_data import ARCHIVES
from unerased.importers import ImportNotice, iter_twitter_archive
from unerased.model import PostSnapshot

ALROCAR = ARCHIVES / "x-2024-alrocar" / "archive.zip"
RANI = ARCHIVES / "x-2025-ranigupta" / "archive.zip"


def _ytd(zf: zipfile.ZipFile, name: str) -> list[Any]:
    text = zf.read(name).decode("utf-8")
    return list(json.loads(text[text.index("=") + 1 :].strip().rstrip(";")))


def expected_long_texts(path: Path) -> dict[str, str]:
    """tweet id -> its whole text: the note created in the 100 ms before the tweet (a
    snowflake id's top bits are its creation time in ms), URLs expanded, and the leading
    @mentions the tweet shows put back in front."""
    with zipfile.ZipFile(path) as zf:
        notes = [n["noteTweet"] for n in _ytd(zf, "data/note-tweet.js")]
        tweets = [t["tweet"] for t in _ytd(zf, "data/tweets.js")]
    out: dict[str, str] = {}
    for n in notes:
        nms = int(n["noteTweetId"]) >> 22
        (tw,) = [t for t in tweets if 0 <= (int(t["id_str"]) >> 22) - nms <= 100]
        text = n["core"]["text"]
        for u in n["core"]["urls"]:
            text = text.replace(u["shortUrl"], u["expandedUrl"])
        shown = html.unescape(tw["full_text"])
        lead = re.match(r"(?:@\w+\s+)*", shown)
        assert lead is not None
        out[tw["id_str"]] = lead.group(0) + text if not text.startswith("@") else text
    return out


def imported(path: Path) -> tuple[dict[str, PostSnapshot], list[ImportNotice]]:
    posts: dict[str, PostSnapshot] = {}
    notices: list[ImportNotice] = []
    for s in iter_twitter_archive(path):
        if isinstance(s, PostSnapshot):
            posts[s.version_key or s.post_id] = s
        elif isinstance(s, ImportNotice):
            notices.append(s)
    return posts, notices


def test_ranigupta_long_reply_keeps_its_whole_text() -> None:
    want = expected_long_texts(RANI)
    assert list(want) == ["1995717789903192574"]
    posts, notices = imported(RANI)
    got = posts["1995717789903192574"]
    assert got.text == want["1995717789903192574"]
    assert got.text.startswith("@BeautyofIndia9 Banaras, a holy city")
    assert got.text.endswith("the beautiful Ganga Aarti.🙏")
    assert got.kind == "reply" and not notices


def test_alrocar_all_41_notes_whole_replies_included() -> None:
    want = expected_long_texts(ALROCAR)
    assert len(want) == 41
    posts, notices = imported(ALROCAR)
    assert not notices
    for tid, text in want.items():
        assert posts[tid].text == text, tid
    replies = [t for t in want if posts[t].kind == "reply" and posts[t].text.startswith("@")]
    assert replies == ["1760611342728208575"]
    assert posts["1760611342728208575"].text.startswith("@borlanco @Longor A tope con lo")
    # no other post got a note's text
    long_texts = set(want.values())
    assert sum(p.text in long_texts for p in posts.values()) == 41


def _tweet(tid: str, text: str, created: str, **extra: Any) -> dict[str, Any]:
    t = {"id_str": tid, "id": tid, "created_at": created, "full_text": text, "lang": "en",
         "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []}}
    t.update(extra)
    return {"tweet": t}


def _note(nid: str, created: str, text: str) -> dict[str, Any]:
    return {"noteTweet": {"noteTweetId": nid, "createdAt": created, "updatedAt": created,
                          "core": {"urls": [], "text": text, "mentions": [], "hashtags": []}}}


def _archive(path: Path, tweets: list[Any], notes: list[Any]) -> Path:
    acc = [{"account": {"accountId": "42", "username": "tester"}}]
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data/account.js", "window.YTD.account.part0 = " + json.dumps(acc))
        zf.writestr("data/tweets.js", "window.YTD.tweets.part0 = " + json.dumps(tweets))
        zf.writestr("data/note-tweet.js", "window.YTD.note_tweet.part0 = " + json.dumps(notes))
    return path


SNOW = 1_800_000_000_000_000_000  # a snowflake id of 2024


def _sid(ms: int) -> str:
    return str(SNOW + (ms << 22))


def test_reply_to_several_with_mentions_and_entities(tmp_path: Path) -> None:
    body = "Long story &amp; more. " * 20
    note_text = body.replace("&amp;", "&").strip() + " The end."
    created = "Mon Jan 01 10:00:00 +0000 2024"
    tw = _tweet(_sid(1030), "@alice @bob_2 " + body[:250] + "…", created,
                in_reply_to_status_id_str="1")
    p = _archive(tmp_path / "a.zip", [tw], [_note(_sid(1000), "2024-01-01T10:00:00.000Z",
                                                  note_text)])
    posts, notices = imported(p)
    assert posts[_sid(1030)].text == "@alice @bob_2 " + note_text and not notices


def test_ambiguous_notes_are_reported_not_guessed(tmp_path: Path) -> None:
    created = "Mon Jan 01 10:00:00 +0000 2024"
    start = "Same beginning for both of these long notes, written at once. " * 3
    a, b = start + "First ending.", start + "Second, other ending."
    tw = _tweet(_sid(3000), start[:180] + "…", created)
    p = _archive(tmp_path / "a.zip", [tw], [
        _note(_sid(2990), "2024-01-01T10:00:00.000Z", a),
        _note(_sid(2995), "2024-01-01T10:00:00.000Z", b),
    ])
    posts, notices = imported(p)
    assert posts[_sid(3000)].text == start[:180] + "…"  # what the tweet shows, never a guess
    (n,) = notices
    assert n.code == "note_ambiguous" and n.post_id == _sid(3000)
    assert "2 long texts" in n.message


def test_window_picks_the_note_made_with_the_tweet(tmp_path: Path) -> None:
    """Two notes that both extend the tweet's text: the one made in the same instant as
    the tweet (snowflake times 20 ms apart) is its own; the other, 4 s earlier, is not."""
    created = "Mon Jan 01 10:00:04 +0000 2024"
    start = "A thread opener that is long enough to be cut short by X itself. " * 3
    mine, other = start + "Mine, the longer ending of the two.", start + "Another."
    tw = _tweet(_sid(4020), start[:200] + "…", created)
    p = _archive(tmp_path / "a.zip", [tw], [
        _note(_sid(4000), "2024-01-01T10:00:04.000Z", mine),
        _note(_sid(100), "2024-01-01T10:00:03.000Z", other),
    ])
    posts, notices = imported(p)
    assert posts[_sid(4020)].text == mine and not notices


def test_short_tweet_beside_a_note_keeps_its_own_text(tmp_path: Path) -> None:
    created = "Mon Jan 01 10:00:00 +0000 2024"
    note_text = "Hello there, this is a long note that goes on and on. " * 8
    short = _tweet(_sid(500), "Hello there", created)
    own = _tweet(_sid(520), note_text[:250] + "…", created)
    p = _archive(tmp_path / "a.zip", [short, own],
                 [_note(_sid(505), "2024-01-01T10:00:00.000Z", note_text)])
    posts, _ = imported(p)
    assert posts[_sid(500)].text == "Hello there"
    assert posts[_sid(520)].text == note_text


def test_long_reply_is_found_by_its_ending(store: Any) -> None:
    from unerased.ingest import import_archive

    counts = import_archive(store, "twitter-archive", RANI)
    assert counts.posts == 337 and not counts.notices
    hits = store.search("Aarti")
    assert [h["post_id"] for h in hits] == ["1995717789903192574"]


def test_cli_summary_names_the_account_and_reports_the_ambiguity(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from unerased.cli import _register_more, cli

    _register_more()
    created = "Mon Jan 01 10:00:00 +0000 2024"
    start = "Same beginning for both of these long notes, written at once. " * 3
    p = _archive(tmp_path / "a.zip", [_tweet(_sid(3000), start[:180] + "…", created)], [
        _note(_sid(2990), "2024-01-01T10:00:00.000Z", start + "First ending."),
        _note(_sid(2995), "2024-01-01T10:00:00.000Z", start + "Second ending."),
    ])
    r = CliRunner().invoke(cli, ["--home", str(tmp_path / "h"), "import", "twitter-archive",
                                 str(p)], catch_exceptions=False)
    assert r.exit_code == 0
    assert r.stdout.startswith("imported a.zip (x:tester): 1 posts read, 1 new")
    assert "1 warning (below)" in r.stdout
    (warning,) = r.stderr.splitlines()
    assert warning.startswith("unerased: warning: tweet ") and "2 long texts" in warning
    r = CliRunner().invoke(cli, ["--home", str(tmp_path / "h2"), "import", "twitter-archive",
                                 str(p), "--json"], catch_exceptions=False)
    summary = json.loads(r.stdout)
    assert summary["account"] == "x:tester" and summary["accounts"] == ["tester"]
    assert [n["code"] for n in summary["notices"]] == ["note_ambiguous"]
    assert summary["notices"][0]["post_id"] == _sid(3000)


def test_ambiguity_reported_through_the_reader_process(tmp_path: Path,
                                                       monkeypatch: Any) -> None:
    from unerased import ingest
    from unerased.store import Store

    monkeypatch.setattr(ingest, "PIPELINE_MIN_BYTES", 0)
    created = "Mon Jan 01 10:00:00 +0000 2024"
    start = "Same beginning for both of these long notes, written at once. " * 3
    p = _archive(tmp_path / "a.zip", [_tweet(_sid(3000), start[:180] + "…", created)], [
        _note(_sid(2990), "2024-01-01T10:00:00.000Z", start + "First ending."),
        _note(_sid(2995), "2024-01-01T10:00:00.000Z", start + "Second ending."),
    ])
    st = Store.open(tmp_path / "home")
    try:
        counts = ingest.import_archive(st, "twitter-archive", p)
    finally:
        st.close()
    assert [(n.code, n.post_id) for n in counts.notices] == [("note_ambiguous", _sid(3000))]
