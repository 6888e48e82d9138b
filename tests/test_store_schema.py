"""A new archive's schema is created directly (store/_fresh.py), not by replaying the
migrations through Alembic; it must be the very schema ``alembic upgrade head`` makes,
object by object and row by row, on SQLite and PostgreSQL. A migration added without
updating the fast path fails here, and sends new archives through Alembic meanwhile."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from unerased.errors import StoreError
from unerased.model import AccountSnapshot, PostSnapshot
from unerased.store import Store
from unerased.store._engine import MIGRATIONS, SQLITE_FILE, make_engine, migrate
from unerased.store._fresh import FAST_SCHEMA_REVISION, scripts_head

SRC = Path(__file__).resolve().parents[1] / "src"
HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()


def _url(home: Path, db_url: str | None) -> str:
    return db_url or f"sqlite:///{(home / SQLITE_FILE).resolve()}"


@pytest.fixture
def other_db(request: pytest.FixtureRequest, db_url: str | None, tmp_path: Path
             ) -> Iterator[tuple[Path, str | None]]:
    """A second empty database on the backend of ``db_url``: (home, db_url)."""
    home = tmp_path / "other"
    if db_url is None:
        yield home, None
        return
    server: Any = request.getfixturevalue("pg_server")
    url = server.new_database()
    try:
        yield home, url
    finally:
        server.drop_database(url)


def _alembic_upgrade(url: str, revision: str = "head") -> None:
    engine = make_engine(url)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def _norm(sql: str | None) -> str | None:
    """SQL text with whitespace normalised (a column SQLite's ALTER TABLE ADD COLUMN
    appended is written on the line of the one before it)."""
    if sql is None:
        return None
    return re.sub(r"\s*([(),])\s*", r"\1", re.sub(r"\s+", " ", sql)).strip()


def _rows(conn: Connection, table: str) -> list[str]:
    return sorted(repr(tuple(r)) for r in conn.exec_driver_sql(f'SELECT * FROM "{table}"'))


def _inspected(conn: Connection) -> dict[str, Any]:
    insp = inspect(conn)
    out: dict[str, Any] = {}
    for t in sorted(insp.get_table_names()):
        out[t] = {
            "columns": [{**c, "type": repr(c["type"])} for c in insp.get_columns(t)],
            "pk": insp.get_pk_constraint(t),
            "unique": sorted(insp.get_unique_constraints(t), key=repr),
            "indexes": sorted(insp.get_indexes(t), key=repr),
            "checks": sorted(insp.get_check_constraints(t), key=repr),
            "fks": sorted(insp.get_foreign_keys(t), key=repr),
            "options": insp.get_table_options(t),
        }
    return out


def _sqlite_catalog(conn: Connection) -> dict[str, Any]:
    master = conn.exec_driver_sql("SELECT type, name, tbl_name, sql FROM sqlite_master").all()
    tables = sorted(name for kind, name, _, _ in master if kind == "table")
    out: dict[str, Any] = {
        "master": sorted((k, n, t, _norm(s)) for k, n, t, s in master),
        "pragmas": [conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in
                    ("user_version", "application_id", "auto_vacuum", "encoding", "page_size")],
    }
    for t in tables:
        out[f"columns {t}"] = conn.exec_driver_sql(f'PRAGMA table_xinfo("{t}")').all()
        indexes = sorted(tuple(r)[1:] for r in conn.exec_driver_sql(f'PRAGMA index_list("{t}")'))
        out[f"indexes {t}"] = indexes
        for ix in indexes:
            out[f"index {ix[0]}"] = conn.exec_driver_sql(f'PRAGMA index_xinfo("{ix[0]}")').all()
        out[f"rows {t}"] = _rows(conn, t)
    return out


def _pg_catalog(conn: Connection) -> dict[str, Any]:
    q = {
        "relations": "SELECT c.relname, c.relkind, c.relpersistence, c.relhasindex, "
                     "c.relhastriggers FROM pg_class c JOIN pg_namespace n ON n.oid = "
                     "c.relnamespace WHERE n.nspname = current_schema()",
        "columns": "SELECT table_name, column_name, ordinal_position, data_type, "
                   "character_maximum_length, numeric_precision, is_nullable, column_default, "
                   "is_identity, is_generated, collation_name FROM information_schema.columns "
                   "WHERE table_schema = current_schema()",
        "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes "
                   "WHERE schemaname = current_schema()",
        "constraints": "SELECT conrelid::regclass::text, conname, contype, "
                       "pg_get_constraintdef(oid) FROM pg_constraint "
                       "WHERE connamespace = current_schema()::regnamespace",
        "triggers": "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(t.oid) "
                    "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace "
                    "n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()",
        "functions": "SELECT proname, pg_get_function_identity_arguments(oid) FROM pg_proc "
                     "WHERE pronamespace = current_schema()::regnamespace",
        "extensions": "SELECT extname FROM pg_extension",
    }
    out: dict[str, Any] = {k: sorted(tuple(r) for r in conn.exec_driver_sql(v))
                           for k, v in q.items()}
    for (t,) in conn.exec_driver_sql("SELECT tablename FROM pg_tables "
                                     "WHERE schemaname = current_schema()"):
        out[f"rows {t}"] = _rows(conn, t)
    return out


def describe(url: str) -> dict[str, Any]:
    """Everything a schema is made of, and every row, of the database at ``url``."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            catalog = _sqlite_catalog(conn) if conn.dialect.name == "sqlite" else \
                _pg_catalog(conn)
            return {"inspector": _inspected(conn), **catalog}
    finally:
        engine.dispose()


