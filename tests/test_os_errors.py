"""A full disk and other OS errors on the write paths are one line on stderr naming what
failed and why, exit 1 — no traceback, no SQL, no post text — and leave nothing
half-written: the transaction rolled back, no staged blob, no ``.part`` or temp file, and
``unerased verify`` passes afterwards. On SQLite and PostgreSQL.

Real OS errors, no mocks: the child runs under ``RLIMIT_FSIZE`` (a write past the limit
fails with EFBIG, "File too large"), PostgreSQL's own server under such a limit (its
tables cannot grow: "could not extend file"), SQLite under ``max_page_count`` ("database
or disk is full"), directories made 0500 (EACCES; when the tests run as root, the child
drops root's permission-check bypass, CAP_DAC_OVERRIDE, so the bits bind it too), and a
file where a directory is expected (ENOTDIR). A read-only file system and ENOSPC itself
need a mount, which these tests cannot make.

(Before: a blob write failing under import or poll was a traceback; a full PostgreSQL
disk during an import's COPY was a traceback that quoted the row it was copying.)"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from cli_proc import IS_ROOT, one_error_line, unerased_cmd
from net_servers import Answer, Seen, mastodon_site, sites, status
from pg import PgServer, throwaway_cluster
from unerased.errors import DatabaseError
from unerased.ingest import import_archive
from unerased.ledger.verify import verify_archive
from unerased.sim.archives import ArchiveSpec, make_twitter_archive
from unerased.store import Store

SECRETS = [f"秘密 {n}: meet at the north gate of the campus at {n} o'clock" for n in range(6)]
BIG_MEDIA = 2_000_000


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> ArchiveSpec:
    return make_twitter_archive(tmp_path_factory.mktemp("arch") / "x.zip", n_tweets=1000,
                                seed=7, media_every=10)


@pytest.fixture(scope="module")
def big_archive(tmp_path_factory: pytest.TempPathFactory) -> ArchiveSpec:
    """Enough rows to outgrow a 3 MB table."""
    return make_twitter_archive(tmp_path_factory.mktemp("arch") / "x.zip", n_tweets=3000,
                                seed=7, media_every=10)


def texts(spec: ArchiveSpec) -> list[str]:
    return [t for p in spec.posts.values() for t in p.texts if len(t) >= 16]


def plain_post(spec: ArchiveSpec) -> str:
    return next(p.post_id for p in spec.posts.values() if p.kind == "post" and not p.deleted)


def _big(_seen: Seen) -> Answer:
    return 200, [("content-type", "image/png")], b"\x89PNG" + os.urandom(BIG_MEDIA)


@pytest.fixture
def fake() -> Iterator[str]:
    """A Mastodon instance on loopback: six posts with distinctive texts, one with a
    2 MB photo."""
    posts = [status(n, SECRETS[n], ["/media/big.png"] if n == 0 else []) for n in range(6)]
    with sites(mastodon_site(posts, extra={"/media/big.png": _big})) as (site,):
        yield site.base


def ledger_size(home: Path, db: str | None) -> int:
    st = Store.open(home, db)
    try:
        return st.ledger_size()
    finally:
        st.close()


def consistent(home: Path, db: str | None, ledger_before: int) -> None:
    """Nothing of the failed command stayed: the ledger is as it was, no staged blob,
    and the whole archive verifies."""
    assert ledger_size(home, db) == ledger_before
    tmp = home / "blobs" / "tmp"
    assert not tmp.exists() or list(tmp.iterdir()) == []
    r = unerased_cmd(home, db, "verify")
    assert r.returncode == 0, r.stderr


def file_limit(home: Path, room: int) -> int:
    """A file size limit ``room`` bytes above the biggest file in the home."""
    sizes = [p.stat().st_size for p in home.rglob("*") if p.is_file()]
    return max(sizes, default=0) + room


def made(home: Path, db: str | None) -> None:
    Store.open(home, db).close()


# ------------------------------------------------------------------ file too large


def test_import_past_the_file_size_limit_is_one_line(
    tmp_path: Path, db_url: str | None, archive: ArchiveSpec
) -> None:
    """SQLite: the database grows past the limit mid-import. PostgreSQL: the database is
    elsewhere, the archive's media (blobs) cannot be written."""
    home = tmp_path / "h"
    made(home, db_url)
    limit = file_limit(home, 200_000) if db_url is None else 64
    r = unerased_cmd(home, db_url, "import", "twitter-archive", str(archive.path), fsize=limit)
    line = one_error_line(r, texts(archive))
    assert "file too large" in line, line
    assert ("the database cannot be written" if db_url is None else "blob") in line, line
    consistent(home, db_url, 0)


