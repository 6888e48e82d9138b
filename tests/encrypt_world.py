"""Helpers of the encryption tests (tests/test_encrypt*.py): an encrypted home made
through the command line with cheap Argon2id parameters, the command line run on it, and
the scan of every file of a home for known plaintext."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from unerased.cli import cli
from unerased.store import Store
from unerased.vault import Secret, unlock

PASS = "correct horse battery staple"
CHEAP = ["--kdf-memory", "1", "--kdf-iterations", "1"]  # tests only: the defaults cost seconds


def run(home: Path, *args: str, db: str | None = None, passphrase: str | None = PASS,
        env: dict[str, str] | None = None, key_file: Path | None = None,
        input: str | None = None) -> Result:
    base = ["--home", str(home)] + (["--db", db] if db else [])
    if key_file is not None:
        base += ["--key-file", str(key_file)]
    e: dict[str, Any] = {"UNERASED_PASSPHRASE": passphrase, "UNERASED_KEY_FILE": None,
                         "UNERASED_NEW_PASSPHRASE": None}
    e.update(env or {})
    return CliRunner().invoke(cli, [*base, *args], env=e, input=input,
                              catch_exceptions=False)


def init_encrypted(home: Path, db: str | None = None, *extra: str) -> Result:
    r = run(home, "init", "--encrypt", *CHEAP, *extra, db=db)
    assert r.exit_code == 0, r.output
    return r


def open_store(home: Path, db: str | None = None, passphrase: str = PASS) -> Store:
    return Store.open(home, db, create=False, keys=unlock(home, Secret(passphrase=passphrase)))


def needles_of(store: Store) -> set[str]:
    """Strings an encrypted home must not show in clear: every account's handle and
    profile URL, every post's URL and the start of its text (at least 10 characters)."""
    out: set[str] = set()
    for acc in store.list_accounts():
        for k in ("handle", "url", "display_name"):
            v = acc.get(k)
            if isinstance(v, str) and len(v) >= 6:
                out.add(v)
        for p in store.iter_posts(account_pk=acc["id"]):
            if p.get("url"):
                out.add(p["url"])
            text = (p.get("text") or "").strip()
            if len(text) >= 10:
                out.add(text[:24])
    return out


def scan(home: Path, needles: Iterable[str]) -> dict[str, list[str]]:
    """Every file under ``home`` (database, -wal/-shm/-journal, blobs, temp files, keys)
    searched for each needle as UTF-8 bytes, as `grep -r` would: {file: needles found}."""
    want = [(n, n.encode()) for n in needles]
    found: dict[str, list[str]] = {}
    for root, _dirs, files in os.walk(home):
        for name in files:
            p = Path(root) / name
            data = p.read_bytes()
            hits = [n for n, b in want if b in data]
            if hits:
                found[str(p.relative_to(home))] = hits
    return found


def files_of(home: Path) -> dict[str, bytes]:
    """Every file of the home and its bytes (to show nothing changed)."""
    return {str(p.relative_to(home)): p.read_bytes() for p in sorted(home.rglob("*"))
            if p.is_file()}