def _assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert sorted(got) == sorted(want)
    for key in want:
        assert got[key] == want[key], key


def test_the_fast_schema_is_the_migrations_schema(
    home: Path, db_url: str | None, other_db: tuple[Path, str | None]
) -> None:
    Store.open(home, db_url).close()  # a new archive: the fast path
    ref_home, ref_url = other_db
    ref_home.mkdir()
    _alembic_upgrade(_url(ref_home, ref_url))  # `alembic upgrade head` from empty
    fast, reference = describe(_url(home, db_url)), describe(_url(ref_home, ref_url))
    _assert_same(fast, reference)
    # what the comparison covers, so that it cannot pass by comparing nothing
    tables = set(reference["inspector"])
    assert {"accounts", "posts", "ledger_head", "alembic_version", "post_fts"} <= tables
    head_rows = reference["rows ledger_head"]
    assert head_rows == [repr((1, 0))]
    assert reference["rows alembic_version"] == [repr((HEAD,))]
    if db_url is None:
        assert ("table", "post_fts", "post_fts", "CREATE VIRTUAL TABLE post_fts USING fts5(terms,"
                "content='',tokenize='unicode61 remove_diacritics 2')") in reference["master"]
    else:
        assert ("post_fts", "ix_post_fts_terms", "CREATE INDEX ix_post_fts_terms ON "
                "public.post_fts USING gin (terms)") in reference["indexes"]


def test_the_comparison_sees_a_difference(home: Path, db_url: str | None,
                                          other_db: tuple[Path, str | None]) -> None:
    """The comparison is not blind: an index with a condition added on one side (or a
    default changed, or one row more) is a difference."""
    Store.open(home, db_url).close()
    ref_home, ref_url = other_db
    ref_home.mkdir()
    _alembic_upgrade(_url(ref_home, ref_url))
    reference = describe(_url(ref_home, ref_url))
    for change in ("CREATE INDEX ix_events_at2 ON events (at) WHERE type = 'post_deleted'",
                   "INSERT INTO meta (key, value) VALUES ('k', 'v')",
                   "DROP INDEX ix_posts_post_id"):
        engine = make_engine(_url(home, db_url))
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(change)
            assert describe(_url(home, db_url)) != reference, change
            with engine.begin() as conn:  # undone: the same again
                conn.exec_driver_sql({"C": "DROP INDEX ix_events_at2",
                                      "I": "DELETE FROM meta",
                                      "D": "CREATE INDEX ix_posts_post_id ON posts (post_id)"
                                      }[change[0]])
        finally:
            engine.dispose()
        assert describe(_url(home, db_url)) == reference


def test_the_fast_path_is_at_the_scripts_head() -> None:
    """A new migration must come with the fast path's schema for it: FAST_SCHEMA_REVISION
    (and _fresh.create_schema) updated, then the test above says whether they agree."""
    assert scripts_head(MIGRATIONS / "versions") == HEAD  # the cheap reading is Alembic's
    assert FAST_SCHEMA_REVISION == HEAD


def _write(d: Path, name: str, body: str) -> None:
    (d / name).write_text(body, encoding="utf-8")


def test_scripts_head_reads_the_version_files(tmp_path: Path) -> None:
    _write(tmp_path, "a.py", "revision = 'a'\ndown_revision = None\n")
    _write(tmp_path, "b.py", 'revision: str = "b"\ndown_revision: Union[str, None] = "a"\n')
    assert scripts_head(tmp_path) == "b"
    _write(tmp_path, "c.py", "revision = 'c'\ndown_revision = 'a'\n")
    assert scripts_head(tmp_path) is None  # two heads: b and c
    _write(tmp_path, "d.py", "revision = 'd'\ndown_revision = ('b', 'c')\n")
    assert scripts_head(tmp_path) == "d"  # merged
    _write(tmp_path, "e.py", "revision = make_id()\ndown_revision = 'd'\n")
    assert scripts_head(tmp_path) is None  # unreadable: only Alembic may decide
    assert scripts_head(tmp_path / "none") is None
    lone = tmp_path / "lone"
    lone.mkdir()
    _write(lone, "x.py", "revision = 'x'\n")  # no down_revision: not a migration script
    assert scripts_head(lone) is None


