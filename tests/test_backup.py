"""``unerased backup`` / ``restore``: a consistent snapshot taken while a real writer
thread keeps writing, restored into a new home, verified, and the next checkpoint
extends the old ones; on SQLite and PostgreSQL. Keys are left out unless asked for;
a damaged or tampered backup is refused before anything is written; the target must be
new or empty."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from cli_world import cli_run, one_error_line, seed
from unerased.backup import MANIFEST, check_backup, make_backup, restore_backup
from unerased.errors import BackupError
from unerased.ledger import log, merkle
from unerased.ledger.verify import verify_archive
from unerased.model import AccountSnapshot, Capture, PostSnapshot, utcnow
from unerased.store import Store

ACC = AccountSnapshot("mastodon", "42@w.example", handle="w@w.example",
                      url="https://w.example/@w")


class Writer(threading.Thread):
    """Writes one post and one capture (a new blob) per transaction until stopped."""

    def __init__(self, store: Store) -> None:
        super().__init__(daemon=True)
        self.store = store
        self.stop = threading.Event()
        self.written = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                i = self.written
                with self.store.writer() as w:
                    row = w.upsert_account(ACC, "test")
                    w.add_posts(row, [PostSnapshot("mastodon", ACC.account_id, f"p{i}",
                                                   f"post number {i}")], "test")
                    w.add_capture(Capture("GET", f"https://w.example/api/{i}", utcnow(),
                                          status=200, body=f"body {i}".encode() * 50),
                                  row["id"])
                self.written += 1
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e


def _modes(root: Path) -> set[tuple[str, int]]:
    return {("d" if p.is_dir() else "f", stat.S_IMODE(p.stat().st_mode))
            for p in [root, *root.rglob("*")]}


def test_backup_while_writing_restores_verifies_and_chains(
        tmp_path: Path, db_url: str | None, request: pytest.FixtureRequest) -> None:
    home = tmp_path / "home"
    st = Store.open(home, db_url)
    seed(st)
    first = log.make_checkpoint(st)
    writer = Writer(st)
    writer.start()
    try:
        while writer.written < 5 and writer.error is None:  # the writer is going
            writer.join(0.01)
        before = writer.written
        res = make_backup(st, tmp_path / "bk", with_keys=True)
        during = writer.written - before
    finally:
        writer.stop.set()
        writer.join()
    assert writer.error is None
    assert during > 0, "the writer wrote nothing while the backup ran: not concurrent"
    st.close()
    assert res.blobs > 0 and not res.damaged
    assert _modes(tmp_path / "bk") <= {("d", 0o700), ("f", 0o600)}
    manifest = json.loads((tmp_path / "bk" / MANIFEST).read_text())
    assert manifest["checkpoint"]["size"] == first.size
    assert "keys/ledger.key" in manifest["files"] and "keys/ledger.pub" in manifest["files"]

    target_db = None
    if db_url is not None:
        target_db = request.getfixturevalue("pg_server").new_database()
    new_home = tmp_path / "restored"
    out = restore_backup(tmp_path / "bk", new_home, target_db)
    assert out.checkpoint is not None and out.checkpoint["size"] == first.size
    back = Store.open(new_home, target_db, create=False)
    try:
        rep = verify_archive(back)
        assert rep.ok, rep.summary()
        assert rep.checkpoints == 1
        size = back.ledger_size()
        assert size > first.size  # what the writer wrote before the snapshot is there
        # every post of the snapshot has its capture's blob (blobs copied after the rows)
        newer = log.make_checkpoint(back)  # refuses unless consistent with the old one
        assert newer.size == size
        proof = log.consistency_proof(back, first.size, newer.size)
        merkle.verify_consistency(first.size, newer.size, first.root, newer.root, proof)
    finally:
        back.close()


def test_keys_are_left_out_unless_asked_and_restore_says_so(tmp_path: Path) -> None:
    home = tmp_path / "home"
    st = Store.open(home)
    seed(st)
    log.make_checkpoint(st)
    (home / "web-secret").write_text("s" * 64)
    res = make_backup(st, tmp_path / "bk")
    st.close()
    names = set(json.loads((tmp_path / "bk" / MANIFEST).read_text())["files"])
    assert "keys/ledger.pub" in names
    assert "keys/ledger.key" not in names and "web-secret" not in names
    assert not (tmp_path / "bk" / "keys" / "ledger.key").exists()
    signer = (home / "keys" / "ledger.key").read_bytes()
    assert all(signer not in p.read_bytes() for p in (tmp_path / "bk").rglob("*") if p.is_file())
    assert res.with_keys is False
    r = cli_run(tmp_path / "new", None, "restore", str(tmp_path / "bk"))
    assert r.exit_code == 0, r.output
    assert "no signing key" in r.stderr
    assert cli_run(tmp_path / "new", None, "verify").exit_code == 0
    # the next checkpoint needs the key kept apart: without it, one clear line
    err = one_error_line(cli_run(tmp_path / "new", None, "checkpoint"), 1)
    assert "ledger key" in err or "signed by key" in err
    (tmp_path / "new" / "keys" / "ledger.key").write_bytes(signer)
    assert cli_run(tmp_path / "new", None, "checkpoint").exit_code == 0


def test_restore_refuses_a_home_that_is_not_empty(tmp_path: Path) -> None:
    st = Store.open(tmp_path / "home")
    seed(st)
    make_backup(st, tmp_path / "bk")
    st.close()
    full = tmp_path / "full"
    full.mkdir()
    (full / "something").write_text("x")
    err = one_error_line(cli_run(full, None, "restore", str(tmp_path / "bk")), 2)
    assert "not empty" in err
    assert sorted(p.name for p in full.iterdir()) == ["something"]
    err = one_error_line(cli_run(tmp_path / "x", None, "backup", str(tmp_path / "bk")), 1)
    assert "no archive" in err  # a home without an archive is not backed up
    err = one_error_line(cli_run(tmp_path / "home", None, "backup",
                                 str(tmp_path / "home" / "bk")), 2)
    assert "inside the home" in err and not (tmp_path / "home" / "bk").exists()
    st = Store.open(tmp_path / "home")
    try:
        with pytest.raises(Exception, match="not empty"):
            make_backup(st, tmp_path / "bk")  # never over another backup
    finally:
        st.close()


@pytest.mark.parametrize("damage", ["change", "remove", "add"])
def test_a_damaged_backup_is_refused_before_anything_is_written(
        tmp_path: Path, damage: str) -> None:
    st = Store.open(tmp_path / "home")
    seed(st)
    with st.writer() as w:
        row = w.upsert_account(ACC, "test")
        w.add_capture(Capture("GET", "https://w.example/", utcnow(), status=200,
                              body=b"evidence"), row["id"])
    make_backup(st, tmp_path / "bk")
    st.close()
    check_backup(tmp_path / "bk")
    blob = next(p for p in (tmp_path / "bk" / "blobs").rglob("*") if p.is_file())
    if damage == "change":
        blob.write_bytes(b"evidencf")
    elif damage == "remove":
        blob.unlink()
    else:
        (tmp_path / "bk" / "blobs" / "planted").write_bytes(b"x")
    with pytest.raises(BackupError):
        restore_backup(tmp_path / "bk", tmp_path / "new", None)
    assert not (tmp_path / "new").exists()
    assert [p for p in tmp_path.iterdir() if "restoring" in p.name] == []
    err = one_error_line(cli_run(tmp_path / "new", None, "restore", str(tmp_path / "bk")), 1)
    assert ("manifest" in err or "lacks" in err) and "blobs" in err


def test_cli_backup_prints_the_manifest_digest(tmp_path: Path) -> None:
    import hashlib

    st = Store.open(tmp_path / "home")
    seed(st)
    st.close()
    r = cli_run(tmp_path / "home", None, "backup", str(tmp_path / "bk"), "--json")
    assert r.exit_code == 0, r.output
    row = json.loads(r.stdout)
    want = hashlib.sha256((tmp_path / "bk" / MANIFEST).read_bytes()).hexdigest()
    assert row["manifest_sha256"] == want and row["with_keys"] is False
    assert os.stat(tmp_path / "bk").st_mode & 0o077 == 0


def test_settings_travel_without_their_secrets_unless_asked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    st = Store.open(home)
    seed(st)
    st.close()
    for k, v in (("require_proxy", "true"), ("proxy", "socks5h://tor:Pr0xyPw@127.0.0.1:9050"),
                 ("smtp.password", "SmtpPw0rd")):
        assert cli_run(home, None, "config", k, v).exit_code == 0
    assert cli_run(home, None, "backup", str(tmp_path / "plain")).exit_code == 0
    assert cli_run(home, None, "backup", str(tmp_path / "keys"), "--with-keys").exit_code == 0
    plain = (tmp_path / "plain" / "config.toml").read_text()
    assert "require_proxy = true" in plain and "SmtpPw0rd" not in plain
    assert "SmtpPw0rd" in (tmp_path / "keys" / "config.toml").read_text()
    assert all(b"SmtpPw0rd" not in p.read_bytes()
               for p in (tmp_path / "plain").rglob("*") if p.is_file())
    # restored: Tor-only mode is still on (a network command without a proxy stops)
    assert cli_run(tmp_path / "r", None, "restore", str(tmp_path / "plain")).exit_code == 0
    r = cli_run(tmp_path / "r", None, "config", "require_proxy")
    assert "true" in r.output


def test_an_encrypted_home_backs_up_encrypted_and_restores(tmp_path: Path) -> None:
    from encrypt_world import PASS, init_encrypted, needles_of, open_store, run, scan

    home = tmp_path / "enc"
    init_encrypted(home)
    st = open_store(home)
    try:
        seed(st)
        with st.writer() as w:
            row = w.upsert_account(ACC, "test")
            w.add_capture(Capture("GET", "https://w.example/api/secretpath", utcnow(),
                                  status=200, body=b"an erased post about censorship"),
                          row["id"])
        log.make_checkpoint(st)
        needles = needles_of(st) | {"an erased post about censorship", "w.example/api"}
        first = log.tree_size(st)
    finally:
        st.close()
    assert scan(home, needles) == {}
    r = run(home, "backup", str(tmp_path / "bk"), "--json")
    assert r.exit_code == 0, r.output
    row_out = json.loads(r.stdout)
    assert row_out["damaged_blobs"] == [] and row_out["blobs"] >= 1
    manifest = json.loads((tmp_path / "bk" / MANIFEST).read_text())
    assert manifest["encrypted"] is True and "keys/data-key.json" in manifest["files"]
    assert "keys/ledger.key" not in manifest["files"]
    assert scan(tmp_path / "bk", needles) == {}  # the backup is no more readable
    # restored: opens with the passphrase only, verifies, chains
    r = run(tmp_path / "back", "restore", str(tmp_path / "bk"))
    assert r.exit_code == 0, r.output
    assert scan(tmp_path / "back", needles) == {}
    assert run(tmp_path / "back", "verify", passphrase="wrong horse").exit_code == 1
    r = run(tmp_path / "back", "verify")
    assert r.exit_code == 0, r.output
    r = run(tmp_path / "back", "search", "censorship", "--json")
    assert r.exit_code == 0 and "censorship" in r.stdout
    (tmp_path / "back" / "keys" / "ledger.key").write_bytes(
        (home / "keys" / "ledger.key").read_bytes())
    back = open_store(tmp_path / "back", passphrase=PASS)
    try:
        with back.writer() as w:
            w.add_posts(w.upsert_account(ACC, "test"),
                        [PostSnapshot("mastodon", ACC.account_id, "after", "after restore")],
                        "test")
        cp = log.make_checkpoint(back)  # refuses unless consistent with the old ones
        assert cp.size > first
    finally:
        back.close()


def test_a_redacted_archive_backs_up_restores_and_verifies(tmp_path: Path) -> None:
    home = tmp_path / "home"
    st = Store.open(home)
    seed(st)
    log.make_checkpoint(st)
    st.close()
    r = cli_run(home, None, "redact", "x:alice", "--account", "--reason",
                "asked to be forgotten", "--yes")
    assert r.exit_code == 0, r.output
    assert cli_run(home, None, "backup", str(tmp_path / "bk")).exit_code == 0
    assert all(b"alice says hello" not in p.read_bytes()
               for p in (tmp_path / "bk").rglob("*") if p.is_file())
    assert cli_run(tmp_path / "r", None, "restore", str(tmp_path / "bk")).exit_code == 0
    r = cli_run(tmp_path / "r", None, "verify", "--json")
    assert r.exit_code == 0, r.output
    assert "redact" in r.stdout
