"""The archive maps who is watched: the home and everything unerased creates in it — the
SQLite database and its -wal/-shm/-journal files, the blob tree and its staged temp
files, the keys — and the files a user asks for elsewhere (exports, receipts, sample
archives) are owner-only (directories 0700, files 0600) whatever the umask, on SQLite and
PostgreSQL. A home left open to others is made owner-only when opened, with one warning.
(Before: under umask 022 the database was created 0644 and every directory 0755.)"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cli_proc import IS_ROOT, loose_modes, unerased_cmd
from net_servers import Answer, Seen, mastodon_site, sites, status
from pg import PgServer
from unerased._files import create_private, mkstemp_private, open_private, private_dir
from unerased.model import Capture, utcnow
from unerased.store import Store

UMASKS = pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask022", "umask000"])


def mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


@contextmanager
def umask_set(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def _photo(_seen: Seen) -> Answer:
    return 200, [("content-type", "image/png")], b"\x89PNG" + b"p" * 5000


def ok(r: object) -> None:
    assert getattr(r, "returncode") == 0, getattr(r, "stderr")  # noqa: B009


@UMASKS
def test_every_command_creates_only_owner_only_files(
    tmp_path: Path, db_url: str | None, umask: int
) -> None:
    top = tmp_path / "new"  # made by unerased, with the parents of the home
    home = top / "nested" / "home"
    out = tmp_path / "out"
    out.mkdir(mode=0o755)

    def run(*args: str) -> None:
        ok(unerased_cmd(home, db_url, *args, umask=umask))

    written = []
    for kind, name in (("twitter-archive", "x.zip"), ("mastodon-archive", "m.zip"),
                       ("bluesky-car", "b.car")):
        run("sample-archive", str(out / name), "--kind", kind, "--posts", "40")
        written.append(out / name)
    run("import", "twitter-archive", str(out / "x.zip"))
    run("import", "bluesky-car", str(out / "b.car"))
    posts = [status(1, "first", ["/media/a.png"]), status(2, "second")]
    with sites(mastodon_site(posts, extra={"/media/a.png": _photo})) as (site,):
        run("watch", "add", "mastodon:@alice@social.example", "--service", site.base)
        run("poll", "--once")
    run("checkpoint")
    run("receipt", "1001", str(out / "receipts" / "r.zip"))
    written.append(out / "receipts" / "r.zip")
    for fmt in ("jsonl", "csv", "warc"):
        run("export", fmt, str(out / f"e.{fmt}"))
        written.append(out / f"e.{fmt}")

    assert loose_modes(top) == []
    for f in written:
        assert mode(f) == 0o600, f
    assert mode(out / "receipts") == 0o700  # made for the receipt
    assert [p.name for p in out.iterdir() if p.name.endswith(".part")] == []
    # what was checked is there
    assert mode(home) == 0o700 and mode(home / "keys") == 0o700
    assert mode(home / "keys" / "ledger.key") == 0o600
    assert mode(home / "keys" / "ledger.pub") == 0o600
    blobs = [p for p in (home / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) > 3 and all(mode(b) == 0o600 for b in blobs)
    if db_url is None:
        assert mode(home / "unerased.sqlite") == 0o600
    else:
        assert not (home / "unerased.sqlite").exists()


def test_the_sqlite_files_are_owner_only_while_in_use(tmp_path: Path) -> None:
    """SQLite makes -wal and -shm with the database file's own mode (it ignores the umask
    for them): the database is created 0600 before SQLite opens it."""
    home = tmp_path / "h"
    with umask_set(0):
        st = Store.open(home)
        try:
            with st.writer() as w:
                w.add_capture(Capture("GET", "https://example.org/", utcnow(), status=200,
                                      body=b"body"))
            # the pool keeps a connection: the WAL and its index are there
            for name in ("unerased.sqlite", "unerased.sqlite-wal", "unerased.sqlite-shm"):
                assert mode(home / name) == 0o600, name
            assert loose_modes(home) == []
        finally:
            st.close()


def test_sqlite_gives_its_journal_files_the_database_files_mode(tmp_path: Path) -> None:
    """What the store relies on, shown on SQLite itself (its test journal3.test says so:
    the umask is ignored for -wal, -journal and -shm): under umask 0 a rollback journal
    and a WAL made for a 0600 database are 0600."""
    db = tmp_path / "t.sqlite"
    with umask_set(0):
        assert create_private(db)
        conn = sqlite3.connect(db, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute("CREATE TABLE t (x)")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t VALUES (randomblob(100000))")
            assert mode(tmp_path / "t.sqlite-journal") == 0o600
            conn.execute("COMMIT")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("INSERT INTO t VALUES (1)")
            assert mode(tmp_path / "t.sqlite-wal") == 0o600
            assert mode(tmp_path / "t.sqlite-shm") == 0o600
        finally:
            conn.close()
        # and the same with a database made the way sqlite3 makes one: 0666 & ~umask
        other = sqlite3.connect(tmp_path / "wide.sqlite", isolation_level=None)
        try:
            other.execute("PRAGMA journal_mode=WAL")
            other.execute("CREATE TABLE t (x)")
            assert mode(tmp_path / "wide.sqlite") == 0o644  # why the store makes it first
        finally:
            other.close()


def test_staged_and_placed_blobs_are_owner_only(store: Store, home: Path) -> None:
    with umask_set(0):
        staging = store.blobs.staging()
        digest = staging.add(b"staged bytes")
        tmp = Path(staging._files[digest].result())  # the staged temp file
        assert tmp.parent == home / "blobs" / "tmp" and mode(tmp) == 0o600
        staging.commit()
        placed = store.blobs.path(digest)
        assert mode(placed) == 0o600
        assert mode(placed.parent) == 0o700 and mode(placed.parent.parent) == 0o700
        assert mode(store.blobs.path(store.blobs.put(b"put bytes"))) == 0o600
    assert loose_modes(home) == []


def test_a_home_open_to_others_is_made_owner_only_with_one_warning(
    tmp_path: Path, db_url: str | None
) -> None:
    home = tmp_path / "h"
    ok(unerased_cmd(home, db_url, "sample-archive", str(tmp_path / "x.zip"), "--posts", "20"))
    ok(unerased_cmd(home, db_url, "import", "twitter-archive", str(tmp_path / "x.zip")))
    ok(unerased_cmd(home, db_url, "checkpoint"))
    (home / "blobs" / "tmp").mkdir(parents=True, exist_ok=True)
    wide = [home, home / "keys", home / "blobs", home / "blobs" / "tmp"]
    for d in wide:
        os.chmod(d, 0o755)
    for f in (home / "keys").iterdir():
        os.chmod(f, 0o644)
    if db_url is None:
        os.chmod(home / "unerased.sqlite", 0o644)
    assert len(loose_modes(home)) >= 6

    r = unerased_cmd(home, db_url, "watch", "list", umask=0o022)
    ok(r)
    warnings = [line for line in r.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, r.stderr
    assert str(home) in warnings[0] and "0755" in warnings[0] and "0700" in warnings[0]
    assert loose_modes(home) == []

    r = unerased_cmd(home, db_url, "watch", "list")
    ok(r)
    assert "warning" not in r.stderr  # nothing left to say

    # wide files in an owner-only home: made owner-only, silently (only the home's own
    # mode says whether others could reach them)
    for f in (home / "keys").iterdir():
        os.chmod(f, 0o644)
    r = unerased_cmd(home, db_url, "watch", "list")
    ok(r)
    assert "warning" not in r.stderr and loose_modes(home) == []


@pytest.mark.postgres
@pytest.mark.skipif(not IS_ROOT, reason="needs a home owned by another user (made by root)")
def test_a_home_that_is_not_ours_is_opened_with_a_warning(
    tmp_path: Path, pg_server: PgServer
) -> None:
    """A colleague's archive opened to read it (its database on PostgreSQL, its home
    readable by us): we cannot make it owner-only, so we say so, and go on."""
    url = pg_server.new_database()
    try:
        home = tmp_path / "theirs"
        Store.open(home, url).close()  # their archive (watch list only reads one)
        ok(unerased_cmd(home, url, "watch", "list"))
        os.chmod(tmp_path, 0o755)
        os.chmod(home, 0o755)
        os.chown(home, 65534, 65534)  # nobody's
        r = unerased_cmd(home, url, "watch", "list", no_dac_override=True, no_fowner=True)
        ok(r)
        (line,) = [x for x in r.stderr.splitlines() if "warning" in x]
        assert f"the archive home {home} is open to other users (mode 0755)" in line
        assert line.endswith("cannot be made owner-only: operation not permitted"), line
        assert mode(home) == 0o755
    finally:
        pg_server.drop_database(url)


@UMASKS
def test_the_helpers_are_owner_only_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    with umask_set(umask):
        assert private_dir(tmp_path / "a" / "b")
        assert not private_dir(tmp_path / "a" / "b")
        fd = open_private(tmp_path / "a" / "f")
        os.close(fd)
        fd, name = mkstemp_private(tmp_path / "a", "t-")
        os.close(fd)
        (tmp_path / "a" / "wide").write_bytes(b"")
        os.chmod(tmp_path / "a" / "wide", 0o666)
        os.close(open_private(tmp_path / "a" / "wide"))  # an existing file is made 0600
    assert [mode(tmp_path / "a"), mode(tmp_path / "a" / "b")] == [0o700, 0o700]
    assert mode(tmp_path / "a" / "f") == mode(Path(name)) == 0o600
    assert mode(tmp_path / "a" / "wide") == 0o600
    with pytest.raises(NotADirectoryError):
        private_dir(tmp_path / "a" / "f")
    with pytest.raises(NotADirectoryError):
        private_dir(tmp_path / "a" / "f" / "sub")
    os.symlink(tmp_path / "a" / "f", tmp_path / "a" / "link")
    with pytest.raises(OSError):
        open_private(tmp_path / "a" / "link")  # never written through a symbolic link


