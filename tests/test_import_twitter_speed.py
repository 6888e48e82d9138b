"""The fast X archive importer against the previous implementation, kept verbatim in
tests/_twitter_reference.py as the oracle: same snapshots in the same order, same
progress calls, same error (message and byte offset) after the same snapshots, on
generated archives of every layout and on hand-made hostile tweets files (JSON that
the C json scanner and yajl/ijson read differently, errors near chunk boundaries)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import _twitter_reference as reference  # tests/ is on sys.path (rootdir conftest)
from unerased.errors import ArchiveError
from unerased.importers.twitter import iter_twitter_archive
from unerased.sim.archives import make_twitter_archive

Importer = Callable[..., Iterator[Any]]
CHUNK = 1 << 16


def run(importer: Importer, path: Path, **kw: Any) -> tuple[list[Any], list[tuple[int, int]], str | None]:
    """Everything the importer hands out: snapshots, progress calls, final error."""
    calls: list[tuple[int, int]] = []
    out: list[Any] = []
    error = None
    try:
        for snap in importer(path, progress=lambda d, t: calls.append((d, t)), **kw):
            out.append(snap)
    except ArchiveError as e:
        error = str(e)
    return out, calls, error


def same(path: Path, **kw: Any) -> tuple[list[Any], str | None]:
    new = run(iter_twitter_archive, path, **kw)
    old = run(reference.iter_twitter_archive, path, **kw)
    assert new[2] == old[2]
    assert len(new[0]) == len(old[0])
    for a, b in zip(new[0], old[0], strict=True):
        assert a == b
        assert type(a) is type(b)
    assert new[1] == old[1]
    return new[0], new[2]


# --- generated archives -------------------------------------------------------------------


@pytest.mark.parametrize("kw", [
    {"n_tweets": 3000, "seed": 1},
    {"n_tweets": 2500, "seed": 2, "parts": 3, "edits_every": 7, "deleted": 40, "note_tweets": 12},
    {"n_tweets": 2000, "seed": 3, "old_layout": True},
    {"n_tweets": 1500, "seed": 4, "media_every": 3, "cjk_ratio": 1.0, "edits_every": 5},
    {"n_tweets": 1200, "seed": 5, "cjk_ratio": 0.0, "media_every": 0, "edits_every": 0,
     "deleted": 0, "note_tweets": 0},
    {"n_tweets": 0, "seed": 6},
])
def test_generated_archives_identical(tmp_path: Path, kw: dict[str, Any]) -> None:
    p = tmp_path / "a.zip"
    spec = make_twitter_archive(p, **kw)
    snaps, error = same(p)
    assert error is None
    assert len(snaps) == spec.n_snapshots + 1


def test_generated_archive_identical_with_small_media_cap(tmp_path: Path) -> None:
    p = tmp_path / "a.zip"
    make_twitter_archive(p, n_tweets=800, seed=7, media_every=2)
    snaps, error = same(p, max_media_size=100)
    assert error is None and len(snaps) > 800


# --- hand-made tweets files -------------------------------------------------------------


ACCOUNT = b'window.YTD.account.part0 = [{"account": {"accountId": "42", "username": "tester"}}]'


def tweet(i: int, text: str = "hello", **extra: Any) -> dict[str, Any]:
    t: dict[str, Any] = {"id_str": str(10**17 + i), "full_text": f"{text} {i}",
                         "created_at": "Wed Oct 10 20:19:24 +0000 2018",
                         "entities": {"urls": [], "hashtags": []}, "lang": "en"}
    t.update(extra)
    return {"tweet": t}


def body_of(items: list[Any], indent: int | None = 2) -> bytes:
    return b"window.YTD.tweets.part0 = " + json.dumps(items, indent=indent).encode()


def archive(path: Path, tweets: bytes, notes: bytes | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data/account.js", ACCOUNT)
        zf.writestr("data/tweets.js", tweets)
        if notes is not None:
            zf.writestr("data/note-tweet.js", notes)
    return path


MANY = body_of([tweet(i, "推特 text " * 8) for i in range(700)])  # about 190 KB: 3 chunks
SPLICES = [
    b"@@@", b"\x0c", b"\x0b", b"NaN", b"-Infinity", b"1e999", b"01", b"1.", b"tru", b"[",
    b"]", b"}", b",", b'"', b"\\", b"\xff", b"\xed\xa0\x80", b"/* c */", b"\x00",
]


@pytest.mark.parametrize("splice", SPLICES)
@pytest.mark.parametrize("where", ["start", "chunk-1", "chunk", "chunk+1", "late"])
def test_damage_anywhere_same_error_after_same_snapshots(
        tmp_path: Path, splice: bytes, where: str) -> None:
    at = {"start": 40, "chunk-1": CHUNK - 1, "chunk": CHUNK, "chunk+1": CHUNK + 1,
          "late": len(MANY) - 300}[where]
    p = archive(tmp_path / "a.zip", MANY[:at] + splice + MANY[at:])
    same(p)


@pytest.mark.parametrize("value", [
    "1e5", "-0", "-0.0", "0.1", "12345678901234567890", "9223372036854775807",
    "-9223372036854775808", "9223372036854775806", "1E+2", "2.5e-400", "1e400", "3.14",
    "true", "null", '"\\ud83d\\ude00"', '"\\ud800"', '"\\udc00x"', '"\\ud800\\u0041"',
    '"\\\\ud800"', '"a\\u0000b"', '"\\u2028"', "[]", "{}", '{"a": 1, "a": 2}',
])
@pytest.mark.parametrize("where", ["first", "mid", "last"])
def test_values_read_alike(tmp_path: Path, value: str, where: str) -> None:
    items = [json.dumps(tweet(i)) for i in range(400)]
    k = {"first": 0, "mid": 237, "last": 399}[where]
    items[k] = items[k][:-2] + f', "extra": {value}' + "}}"
    p = archive(tmp_path / "a.zip", b"window.YTD.tweets.part0 = [" + ",\n".join(items).encode()
                + b"]")
    same(p)


@pytest.mark.parametrize("tail", [
    b"]", b"] ;\n", b"]\n\n;;", b"] x", b"]]", b"]\x0c", b"", b",", b", ]", b"\n",
])
def test_endings(tmp_path: Path, tail: bytes) -> None:
    body = body_of([tweet(i) for i in range(300)])
    assert body.endswith(b"]")
    same(archive(tmp_path / "a.zip", body[:-1] + tail))


@pytest.mark.parametrize("items", [
    b"[]", b"[ ]", b"[1]", b"[1, 2]", b'["x"]', b"[null]", b"[[]]", b"[{}]", b"[-1]",
    b"[1.5 ]", b"[true,false]", b"[\n]", b"[\x0c]", b"[ 123",
])
def test_odd_top_level_items(tmp_path: Path, items: bytes) -> None:
    same(archive(tmp_path / "a.zip", b"window.YTD.tweets.part0 = " + items))
    notes = b"window.YTD.note_tweet.part0 = " + items
    same(archive(tmp_path / "n.zip", body_of([tweet(1)]), notes=notes))


@pytest.mark.parametrize("offset", range(-6, 7))
def test_numbers_and_escapes_across_the_chunk_boundary(tmp_path: Path, offset: int) -> None:
    # a top-level number, a literal and an escape cut by the 64 KiB window edge
    head = b"window.YTD.tweets.part0 = ["
    for filler in (b'"\\u00e9\\ud83d\\ude00"', b"12345678", b"true", b"-0.5"):
        pad = json.dumps({"tweet": {"id_str": "1", "full_text": "x" * 100}}).encode()
        items = [pad] * ((CHUNK - len(head)) // (len(pad) + 2))
        body = head + b", ".join(items)
        gap = CHUNK - len(body) + offset - 2
        body += b", " + b'{"tweet": {"id_str": "2", "full_text": "' + b"y" * max(gap - 40, 0) \
            + b'", "z": ' + filler + b"}}, " + filler + b"]"
        same(archive(tmp_path / "a.zip", body))


def test_deep_nesting_and_huge_item_guards(tmp_path: Path) -> None:
    good = body_of([tweet(i) for i in range(200)])[:-1]
    for tail in (b", " + b"[" * 300, b', {"a": ' * 400, b", [" + b"1," * 20 + b"[" * 260):
        _, error = same(archive(tmp_path / "a.zip", good + tail))
        assert error is not None and "nested deeper than 256" in error


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_damage(tmp_path: Path, data: st.DataObject) -> None:
    body = bytearray(MANY)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(26, len(body) - 1))
        op = data.draw(st.sampled_from(["set", "insert", "delete"]))
        byte = data.draw(st.sampled_from(b' \t\n\r\x0c,:[]{}"\\0123456789-+.eEtrufalsn\xff\xc3'))
        if op == "set":
            body[i] = byte
        elif op == "insert":
            body.insert(i, byte)
        else:
            del body[i]
    same(archive(tmp_path / "a.zip", bytes(body)))


def test_fast_path_is_taken_on_a_real_layout(tmp_path: Path) -> None:
    from unerased.importers import _twitter_json as tj
    from unerased.importers.safezip import SafeZip
    p = tmp_path / "a.zip"
    make_twitter_archive(p, n_tweets=1500, seed=8)
    with SafeZip(p) as zf:
        stream = tj._YtdStream(zf, "data/tweets.js")
        assert sum(1 for _ in tj._fast(stream)) == 1500  # no hand-over to ijson
        stream.close()
