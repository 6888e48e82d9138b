"""Every real export in the shared test data imports whole.

Each export is imported with the command line (``unerased import … --json``) into a home
of its own, then read back through the store's post listing, and compared with an
INDEPENDENT reading of the export done here: the JSON parsed with the standard library,
the CAR decoded by ``libipld.decode_car`` and its tree walked here, notes paired with
tweets by their snowflake times — never the importers' own code. Counts, texts, dates,
links, versions (edit chains), deleted tweets, reposts, replies, quotes and media.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import libipld
import pytest
from click.testing import CliRunner

from shared_data import ARCHIVES
from unerased.cli import _register_more, cli
from unerased.store import Store

_register_more()

FOLDERS = sorted(p.name for p in ARCHIVES.iterdir() if p.is_dir())


@dataclass
class Post:
    texts: list[str]  # every version, oldest first
    created_at: datetime | None
    status: str = "present"
    kind: str | None = None  # when the export says (repost, reply…)
    reply_to: str | None = None
    repost_of: str | None = None
    quote_of: str | None = None
    media_sha256: set[str] = field(default_factory=set)  # files the export carries
    edited_at: list[datetime | None] | None = None


@dataclass
class Expected:
    kind: str  # the import command
    account: str  # canonical form the summary must name
    posts: dict[str, Post]


def export_file(folder: str) -> Path:
    (f,) = [p for p in (ARCHIVES / folder).iterdir() if p.name != "PROVENANCE.md"]
    return f


def _iso_dt(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


# --------------------------------------------------------------------------- X


def _ytd(zf: zipfile.ZipFile, name: str) -> list[Any]:
    if name not in zf.namelist():
        return []
    text = zf.read(name).decode("utf-8-sig")
    return list(json.loads(text[text.index("=") + 1 :].strip().rstrip(";")))


def _x_date(value: str) -> datetime:
    return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)


def _expand(text: str, urls: list[dict[str, Any]]) -> str:
    for u in urls:
        text = text.replace(u.get("url") or u["shortUrl"], u.get("expanded_url") or
                            u["expandedUrl"])
    return text


def expect_x(path: Path) -> Expected:
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        tweets = [t.get("tweet", t) for f in ("data/tweets.js", "data/tweet.js")
                  for t in _ytd(zf, f)]
        deleted = [t.get("tweet", t) for t in _ytd(zf, "data/deleted-tweets.js")]
        notes = [n["noteTweet"] for n in _ytd(zf, "data/note-tweet.js")]
        account = _ytd(zf, "data/account.js")[0]["account"]
        media: dict[str, set[str]] = {}
        for n in names:
            m = re.fullmatch(r"data/(deleted_)?tweets?_media/([0-9]+)-.+", n)
            if m:
                key = ("D" if m.group(1) else "") + m.group(2)
                media.setdefault(key, set()).add(hashlib.sha256(zf.read(n)).hexdigest())
    by_ms = {int(n["noteTweetId"]) >> 22: n for n in notes}
    posts: dict[str, Post] = {}
    chains: dict[str, list[dict[str, Any]]] = {}
    for t, gone in [(t, False) for t in tweets] + [(t, True) for t in deleted]:
        edit = t.get("edit_info", {}).get("edit")
        chains.setdefault(edit["initialTweetId"] if edit else t["id_str"], []).append(
            {**t, "_gone": gone})
    for pid, versions in chains.items():
        versions.sort(key=lambda v: int(v["id_str"]))
        texts = []
        for v in versions:
            shown = _expand(html.unescape(v["full_text"]), v["entities"]["urls"])
            ms = int(v["id_str"]) >> 22
            note = next((by_ms[m] for m in range(ms - 100, ms + 1) if m in by_ms), None)
            if note is not None:
                lead = re.match(r"(?:@\w+\s+)*", shown)
                assert lead is not None
                shown = lead.group(0) + _expand(note["core"]["text"], note["core"]["urls"])
            texts.append(shown)
        first = versions[0]
        gone = versions[-1]["_gone"]
        raw = first["full_text"]
        urls = first["entities"]["urls"]
        quote = None
        if urls and not raw.startswith("RT @"):
            m = re.match(r"https?://(?:www\.)?(?:twitter|x)\.com/(?!i/)\w+/status/([0-9]+)",
                         urls[-1]["expanded_url"])
            if m and raw.rstrip().endswith(urls[-1]["url"]):
                quote = m.group(1)
        files = set().union(*(media.get(("D" if gone else "") + v["id_str"], set())
                              for v in versions))
        posts[pid] = Post(
            texts=texts, created_at=_x_date(first["created_at"]),
            status="deleted" if gone else "present",
            kind="repost" if raw.startswith("RT @") else (
                "reply" if first.get("in_reply_to_status_id_str") else None),
            reply_to=first.get("in_reply_to_status_id_str"), quote_of=quote,
            media_sha256=files,
            edited_at=[None] + [_x_date(v["created_at"]) for v in versions[1:]],
        )
    return Expected("twitter-archive", f"x:{account['username']}", posts)


def expect_x_classic(path: Path) -> Expected:
    with zipfile.ZipFile(path) as zf:
        tweets: list[dict[str, Any]] = []
        for n in sorted(n for n in zf.namelist() if n.startswith("data/js/tweets/")):
            tweets += json.loads(zf.read(n).decode("utf-8").split("=", 1)[1])
        user = json.loads(zf.read("data/js/user_details.js").decode("utf-8").split("=", 1)[1])
    posts = {}
    for t in tweets:
        rt = t.get("retweeted_status")
        posts[t["id_str"]] = Post(
            texts=[_expand(html.unescape(t["text"]), t["entities"]["urls"])],
            created_at=datetime.strptime(t["created_at"], "%Y-%m-%d %H:%M:%S %z").astimezone(UTC),
            kind="repost" if rt else ("reply" if t.get("in_reply_to_status_id_str") else None),
            reply_to=None if rt else t.get("in_reply_to_status_id_str"),
            repost_of=rt["id_str"] if rt else None,
        )
    return Expected("twitter-archive", f"x:{user['screen_name']}", posts)


# --------------------------------------------------------------------------- Mastodon


def _html_text(value: str) -> str:
    value = re.sub(r"<br\s*/?>|</p>", " ", value)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", value)).split())


def expect_mastodon(path: Path) -> Expected:
    with zipfile.ZipFile(path) as zf:
        outbox = json.loads(zf.read("outbox.json"))
        actor = json.loads(zf.read("actor.json"))
        members = {n: hashlib.sha256(zf.read(n)).hexdigest() for n in zf.namelist()
                   if n.startswith("media_attachments/")}
    own = actor["id"] + "/statuses/"
    host = re.match(r"https?://([^/]+)/", actor["id"])
    assert host is not None

    def ref(uri: str | None) -> str | None:
        if uri and uri.startswith(own):
            return uri[len(own):].removesuffix("/activity")
        return uri

    posts = {}
    for item in outbox["orderedItems"]:
        if item["type"] == "Announce":
            posts[ref(item["id"]) or ""] = Post(texts=[""], created_at=_iso_dt(item["published"]),
                                                kind="repost", repost_of=ref(item["object"]))
            continue
        obj = item["object"]
        parts = [obj.get("summary") or "", _html_text(obj.get("content") or "")]
        parts += [f"- {o['name']}" for o in obj.get("oneOf", []) + obj.get("anyOf", [])]
        files = set()
        for att in obj.get("attachment", []):
            rel = re.sub(r"^(?:https?://[^/]+)?/?(?:system/)?", "", att.get("url") or "")
            if rel in members:
                files.add(members[rel])
        posts[ref(obj["id"]) or ""] = Post(
            texts=[" ".join(" ".join(p for p in parts if p).split())],
            created_at=_iso_dt(obj["published"]),
            kind="reply" if obj.get("inReplyTo") else None, reply_to=ref(obj.get("inReplyTo")),
            quote_of=ref(obj.get("quote")), media_sha256=files,
            edited_at=[_iso_dt(obj["updated"]) if obj.get("updated") else None],
        )
    return Expected("mastodon-archive",
                    f"mastodon:@{actor['preferredUsername']}@{host.group(1)}", posts)


# --------------------------------------------------------------------------- Bluesky


def _walk(blocks: dict[Any, Any], cid: Any) -> list[tuple[str, Any]]:
    node = blocks[cid]
    out: list[tuple[str, Any]] = []
    if node.get("l") is not None:
        out += _walk(blocks, node["l"])
    prev = b""
    for e in node["e"]:
        key = prev[: e["p"]] + e["k"]
        prev = key
        out.append((key.decode(), e["v"]))
        if e.get("t") is not None:
            out += _walk(blocks, e["t"])
    return out


def expect_bluesky(path: Path) -> Expected:
    header, blocks = libipld.decode_car(path.read_bytes())
    commit = blocks[header["roots"][0]]
    did = commit["did"]
    posts = {}
    for key, cid in _walk(blocks, commit["data"]):
        coll, _, rkey = key.partition("/")
        if coll not in ("app.bsky.feed.post", "app.bsky.feed.repost"):
            continue
        rec = blocks[cid]
        uri = f"at://{did}/{key}"
        created = _iso_dt(rec["createdAt"])
        if coll == "app.bsky.feed.repost":
            posts[uri] = Post(texts=[""], created_at=created, kind="repost",
                              repost_of=rec["subject"]["uri"])
            continue
        reply = rec.get("reply")
        embed = rec.get("embed") or {}
        quote = None
        if embed.get("$type") == "app.bsky.embed.record":
            quote = embed["record"]["uri"]
        elif embed.get("$type") == "app.bsky.embed.recordWithMedia":
            quote = embed["record"]["record"]["uri"]
        posts[uri] = Post(texts=[rec.get("text", "")], created_at=created,
                          kind="reply" if reply else None,
                          reply_to=reply["parent"]["uri"] if reply else None, quote_of=quote)
    return Expected("bluesky-car", f"bluesky:{did}", posts)


def expect(folder: str) -> Expected:
    path = export_file(folder)
    readers: dict[str, Callable[[Path], Expected]] = {
        "x-2019": expect_x_classic, "x-": expect_x, "mastodon-": expect_mastodon,
        "bluesky-": expect_bluesky}
    return next(fn(path) for prefix, fn in readers.items() if folder.startswith(prefix))


# --------------------------------------------------------------------------- the checks


def cli_import(home: Path, kind: str, path: Path) -> dict[str, Any]:
    r = CliRunner().invoke(cli, ["--home", str(home), "import", kind, str(path), "--json"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    (summary,) = [json.loads(line) for line in r.stdout.splitlines()]
    return dict(summary)


def stored(home: Path) -> dict[str, dict[str, Any]]:
    st = Store.open(home)
    try:
        return {p["post_id"]: p for p in st.iter_posts()}
    finally:
        st.close()


def check(want: dict[str, Post], got: dict[str, dict[str, Any]], folder: str) -> None:
    assert set(got) == set(want), (folder, len(got), len(want))
    for pid, w in want.items():
        g = got[pid]
        texts = [v["text"] for v in g["versions"]]
        if folder.startswith("mastodon-"):
            texts = [" ".join(t.split()) for t in texts]
        assert texts == w.texts, (folder, pid)
        assert _iso_dt(g["created_at"]) == w.created_at, (folder, pid)
        assert g["created_at"].endswith("Z"), (folder, pid)  # stored in UTC (-07:00 too)
        assert g["status"] == w.status, (folder, pid)
        if w.kind is not None:
            assert g["kind"] == w.kind, (folder, pid)
        else:
            assert g["kind"] in ("post", "quote"), (folder, pid)
        assert g["reply_to"] == w.reply_to, (folder, pid)
        if w.repost_of is not None:  # (X's own reposts name the original only in media)
            assert g["repost_of"] == w.repost_of, (folder, pid)
        if w.quote_of is not None:  # a reply may quote too: it stays a reply
            assert g["quote_of"] == w.quote_of, (folder, pid)
            assert g["kind"] == ("reply" if w.reply_to else "quote"), (folder, pid)
        shas = {m["sha256"] for m in g["media"]}
        assert w.media_sha256 <= shas, (folder, pid)
        if w.edited_at is not None:
            assert [None if v["edited_at"] is None else _iso_dt(v["edited_at"])
                    for v in g["versions"]] == w.edited_at, (folder, pid)


README_POSTS = {  # the table of the shared archives' README (and each PROVENANCE)
    "x-2026-milahu": 2092, "x-2026-milahu-earlier": 1241, "x-2025-ranigupta": 337,
    "x-2024-alrocar": 1218, "x-2020-e31415926": 1163, "x-2020-lumeninferius": 22,
    "x-2019-classic-brenden": 3313, "mastodon-2025-goija": 305,
    "mastodon-2023-dealingwith": 1586, "mastodon-2021-o3o": 1476,
    "bluesky-2025-bnewbold": 24, "bluesky-2024-atproto-dart": 97,
    "bluesky-2022-paul-staging": 116, "bluesky-2023-indigo-small": 5,
    "bluesky-2023-greenground": 0,
}


@pytest.mark.parametrize("folder", [f for f in FOLDERS if f != "bluesky-2023-repo-slice"])
def test_export_imports_whole(folder: str, tmp_path: Path) -> None:
    want = expect(folder)
    assert len(want.posts) == README_POSTS[folder]
    home = tmp_path / "home"
    summary = cli_import(home, want.kind, export_file(folder))
    assert summary["account"] == want.account
    assert summary["account_uris"] == [want.account]  # the same canonical form
    assert summary["posts"] == sum(len(p.texts) for p in want.posts.values())
    assert summary["new_posts"] == len(want.posts)
    assert summary["deleted"] == sum(len(p.texts) for p in want.posts.values()
                                     if p.status == "deleted")
    assert summary["notices"] == []
    check(want.posts, stored(home), folder)
    again = cli_import(home, want.kind, export_file(folder))
    assert (again["new_posts"], again["new_versions"]) == (0, 0)


def test_the_exports_particulars() -> None:
    """What the README says each export exercises, read independently."""
    alrocar = expect("x-2024-alrocar").posts
    assert sum(len(p.texts) == 2 for p in alrocar.values()) == 5  # five edit chains
    assert sum(len(p.texts) for p in alrocar.values()) == 1223
    assert sum(p.kind == "reply" for p in alrocar.values()) == 819
    assert max(len(t) for p in alrocar.values() for t in p.texts) > 1000  # whole notes
    milahu = expect("x-2026-milahu").posts
    assert sum(p.status == "deleted" for p in milahu.values()) == 47
    with_files = [p for p in milahu.values() if p.media_sha256]
    assert len(with_files) == 5  # four in tweets_media/, one in deleted_tweets_media/
    assert len({s for p in with_files for s in p.media_sha256}) == 4  # one picture, two tweets
    assert sum(p.status == "deleted" for p in with_files) == 1
    rani = expect("x-2025-ranigupta").posts
    assert sum(p.status == "deleted" for p in rani.values()) == 2
    japanese = expect("x-2020-e31415926").posts
    assert sum(bool(re.search(r"[\u3040-\u30ff]", p.texts[0])) for p in japanese.values()) > 500
    o3o = expect("mastodon-2021-o3o").posts
    assert sum(bool(re.search(r"[\u4e00-\u9fff]", p.texts[0])) for p in o3o.values()) > 1000
    assert sum(p.kind == "repost" for p in o3o.values()) == 51
    assert sum(len(p.media_sha256) for p in o3o.values()) == 3
    goija = expect("mastodon-2025-goija").posts
    assert sum(p.quote_of is not None for p in goija.values()) == 2
    dart = expect("bluesky-2024-atproto-dart").posts
    assert sum(p.kind == "repost" for p in dart.values()) == 60
    small = expect("bluesky-2023-indigo-small")
    raw = libipld.decode_car(export_file("bluesky-2023-indigo-small").read_bytes())[1]
    assert sum(isinstance(b, dict) and str(b.get("createdAt", "")).endswith("-07:00")
               for b in raw.values()) == 5
    assert all(p.created_at is not None and p.created_at.tzinfo is UTC
               for p in small.posts.values())


def test_x_milahu_earlier_then_later_merge(tmp_path: Path) -> None:
    early, late = expect("x-2026-milahu-earlier"), expect("x-2026-milahu")
    home = tmp_path / "home"
    first = cli_import(home, "twitter-archive", export_file("x-2026-milahu-earlier"))
    second = cli_import(home, "twitter-archive", export_file("x-2026-milahu"))
    assert first["new_posts"] == 1241
    assert second["new_posts"] == 2143 - 1241 and second["new_versions"] == 2143 - 1241
    got = stored(home)
    assert len(got) == 2143
    assert sum(p["status"] == "deleted" for p in got.values()) == 98
    both = {**early.posts, **late.posts}  # the newer export's reading wins where both have it
    check(both, got, "x-2026-milahu (merged)")


def test_broken_slice_is_one_line_exit_1_nothing_written(tmp_path: Path) -> None:
    path = export_file("bluesky-2023-repo-slice")
    with pytest.raises(KeyError):  # the independent reading finds blocks missing too
        expect_bluesky(path)
    home = tmp_path / "home"
    r = CliRunner().invoke(cli, ["--home", str(home), "import", "bluesky-car", str(path)])
    assert r.exit_code == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("unerased: error: ")
    assert "repo.car" in lines[0] and "missing" in lines[0] and "Traceback" not in r.output
    st = Store.open(home)
    try:
        assert st.ledger_size() == 0 and list(st.iter_posts()) == []
    finally:
        st.close()
