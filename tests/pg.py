"""A real PostgreSQL for the tests.

``UNERASED_TEST_PG_URL`` (e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``) names a
server to use; otherwise a throwaway cluster is created with ``initdb`` in a temporary
directory (as the ``postgres`` user when we are root: initdb refuses root), started on a
free port with its socket in that directory, and removed at the end of the session.
Each test gets a fresh database on that server.
"""

from __future__ import annotations

import glob
import os
import resource
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


class PgUnavailable(Exception):
    pass


def _bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(initdb)
    raise PgUnavailable(
        "PostgreSQL server binaries not found: install Debian's 'postgresql' package "
        "(.ci/run does) or set UNERASED_TEST_PG_URL to a server"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def throwaway_cluster(file_size_limit: int | None = None) -> Iterator[str]:
    """Yields an admin URL of a new cluster; stops and removes it afterwards.

    ``file_size_limit``: the server runs under ``RLIMIT_FSIZE`` of that many bytes, so a
    table that grows past it fails as on a full disk ("could not extend file", a real
    write refused by the kernel); its WAL segments are made small (1 MB) to stay under
    it (a failed WAL write would stop the server, not fail a statement)."""
    bindir = _bindir()
    tmp = tempfile.mkdtemp(prefix="unerased-pg-")
    data = os.path.join(tmp, "data")
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(tmp, "postgres")
    port = _free_port()
    log = os.path.join(tmp, "log")

    def run(*cmd: str, limit: int | None = None) -> None:
        def setup() -> None:
            if limit is not None:  # inherited by the server through runuser and pg_ctl
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        subprocess.run(
            [*prefix, *cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=setup,
        )

    small_wal = ["--wal-segsize=1"] if file_size_limit is not None else []
    try:
        run(f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
            "--no-sync", *small_wal)
        run(f"{bindir}/pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o",
            f"-p {port} -k {tmp} -c listen_addresses='127.0.0.1' -c fsync=off "
            "-c full_page_writes=off -c synchronous_commit=off", "start", limit=file_size_limit)
    except subprocess.CalledProcessError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PgUnavailable(
            f"could not start a throwaway PostgreSQL: {e.stderr.decode(errors='replace')[-300:]}"
        ) from None
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


class PgServer:
    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(admin_url, autocommit=True) as c:
                    c.execute("SELECT 1")
                break
            except psycopg.OperationalError as e:
                if time.monotonic() > deadline:
                    raise PgUnavailable(f"PostgreSQL at {admin_url} unreachable: {e}") from None
                time.sleep(0.2)

    def new_database(self) -> str:
        name = "unerased_t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.admin_url, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        base = self.admin_url.rsplit("/", 1)[0]
        return f"{base}/{name}"

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