def test_poll_past_the_file_size_limit_is_one_line(
    tmp_path: Path, db_url: str | None, fake: str
) -> None:
    home = tmp_path / "h"
    r = unerased_cmd(home, db_url, "watch", "add", "mastodon:@alice@social.example",
                     "--service", fake)
    assert r.returncode == 0, r.stderr
    before = ledger_size(home, db_url)
    r = unerased_cmd(home, db_url, "poll", "--once", fsize=file_limit(home, BIG_MEDIA // 2))
    assert file_limit(home, 0) < BIG_MEDIA // 2  # the photo is what cannot be written
    # poll's failure is one line per check, then its one-line summary (docs/cli.md)
    check_line, summary = r.stderr.splitlines()
    assert summary == "unerased: error: 1 of 1 checks failed (see `unerased watch list`)"
    line = one_error_line(
        subprocess.CompletedProcess(r.args, r.returncode, r.stdout, check_line + "\n"), SECRETS)
    assert ": error: " in line and "blob" in line and "file too large" in line, line
    consistent(home, db_url, before)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_past_the_file_size_limit_is_one_line(
    tmp_path: Path, db_url: str | None, archive: ArchiveSpec, fmt: str
) -> None:
    home = tmp_path / "h"
    r = unerased_cmd(home, db_url, "import", "twitter-archive", str(archive.path))
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    out.mkdir()
    r = unerased_cmd(home, db_url, "export", fmt, str(out / f"e.{fmt}"), fsize=64 << 10)
    line = one_error_line(r, texts(archive))
    assert f"cannot write {out / f'e.{fmt}'}: file too large" in line, line
    assert list(out.iterdir()) == []  # neither the export nor its .part


def test_receipt_past_the_file_size_limit_is_one_line(
    tmp_path: Path, db_url: str | None, fake: str
) -> None:
    home = tmp_path / "h"
    for args in (["watch", "add", "mastodon:@alice@social.example", "--service", fake],
                 ["poll", "--once"], ["checkpoint"]):
        r = unerased_cmd(home, db_url, *args)
        assert r.returncode == 0, r.stderr
    before = ledger_size(home, db_url)
    out = tmp_path / "out"
    r = unerased_cmd(home, db_url, "receipt", "1000", str(out / "r.zip"),
                     fsize=BIG_MEDIA // 2)
    line = one_error_line(r, SECRETS)
    assert f"cannot write the receipt {out / 'r.zip'}: file too large" in line, line
    assert list(out.iterdir()) == []  # no receipt, no temp file
    consistent(home, db_url, before)


@pytest.mark.postgres
def test_a_key_past_the_file_size_limit_is_one_line(
    tmp_path: Path, pg_server: PgServer, archive: ArchiveSpec
) -> None:
    """The signing key is made at the first checkpoint (PostgreSQL: nothing else is
    written in the home then)."""
    url = pg_server.new_database()
    try:
        home = tmp_path / "h"
        r = unerased_cmd(home, url, "import", "twitter-archive", str(archive.path))
        assert r.returncode == 0, r.stderr
        before = ledger_size(home, url)
        r = unerased_cmd(home, url, "checkpoint", fsize=16)
        line = one_error_line(r, texts(archive))
        assert f"cannot write the key {home / 'keys'}" in line, line
        assert "file too large" in line, line
        assert [p.name for p in (home / "keys").iterdir()] == []  # no half key, no temp
        consistent(home, url, before)
    finally:
        pg_server.drop_database(url)


# ------------------------------------------------------------------ full databases


def test_a_full_sqlite_database_is_one_line(tmp_path: Path, archive: ArchiveSpec) -> None:
    """SQLITE_FULL, as on a full disk: the database may grow by 40 pages only."""
    home = tmp_path / "h"
    st = Store.open(home)
    try:
        with st.reader() as conn:
            pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())
        st.engine.dispose()

        @event.listens_for(st.engine, "connect")
        def _cap(dbapi_conn: object, _rec: object) -> None:
            dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 40}")  # type: ignore[attr-defined]

        with pytest.raises(DatabaseError) as err:
            import_archive(st, "twitter-archive", archive.path)
        assert err.value.detail == "database or disk is full"
        assert str(err.value) == "the database cannot be written: database or disk is full"
        assert st.ledger_size() == 0
        assert list((home / "blobs" / "tmp").iterdir()) == []
        st.engine.dispose()
        event.remove(st.engine, "connect", _cap)
        assert verify_archive(st).ok
    finally:
        st.close()


@pytest.fixture(scope="module")
def small_pg() -> Iterator[PgServer]:
    """A PostgreSQL server whose files cannot grow past 3 MB (RLIMIT_FSIZE)."""
    with throwaway_cluster(file_size_limit=3 << 20) as admin:
        yield PgServer(admin)


@pytest.mark.postgres
def test_a_full_postgresql_disk_is_one_line(
    tmp_path: Path, small_pg: PgServer, big_archive: ArchiveSpec
) -> None:
    """The server cannot extend a table during the import's COPY: one line (before: a
    traceback quoting the row being copied)."""
    url = small_pg.new_database()
    try:
        home = tmp_path / "h"
        made(home, url)
        r = unerased_cmd(home, url, "import", "twitter-archive", str(big_archive.path))
        line = one_error_line(r, texts(big_archive))
        assert line.startswith("unerased: error: the database cannot be written: "
                               "could not extend file"), line
        assert "File too large" in line or "disk is full" in line, line
        consistent(home, url, 0)
        # the same in-process: the store's DatabaseError, never the driver's own error
        st = Store.open(home, url)
        try:
            with pytest.raises(DatabaseError) as err:
                import_archive(st, "twitter-archive", big_archive.path)
            assert err.value.detail.startswith("could not extend file")
            assert st.ledger_size() == 0
        finally:
            st.close()
    finally:
        small_pg.drop_database(url)


# ------------------------------------------------------------------ permission denied


def _read_only(*dirs: Path) -> None:
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o500)