def test_a_migration_the_fast_path_does_not_know_goes_through_alembic(
    tmp_path: Path, home: Path, db_url: str | None
) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    _write(scripts / "versions", "9999_later.py",
           f"import sqlalchemy as sa\nfrom alembic import op\n\nrevision = '9999'\n"
           f"down_revision = {HEAD!r}\n\n\ndef upgrade() -> None:\n"
           "    op.create_table('later', sa.Column('id', sa.Integer(), primary_key=True))\n")
    home.mkdir()
    engine = make_engine(_url(home, db_url))
    try:
        migrate(engine, scripts)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() \
                == "9999"
            assert "later" in inspect(conn).get_table_names()
            assert conn.execute(text("SELECT size FROM ledger_head")).scalar_one() == 0
    finally:
        engine.dispose()


OPEN = """
import json, sys, time
from pathlib import Path
from unerased.store import Store
home, db, go = Path(sys.argv[1]), sys.argv[2] or None, Path(sys.argv[3])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.0005)
st = Store.open(home, db)
st.close()
print(json.dumps("alembic" in sys.modules), flush=True)
"""


def _open_in_processes(home: Path, db_url: str | None, n: int, go: Path) -> list[bool]:
    """``n`` processes open the archive at once (as near as a file appearing makes
    it); whether each loaded Alembic."""
    procs = [subprocess.Popen([sys.executable, "-c", OPEN, str(home), db_url or "", str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={"PYTHONPATH": str(SRC)}) for _ in range(n)]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline() == "ready\n"
        go.touch()
        out = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0] * n, [e for _, e in out]
    return [json.loads(o) for o, _ in out]


def _stamps(url: str) -> tuple[list[Any], list[Any]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return (conn.exec_driver_sql("SELECT * FROM alembic_version").all(),
                    conn.exec_driver_sql("SELECT * FROM ledger_head").all())
    finally:
        engine.dispose()


def test_a_new_archive_is_made_without_alembic_and_an_old_one_migrated_with_it(
    home: Path, db_url: str | None, tmp_path: Path
) -> None:
    assert _open_in_processes(home, db_url, 1, tmp_path / "go1") == [False]  # new
    assert _open_in_processes(home, db_url, 1, tmp_path / "go2") == [False]  # reopened
    engine = make_engine(_url(home, db_url))
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003")  # an archive of an older unerased
    finally:
        engine.dispose()
    assert _stamps(_url(home, db_url))[0] == [("0003",)]
    assert _open_in_processes(home, db_url, 1, tmp_path / "go3") == [True]  # migrated
    assert _stamps(_url(home, db_url)) == ([(HEAD,)], [(1, 0)])


@pytest.mark.parametrize("rnd", range(3))
def test_processes_opening_one_new_archive_at_once_make_it_once(
    home: Path, db_url: str | None, tmp_path: Path, rnd: int
) -> None:
    loaded = _open_in_processes(home, db_url, 3, tmp_path / "go")
    assert loaded == [False] * 3  # nobody needed Alembic: the first made it, the others found it
    assert _stamps(_url(home, db_url)) == ([(HEAD,)], [(1, 0)])
    st = Store.open(home, db_url, create=False)
    try:
        with st.writer() as w:
            w.upsert_account(AccountSnapshot("x", "1", handle="a"), "t")
        assert st.ledger_size() == 1
    finally:
        st.close()


def _post(pid: str) -> PostSnapshot:
    return PostSnapshot("x", "1", pid, f"post {pid}")


def test_a_damaged_archive_is_not_made_again(home: Path, db_url: str | None) -> None:
    """Tables but no alembic_version: not new. Alembic decides (and fails, as before);
    nothing is created over what is there, nothing of it lost."""
    st = Store.open(home, db_url)
    with st.writer() as w:
        a = w.upsert_account(AccountSnapshot("x", "1", handle="a"), "t")
        w.add_posts(a, [_post("1"), _post("2")], "t")
    with st.engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    st.close()
    for create in (True, False):
        with pytest.raises(StoreError, match="cannot open the database: .*already exists"):
            Store.open(home, db_url, create=create)
    engine = make_engine(_url(home, db_url))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM posts")).scalar_one() == 2
            assert "alembic_version" not in inspect(conn).get_table_names()
    finally:
        engine.dispose()


def test_a_database_with_other_tables_is_left_to_alembic(home: Path, db_url: str | None,
                                                         tmp_path: Path) -> None:
    """Someone else's table in the database: not empty, so not the fast path; Alembic
    adds unerased's tables beside it, as it always did."""
    home.mkdir()
    engine = make_engine(_url(home, db_url))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
            conn.exec_driver_sql("INSERT INTO notes (id, body) VALUES (1, 'mine')")
    finally:
        engine.dispose()
    assert _open_in_processes(home, db_url, 1, tmp_path / "go") == [True]
    assert _stamps(_url(home, db_url)) == ([(HEAD,)], [(1, 0)])
    engine = make_engine(_url(home, db_url))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT body FROM notes").all() == [("mine",)]
    finally:
        engine.dispose()
