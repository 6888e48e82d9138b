"""The two-process import (a reader process parses and prepares, this one writes) gives
exactly what the one-process import gives, and fails as cleanly."""

from __future__ import annotations

import os
import signal
import zipfile
from pathlib import Path

import pytest

from unerased import ingest
from unerased.errors import ArchiveError, UnerasedError
from unerased.export import run_export
from unerased.sim.archives import make_twitter_archive
from unerased.store import Store


def _export(store: Store, out: Path) -> list[str]:
    run_export(store, "jsonl", out)
    lines = out.read_text(encoding="utf-8").splitlines()
    return sorted(lines)


def test_pipelined_import_equals_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            db_url: str | None) -> None:
    arch = tmp_path / "a.zip"
    make_twitter_archive(arch, n_tweets=400, seed=5, media_every=9, edits_every=13)
    one = Store.open(tmp_path / "one")
    c1 = ingest.import_archive(one, "twitter-archive", arch)
    monkeypatch.setattr(ingest, "PIPELINE_MIN_BYTES", 0)
    calls: list[int] = []
    real = ingest._start_reader

    def spy(*a: object, **k: object) -> object:
        calls.append(1)
        return real(*a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest, "_start_reader", spy)
    two = Store.open(tmp_path / "two", db_url)
    seen: list[tuple[int, int | None]] = []
    c2 = ingest.import_archive(two, "twitter-archive", arch,
                               progress=lambda d, t: seen.append((d, t)))
    assert calls == [1]
    assert c1.as_dict() == c2.as_dict()
    assert seen and seen[-1][0] == seen[-1][1]  # progress reached the end
    a, b = _export(one, tmp_path / "1.jsonl"), _export(two, tmp_path / "2.jsonl")
    strip = lambda rows: [r.replace('"id":', '"_":') for r in rows]  # noqa: E731
    assert len(a) == len(b) == c1.new_posts
    assert strip(a) == strip(b)
    one.close()
    two.close()


def test_pipelined_bad_archive_raises_and_writes_nothing(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    arch = tmp_path / "a.zip"
    make_twitter_archive(arch, n_tweets=200, seed=2)
    with zipfile.ZipFile(arch) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["data/tweets.js"] = members["data/tweets.js"][:-300] + b"{{ broken"
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    monkeypatch.setattr(ingest, "PIPELINE_MIN_BYTES", 0)
    st = Store.open(tmp_path / "h")
    with pytest.raises(ArchiveError, match=r"data/tweets.js: (malformed JSON|JSON ends early) at byte"):
        ingest.import_archive(st, "twitter-archive", bad)
    assert list(st.iter_posts()) == [] and st.ledger_size() == 0
    st.close()


def test_reader_started_early_store_opened_late(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI starts the reader before its progress thread (so it forks) and opens the
    store while the archive is parsed."""
    arch = tmp_path / "a.zip"
    make_twitter_archive(arch, n_tweets=300, seed=3)
    monkeypatch.setattr(ingest, "PIPELINE_MIN_BYTES", 0)
    reading = ingest.start_reading("twitter-archive", arch)
    assert reading._proc is not None
    opened: list[Store] = []

    def open_store() -> Store:
        opened.append(Store.open(tmp_path / "h"))
        return opened[0]

    counts = ingest.import_archive(open_store, "twitter-archive", arch, reading=reading)
    reading.close()  # again: harmless
    assert len(opened) == 1 and counts.new_posts > 250
    assert len(list(opened[0].iter_posts())) == counts.new_posts
    opened[0].close()


def test_store_that_cannot_open_stops_the_reader(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    arch = tmp_path / "a.zip"
    make_twitter_archive(arch, n_tweets=300, seed=3)
    monkeypatch.setattr(ingest, "PIPELINE_MIN_BYTES", 0)
    reading = ingest.start_reading("twitter-archive", arch)
    proc = reading._proc

    def no_store() -> Store:
        raise RuntimeError("database unreachable")

    with pytest.raises(RuntimeError, match="unreachable"):
        ingest.import_archive(no_store, "twitter-archive", arch, reading=reading)
    proc.join(timeout=5)
    assert not proc.is_alive()


def test_a_killed_reader_is_one_line_and_nothing_is_imported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """kill -9 of the reader process (the OOM killer, a user): one clear error, no
    traceback from the CLI's point of view (an UnerasedError), nothing written."""
    arch = tmp_path / "a.zip"
    make_twitter_archive(arch, n_tweets=20_000, seed=4)  # more than the queue holds
    monkeypatch.setattr(ingest, "PIPELINE_MIN_BYTES", 0)
    reading = ingest.start_reading("twitter-archive", arch)
    os.kill(reading._proc.pid, signal.SIGKILL)
    st = Store.open(tmp_path / "h")
    with pytest.raises(UnerasedError) as e:
        ingest.import_archive(st, "twitter-archive", arch, reading=reading)
    assert str(e.value) == ("the archive reader process died (exit code -9); "
                            "nothing was imported")
    assert list(st.iter_posts()) == [] and st.ledger_size() == 0
    st.close()
