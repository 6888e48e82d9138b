"""Hostile input cannot make the importers quadratic: work and memory are measured at two
sizes (counted, never timed), and must grow linearly with the member (or stay flat).

- a tweets.js member of whitespace only: the bytes held back while looking for the end
  of the member used to be copied again with every chunk (32 MB: 16.8 s);
- one huge tweet, and whitespace inside one item: the fast JSON path scanned the whole
  item again with every 64 KiB chunk (a 50 MB tweet: 74 s, 1.55 GB);
- a CAR of small blocks: its block index (a dict of bytes and tuples) peaked at several
  times the file.
"""

from __future__ import annotations

import json
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from unerased.importers import (
    ArchiveError,
    _twitter_json,
    iter_bluesky_car,
    iter_twitter_archive,
)
from unerased.sim.archives_fedi import build_repo_car

ACCOUNT = b'window.YTD.account.part0 = [{"account": {"accountId": "42", "username": "t"}}]'
MB = 1 << 20


def _x_archive(path: Path, tweets_js: bytes) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:  # stored: no bomb ratio
        z.writestr("data/account.js", ACCOUNT)
        z.writestr("data/tweets.js", tweets_js)
    return path


def whitespace_member(n: int) -> bytes:
    return b"window.YTD.tweets.part0 = [" + b" " * n + b"]"