def test_unwritable_places_are_one_line(
    tmp_path: Path, db_url: str | None, archive: ArchiveSpec
) -> None:
    """A blob directory, the keys directory and an output directory that refuse writes
    (EACCES). As root the child runs without CAP_DAC_OVERRIDE, so 0500 binds it."""
    home = tmp_path / "h"
    made(home, db_url)
    run = lambda *a: unerased_cmd(home, db_url, *a, no_dac_override=True)  # noqa: E731
    _read_only(home / "blobs" / "tmp")
    line = one_error_line(run("import", "twitter-archive", str(archive.path)), texts(archive))
    assert f"cannot write a blob in {home / 'blobs'}: permission denied" in line, line
    os.chmod(home / "blobs" / "tmp", 0o700)
    consistent(home, db_url, 0)

    r = unerased_cmd(home, db_url, "import", "twitter-archive", str(archive.path))
    assert r.returncode == 0, r.stderr
    before = ledger_size(home, db_url)
    _read_only(home / "keys")
    line = one_error_line(run("checkpoint"), texts(archive))
    assert f"cannot write the key {home / 'keys'}" in line and "permission denied" in line, line
    os.chmod(home / "keys", 0o700)
    assert list((home / "keys").iterdir()) == []
    consistent(home, db_url, before)

    r = unerased_cmd(home, db_url, "checkpoint")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    _read_only(out)
    line = one_error_line(run("export", "jsonl", str(out / "e.jsonl")), texts(archive))
    assert f"cannot write {out / 'e.jsonl'}: permission denied" in line, line
    post = plain_post(archive)
    line = one_error_line(run("receipt", post, str(out / "r.zip")), texts(archive))
    assert f"cannot write the receipt {out / 'r.zip'}: permission denied" in line, line
    line = one_error_line(run("receipt", post, str(out / "sub" / "r.zip")), texts(archive))
    assert f"cannot write the receipt {out / 'sub' / 'r.zip'}: permission denied" in line
    os.chmod(out, 0o700)
    assert list(out.iterdir()) == []


def test_a_file_where_a_directory_is_expected_is_one_line(
    tmp_path: Path, db_url: str | None, archive: ArchiveSpec
) -> None:
    home = tmp_path / "h"
    r = unerased_cmd(home, db_url, "import", "twitter-archive", str(archive.path))
    assert r.returncode == 0, r.stderr
    (tmp_path / "f").write_text("a file")
    for args, what in ((["export", "csv", str(tmp_path / "f" / "e.csv")],
                        f"cannot write {tmp_path / 'f' / 'e.csv'}: not a directory"),
                       (["receipt", plain_post(archive), str(tmp_path / "f" / "r.zip")],
                        f"cannot write the receipt {tmp_path / 'f' / 'r.zip'}: not a directory")):
        line = one_error_line(unerased_cmd(home, db_url, *args), texts(archive))
        assert what in line, line
    before = ledger_size(home, db_url)
    (home / "keys").rename(tmp_path / "keys")  # the receipts made the log's key: set aside
    (home / "keys").write_text("not a directory")
    line = one_error_line(unerased_cmd(home, db_url, "checkpoint"), texts(archive))
    assert f"the key {home / 'keys'}" in line and "not a directory" in line, line
    (home / "keys").unlink()
    (tmp_path / "keys").rename(home / "keys")
    consistent(home, db_url, before)


def test_the_child_obeys_permission_bits(tmp_path: Path) -> None:
    """The mechanism above, checked: a 0500 directory refuses the child; root itself
    (when the tests run as root) writes there all the same."""
    d = tmp_path / "ro"
    _read_only(d)
    out = str(d / "e.jsonl")
    Store.open(tmp_path / "h").close()  # an (empty) archive to export
    bound = unerased_cmd(tmp_path / "h", None, "export", "jsonl", out, no_dac_override=True)
    assert bound.returncode == 1 and "permission denied" in bound.stderr.lower()
    if IS_ROOT:
        as_root = unerased_cmd(tmp_path / "h", None, "export", "jsonl", out)
        assert as_root.returncode == 0, as_root.stderr
