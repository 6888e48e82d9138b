"""Read-only commands never create an archive: with a mistyped ``--home`` (or a database
without unerased's schema) they say ``no archive at …`` in one line, exit 1, and create
nothing. Before: they created an empty archive and reported "0 accounts". The commands
that make an archive still do."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from cli_world import cli_run, jsonl, one_error_line

READERS = [
    ["posts", "x:alice"],
    ["search", "hello"],
    ["events"],
    ["watch", "list"],
    ["watch", "remove", "x:alice"],
    ["verify"],
    ["receipt", "123", "OUT"],
    ["export", "jsonl", "OUT"],
    ["export", "site", "OUT"],
    ["checkpoint"],
]


def _tables(db_url: str) -> list[str]:
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a[:2]))
def test_a_mistyped_home_is_one_line_and_nothing_is_created(tmp_path: Path,
                                                            args: list[str]) -> None:
    typo = tmp_path / "unerased-dta"
    out = tmp_path / "out"
    args = [str(out) if a == "OUT" else a for a in args]
    line = one_error_line(cli_run(typo, None, *args), 1)
    assert f"no archive at {typo}" in line
    assert not typo.exists() and not out.exists()


@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a[:2]))
def test_a_home_without_an_archive_is_left_alone(tmp_path: Path, args: list[str]) -> None:
    """An existing directory that holds no archive (say, the user's Documents)."""
    docs = tmp_path / "Documents"
    docs.mkdir()
    (docs / "letter.txt").write_text("hello")
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    line = one_error_line(cli_run(docs, None, *args), 1)
    assert f"no archive at {docs}" in line
    assert sorted(p.name for p in docs.iterdir()) == ["letter.txt"]


@pytest.mark.postgres
@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a[:2]))
def test_a_database_without_the_schema_is_not_given_one(pg_server: object, tmp_path: Path,
                                                        args: list[str]) -> None:
    url = pg_server.new_database()  # type: ignore[attr-defined]
    try:
        home = tmp_path / "home"
        args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
        line = one_error_line(cli_run(home, url, *args), 1)
        assert "no archive in the database" in line
        assert "password" not in line.lower() or "***" in line
        assert _tables(url) == []
        assert not home.exists()
    finally:
        pg_server.drop_database(url)  # type: ignore[attr-defined]


def test_a_sqlite_db_url_to_no_file_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "typo.sqlite"
    line = one_error_line(cli_run(tmp_path / "home", f"sqlite:///{db}", "events"), 1)
    assert "no archive" in line
    assert not db.exists() and not (tmp_path / "home").exists()


def test_the_commands_that_make_an_archive_still_do(tmp_path: Path, db_url: str | None) -> None:
    home = tmp_path / "new-home"
    sample = tmp_path / "s.car"
    assert cli_run(home, db_url, "sample-archive", str(sample), "--kind", "bluesky-car",
                   "--posts", "5").exit_code == 0
    assert not home.exists()
    r = cli_run(home, db_url, "import", "bluesky-car", str(sample), "--json")
    assert r.exit_code == 0, r.output
    assert home.is_dir()
    # and then the readers find it
    r = cli_run(home, db_url, "watch", "list", "--all", "--json")
    assert r.exit_code == 0 and len(jsonl(r.stdout)) == 1
    assert cli_run(home, db_url, "verify").exit_code == 0