def whitespace_then_semicolons(n: int) -> bytes:
    return b"window.YTD.tweets.part0 = [ ]" + b";\n " * (n // 3)


def one_big_tweet(n: int) -> bytes:
    t = {"tweet": {"id_str": "1", "created_at": "Wed Oct 10 20:19:24 +0000 2018",
                   "full_text": "長" * (n // 3)}}
    return b"window.YTD.tweets.part0 = [" + json.dumps(t, ensure_ascii=False).encode() + b"]"


def whitespace_in_item(n: int) -> bytes:
    return (b'window.YTD.tweets.part0 = [{"tweet": {"id_str": "1",' + b" \n" * (n // 2)
            + b'"full_text": "x"}}]')


class _CountingScanner:
    """Wraps the fast path's JSON scanner: the characters each call may look at."""

    def __init__(self) -> None:
        self.chars = 0
        self._make = _twitter_json._scanner

    def __call__(self) -> Callable[[str, int], tuple[Any, int]]:
        scan = self._make()

        def counted(text: str, pos: int) -> tuple[Any, int]:
            self.chars += len(text) - pos
            return scan(text, pos)

        return counted


def _measure(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int, int]:
    """(snapshots, chars scanned, traced peak bytes) of importing ``path``."""
    counter = _CountingScanner()
    monkeypatch.setattr(_twitter_json, "_scanner", counter)
    tracemalloc.start()
    try:
        n = sum(1 for _ in iter_twitter_archive(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return n, counter.chars, peak


def test_whitespace_member_uses_flat_memory(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    small = _measure(_x_archive(tmp_path / "s.zip", whitespace_member(2 * MB)), monkeypatch)
    big = _measure(_x_archive(tmp_path / "b.zip", whitespace_member(8 * MB)), monkeypatch)
    assert small[0] == big[0] == 1  # the account; no tweet
    # four times the member, the same memory: nothing grows with the whitespace
    assert big[2] < small[2] + MB // 2, (small, big)
    assert big[2] < 6 * MB


def test_endless_semicolons_after_the_array_refused_in_flat_memory(tmp_path: Path) -> None:
    """``];`` then megabytes of ``;`` and newlines: not what X writes. Held back up to a
    limit (a real file ends in ``];`` and a newline), then refused in one line."""
    peaks = []
    for size in (2 * MB, 8 * MB):
        p = _x_archive(tmp_path / f"{size}.zip", whitespace_then_semicolons(size))
        tracemalloc.start()
        try:
            with pytest.raises(ArchiveError, match="trailing garbage") as e:
                list(iter_twitter_archive(p))
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert "\n" not in str(e.value)
    assert peaks[1] < peaks[0] + MB // 2, peaks


@pytest.mark.parametrize("make", [one_big_tweet, whitespace_in_item])
def test_one_huge_item_is_linear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 make: Callable[[int], bytes]) -> None:
    figures = []
    for size in (2 * MB, 8 * MB):
        member = make(size)
        n, chars, peak = _measure(_x_archive(tmp_path / f"{size}.zip", member), monkeypatch)
        assert n == 2
        figures.append((len(member), chars, peak))
    for length, chars, peak in figures:
        # the item is scanned a bounded number of times (the window doubles), and held a
        # bounded number of times (window, decoded text; one CJK char is 3 bytes)
        assert chars <= 3 * length, figures
        assert peak <= 4 * length, figures
    (l1, c1, _), (l2, c2, _) = figures
    assert c2 / l2 <= 1.5 * (c1 / l1), figures  # not growing with the size


def _tiny_records_car(path: Path, n: int) -> Path:
    records: dict[str, dict[str, Any]] = {
        f"app.example.tiny/{i:013d}": {"n": i} for i in range(n)}
    records["app.bsky.feed.post/3kaaaaaaaaaa2"] = {
        "$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2024-01-01T00:00:00Z"}
    path.write_bytes(build_repo_car("did:plc:abcdefghijklmnopqrstuvwx", records).car)
    return path


def _peak(it: Callable[[], Iterator[Any]]) -> tuple[int, int]:
    tracemalloc.start()
    try:
        n = sum(1 for _ in it())
        return n, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_car_of_small_blocks_indexed_within_the_file_size(tmp_path: Path) -> None:
    ratios = []
    for n in (5_000, 20_000):
        car = _tiny_records_car(tmp_path / f"{n}.car", n)
        snapshots, peak = _peak(lambda car=car: iter_bluesky_car(car))  # type: ignore[misc]
        assert snapshots == 2  # the account and its one post; the rest is not a post
        ratios.append(peak / car.stat().st_size)
    assert max(ratios) <= 2.0, ratios  # the dict index peaked at ~2.5x here, 7.5x on others
    assert ratios[1] <= ratios[0] * 1.25, ratios


# --- the ijson paths: Mastodon's outbox, and X members the fast path hands to ijson ---------


def _masto_archive(path: Path, outbox: bytes) -> Path:
    actor = {"id": "https://ex.org/users/a", "preferredUsername": "a"}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("actor.json", json.dumps(actor))
        z.writestr("outbox.json", outbox)
    return path


def _masto_long_status(n: int) -> bytes:
    item = {"type": "Create", "id": "https://ex.org/users/a/statuses/1/activity",
            "object": {"type": "Note", "id": "https://ex.org/users/a/statuses/1",
                       "content": "<p>" + "长" * (n // 3) + "</p>",
                       "published": "2024-01-01T00:00:00Z"}}
    return json.dumps({"orderedItems": [item]}, ensure_ascii=False).encode()


def _yajl_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the reads ijson's parser makes (yajl's cost for a token spanning k
    reads grows with k²: few, big reads keep it linear)."""
    import ijson

    sizes: list[int] = []
    real = ijson.basic_parse

    def spy(source: Any, **kw: Any) -> Any:
        inner = source.read

        def read(n: int = -1) -> bytes:
            data: bytes = inner(n)
            sizes.append(len(data))
            return data

        source.read = read
        return real(source, **kw)

    from unerased.importers import mastodon

    monkeypatch.setattr(mastodon.ijson, "basic_parse", spy)
    return sizes


def test_mastodon_long_status_is_read_in_few_big_pieces(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from unerased.importers import iter_mastodon_archive

    for size in (2 * MB, 8 * MB):
        sizes = _yajl_reads(monkeypatch)
        p = _masto_archive(tmp_path / f"{size}.zip", _masto_long_status(size))
        tracemalloc.start()
        try:
            assert sum(1 for _ in iter_mastodon_archive(p)) == 2
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        # the 64 KiB reads of before made yajl re-lex the status ~size/64K times over
        assert len([s for s in sizes if s]) <= size // MB + 2, sizes
        assert peak <= 4 * size


def test_mastodon_string_and_number_caps(tmp_path: Path) -> None:
    from unerased.importers import iter_mastodon_archive
    from unerased.importers.mastodon import MAX_STRING_BYTES

    huge = _masto_archive(tmp_path / "s.zip", _masto_long_status(MAX_STRING_BYTES + 4 * MB))
    with pytest.raises(ArchiveError, match="JSON string is longer than 16 MiB"):
        list(iter_mastodon_archive(huge))
    number = _masto_archive(tmp_path / "n.zip",
                            b'{"orderedItems": [{"type": "Create", "n": ' + b"7" * (4 * MB)
                            + b"}]}")
    with pytest.raises(ArchiveError, match="JSON number is longer than"):
        list(iter_mastodon_archive(number))


def test_x_member_on_the_ijson_path_is_linear(tmp_path: Path) -> None:
    """A lone surrogate escape sends the member to ijson; a long number is refused."""
    peaks = []
    for size in (2 * MB, 8 * MB):
        body = (b'window.YTD.tweets.part0 = [{"tweet": {"id_str": "1", "full_text": "'
                + b"a" * size + b'\\ud800"}}]')
        p = _x_archive(tmp_path / f"{size}.zip", body)
        tracemalloc.start()
        try:
            (_, tweet) = list(iter_twitter_archive(p))
            peaks.append(tracemalloc.get_traced_memory()[1] / size)
        finally:
            tracemalloc.stop()
        assert len(tweet.text) == size + 1  # type: ignore[union-attr]
    # yajl's token buffer (doubling), the decoded text, the fast path's attempt before it
    # gave up: a fixed multiple of the item (itself capped at MAX_ITEM_BYTES), not growing
    assert max(peaks) <= 12 and peaks[1] <= peaks[0] * 1.2, peaks
    number = _x_archive(tmp_path / "n.zip", b'window.YTD.tweets.part0 = [{"tweet": {"n": '
                        + b"1" * (4 * MB) + b"}}]")
    with pytest.raises(ArchiveError, match="JSON number is longer than"):
        list(iter_twitter_archive(number))
