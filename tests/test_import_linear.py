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
