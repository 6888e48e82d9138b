"""One error root, mapped in one place: a damaged or failing database is one line on
stderr and exit 1 from every command — never a traceback, never the SQL statement or a
post's text (the store turns its driver's errors into DatabaseError; the CLI maps the
whole tree in handle_errors) — on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from unerased.cli import cli
from unerased.errors import DatabaseError, StoreError, UnerasedError
from unerased.sim.archives import make_twitter_archive
from unerased.store import Store


def run(home: Path, db: str | None, *args: str) -> Result:
    base = ["--home", str(home)] + (["--db", db] if db else [])
    return CliRunner().invoke(cli, [*base, *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("arch") / "twitter.zip"
    make_twitter_archive(p, n_tweets=40, seed=5)
    return p


def _damage(home: Path, db: str | None, sql: str) -> None:
    st = Store.open(home, db)
    try:
        with st.engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        st.close()


def _one_line(r: Result, start: str) -> str:
    assert r.exit_code == 1, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(start), lines[0]
    assert "Traceback" not in r.output
    for sql in ("SELECT", "INSERT", "[SQL", "parameters"):
        assert sql not in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(("table", "args"), [
    ("events", ["events"]),
    ("accounts", ["posts", "x:someone"]),
    ("accounts", ["watch", "list"]),
    ("post_versions", ["export", "jsonl", "OUT"]),
    ("account_status", ["export", "site", "OUT"]),
    ("posts", ["receipt", "1", "OUT"]),
    ("checkpoints", ["checkpoint"]),
])
def test_a_damaged_database_is_one_line_from_every_command(
    home: Path, db_url: str | None, archive: Path, tmp_path: Path, table: str, args: list[str]
) -> None:
    assert run(home, db_url, "import", "twitter-archive", str(archive)).exit_code == 0
    _damage(home, db_url, f"DROP TABLE {table}")
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    line = _one_line(run(home, db_url, *args), "unerased: error: the database cannot be read: ")
    assert table in line  # the driver's own words name what is wrong


def test_a_failing_write_is_one_line_without_post_text_and_keeps_nothing(
    home: Path, db_url: str | None, archive: Path
) -> None:
    Store.open(home, db_url).close()
    _damage(home, db_url, "DROP TABLE imports")  # the import's last insert fails
    r = run(home, db_url, "import", "twitter-archive", str(archive))
    line = _one_line(r, "unerased: error: the database cannot be written: ")
    assert "imports" in line
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in r.stderr)  # no tweet text
    st = Store.open(home, db_url)
    try:
        assert list(st.iter_posts()) == [] and st.ledger_size() == 0  # nothing half-kept
    finally:
        st.close()


def test_database_errors_are_store_errors_under_the_one_root(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE events"))
    with pytest.raises(DatabaseError) as e:
        list(store.iter_events())
    assert isinstance(e.value, StoreError) and isinstance(e.value, UnerasedError)
    assert str(e.value) == f"the database cannot be read: {e.value.detail}"
    assert "events" in e.value.detail and "SELECT" not in e.value.detail
