"""Shared fixtures. ``store`` runs every store test on both backends: SQLite and a real
PostgreSQL (see tests/pg.py for how one is found or started)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from pg import PgServer, throwaway_cluster  # noqa: E402
from shared_data import SHARED  # noqa: E402


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    url = os.environ.get("UNERASED_TEST_PG_URL")
    if url:
        yield PgServer(url)
        return
    with throwaway_cluster() as admin:
        yield PgServer(admin)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None (the SQLite default in the home) or a fresh PostgreSQL database URL."""
    if request.param == "sqlite":
        yield None
        return
    server: PgServer = request.getfixturevalue("pg_server")
    url = server.new_database()
    try:
        yield url
    finally:
        server.drop_database(url)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def store(home: Path, db_url: str | None) -> Iterator[object]:
    from unerased.store import Store

    st = Store.open(home, db_url)
    try:
        yield st
    finally:
        st.close()


@pytest.fixture
def shared() -> Path:
    """../shared (test data: RFC 9162 vectors, recorded platform answers)."""
    return SHARED
