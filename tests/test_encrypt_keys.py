"""An encrypted home's keys: key files, passphrase change, key rotation (a rotation
killed at every step leaves a home that opens and verifies, and a second run finishes
it), the key lock, the KDF's defaults, `wipe`, PostgreSQL (blobs sealed) — and the
warning for a home in a synced folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_proc import SRC, unerased_run
from encrypt_world import PASS, files_of, init_encrypted, needles_of, open_store, run, scan
from unerased.errors import KeyLocked
from unerased.store import Store
from unerased.store._engine import sqlcipher_connect
from unerased.vault import (
    CURRENT_FILE,
    DEFAULT_KDF,
    NEXT_FILE,
    Secret,
    create_keys,
    synced_folder,
    unlock,
)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample") / "sample.zip"
    r = run(out.parent / "unused", "sample-archive", str(out), "--kind", "twitter-archive",
            "--posts", "2000")
    assert r.exit_code == 0, r.output
    return out


def _filled(home: Path, sample: Path, db: str | None = None, *extra: str) -> Path:
    init_encrypted(home, db, *extra)
    r = run(home, "import", "twitter-archive", str(sample), db=db,
            key_file=None if not extra else Path(extra[-1]), passphrase=PASS)
    assert r.exit_code == 0, r.output
    r = run(home, "checkpoint", db=db)  # the ledger's signing key: sealed too
    assert r.exit_code == 0, r.output
    return home


def _blobs(store: Store) -> dict[str, bytes]:
    return {d: store.blobs.read(d) for d in store.blobs.iter_digests()}


# ------------------------------------------------------------------ key files


def test_a_key_file_unlocks_the_home_and_nothing_else_does(tmp_path: Path, sample: Path
                                                          ) -> None:
    home, kf = tmp_path / "h", tmp_path / "usb" / "home.key"
    kf.parent.mkdir()
    r = run(home, "init", "--key-file", str(kf), passphrase=None)
    assert r.exit_code == 0, r.output
    assert "made a new key file" in r.stderr
    assert kf.stat().st_mode & 0o777 == 0o600 and len(kf.read_bytes().strip()) >= 32
    assert json.loads((home / "keys" / CURRENT_FILE).read_text())["unlock"] == "key-file"
    r = run(home, "import", "twitter-archive", str(sample), key_file=kf, passphrase=None)
    assert r.exit_code == 0, r.output
    r = run(home, "verify", passphrase=None, env={"UNERASED_KEY_FILE": str(kf)})
    assert r.exit_code == 0, r.output
    r = run(home, "verify", passphrase=PASS)  # a passphrase cannot open it
    assert r.exit_code == 1 and "unlocked by a key file" in r.stderr
    other = tmp_path / "other.key"
    other.write_bytes(os.urandom(48))
    r = run(home, "verify", key_file=other, passphrase=None)
    assert r.exit_code == 1
    assert r.stderr.strip() == (f"unerased: error: wrong key file {other} for the archive's "
                                f"key {home}/keys/{CURRENT_FILE}")
    short = tmp_path / "short.key"
    short.write_bytes(b"too short")
    assert run(home, "verify", key_file=short, passphrase=None).exit_code == 2


def test_a_key_file_inside_the_home_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "h"
    r = run(home, "init", "--key-file", str(home / "k.key"))
    assert r.exit_code == 2 and "inside the home" in r.stderr
    assert not (home / "keys").exists()


# ------------------------------------------------------------------ passphrase change


def test_change_passphrase_rewraps_the_key_only(tmp_path: Path, sample: Path) -> None:
    home = _filled(tmp_path / "h", sample)
    blobs_before = {p: b for p, b in files_of(home).items() if p.startswith("blobs/")}
    r = run(home, "key", "change-passphrase", env={"UNERASED_NEW_PASSPHRASE": "new words"})
    assert r.exit_code == 0, r.output
    assert {p: b for p, b in files_of(home).items() if p.startswith("blobs/")} == blobs_before
    with pytest.raises(KeyLocked, match="wrong passphrase"):
        unlock(home, Secret(passphrase=PASS))
    assert run(home, "verify", passphrase="new words").exit_code == 0
    # the cheap Argon2id parameters of the home were kept
    kdf = json.loads((home / "keys" / CURRENT_FILE).read_text())["kdf"]
    assert (kdf["memory_kib"], kdf["iterations"]) == (1024, 1)
    # and to a key file
    kf = tmp_path / "k.key"
    r = run(home, "key", "change-passphrase", "--new-key-file", str(kf), passphrase="new words")
    assert r.exit_code == 0, r.output
    assert run(home, "verify", key_file=kf, passphrase=None).exit_code == 0
    assert run(home, "verify", passphrase="new words").exit_code == 1


# ------------------------------------------------------------------ rotation

_KILL = """
import os, signal, sys
from pathlib import Path
from unerased.store import rotate_keys
from unerased.vault import Secret
home, what, at, pw = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def step(w, n):
    if w == what and n == at:
        os.kill(os.getpid(), signal.SIGKILL)
rotate_keys(Path(home), None, Secret(passphrase=pw), step=step)
"""


@pytest.mark.parametrize("what,at", [("pending", 0), ("blob", 1), ("blob", 12),
                                     ("database", 0)])
def test_a_killed_rotation_leaves_a_home_that_opens_and_a_rerun_finishes_it(
        tmp_path: Path, sample: Path, what: str, at: int) -> None:
    home = _filled(tmp_path / "h", sample)
    store = open_store(home)
    blobs = _blobs(store)
    old_key = unlock(home, Secret(passphrase=PASS)).current
    store.close()
    assert len(blobs) > 12
    env = dict(os.environ, PYTHONPATH=str(SRC))
    p = subprocess.run([sys.executable, "-c", _KILL, str(home), what, str(at), PASS],
                       env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == -9, p.stderr  # killed mid-way
    assert (home / "keys" / NEXT_FILE).exists()
    # the home opens with the same passphrase, every blob reads back, verify passes
    store = open_store(home)
    assert _blobs(store) == blobs
    store.close()
    r = unerased_run(home, None, "verify", env={"UNERASED_PASSPHRASE": PASS})
    assert r.returncode == 0, r.stderr
    assert "a key rotation of the archive at" in r.stderr and "was interrupted" in r.stderr
    r = run(home, "key", "change-passphrase", env={"UNERASED_NEW_PASSPHRASE": "other"})
    assert r.exit_code == 1 and "finish it first" in r.stderr
    # a second run finishes it: the old key is gone, nothing is sealed by it any more
    r = run(home, "key", "rotate")
    assert r.exit_code == 0, r.output
    assert not (home / "keys" / NEXT_FILE).exists()
    keys = unlock(home, Secret(passphrase=PASS))
    assert keys.pending is None and keys.current.key_id != old_key.key_id
    store = open_store(home)
    assert {store.blobs.stored_key_id(d) for d in blobs} == {keys.current.key_id}
    assert _blobs(store) == blobs
    store.close()
    signer = (home / "keys" / "ledger.key").read_bytes()
    assert signer[5:13] == keys.current.key_id  # re-sealed under the new key
    assert run(home, "checkpoint").exit_code == 0  # and still signs
    with pytest.raises(Exception, match="not a database"):
        sqlcipher_connect(home / "unerased.sqlite", old_key.db_key)
    assert run(home, "verify").exit_code == 0


def test_rotation_refuses_while_another_process_has_the_home_open(tmp_path: Path,
                                                                   sample: Path) -> None:
    home = _filled(tmp_path / "h", sample)
    store = open_store(home)  # holds the key lock shared, as a collector would
    try:
        before = files_of(home)
        r = run(home, "key", "rotate")
        assert r.exit_code == 1 and "in use by another unerased process" in r.stderr
        assert files_of(home) == before
    finally:
        store.close()
    assert run(home, "key", "rotate").exit_code == 0


# ------------------------------------------------------------------ the defaults


def test_the_default_kdf_parameters(tmp_path: Path) -> None:
    """The one test of the real cost (Argon2id, 3 passes over 64 MiB, 4 lanes)."""
    assert (DEFAULT_KDF.iterations, DEFAULT_KDF.memory_kib, DEFAULT_KDF.lanes) == (3, 65536, 4)
    home = tmp_path / "h"
    keys = create_keys(home, Secret(passphrase=PASS))
    kdf = json.loads((home / "keys" / CURRENT_FILE).read_text())["kdf"]
    assert kdf["name"] == "argon2id"
    assert (kdf["iterations"], kdf["memory_kib"], kdf["lanes"]) == (3, 65536, 4)
    assert len(kdf["salt"]) == 24  # 16 random bytes, base64
    assert (home / "keys").stat().st_mode & 0o777 == 0o700  # owner-only
    assert (home / "keys" / CURRENT_FILE).stat().st_mode & 0o777 == 0o600
    assert unlock(home, Secret(passphrase=PASS)).current == keys.current
    with pytest.raises(KeyLocked):
        unlock(home, Secret(passphrase=PASS + " "))


def test_changed_kdf_parameters_on_disk_fail_the_unwrap(tmp_path: Path) -> None:
    home = tmp_path / "h"
    init_encrypted(home)
    path = home / "keys" / CURRENT_FILE
    doc = json.loads(path.read_text())
    doc["kdf"]["iterations"] = 2  # an attacker cannot quietly weaken it
    path.write_text(json.dumps(doc))
    r = run(home, "verify")
    assert r.exit_code == 1 and "wrong passphrase" in r.stderr


# ------------------------------------------------------------------ wipe


def test_wipe_destroys_the_keys_then_the_home(tmp_path: Path, sample: Path) -> None:
    home = _filled(tmp_path / "h", sample)
    peek = tmp_path / "peek"  # another name of the wrapped key's inode
    os.link(home / "keys" / CURRENT_FILE, peek)
    original = peek.read_bytes()
    r = run(home, "wipe")  # no confirmation: refused
    assert r.exit_code == 2 and "not confirmed" in r.stderr
    assert peek.read_bytes() == original and (home / "unerased.sqlite").exists()
    r = run(home, "wipe", input="n\n")
    assert r.exit_code == 2 and (home / "unerased.sqlite").exists()
    r = run(home, "wipe", "--yes", passphrase=None)  # needs no passphrase
    assert r.exit_code == 0, r.output
    assert not home.exists()
    assert peek.read_bytes() != original  # overwritten in place before the unlink
    with pytest.raises(ValueError):
        json.loads(peek.read_bytes())


def test_wipe_refuses_what_is_not_a_home(tmp_path: Path) -> None:
    d = tmp_path / "documents"
    d.mkdir()
    (d / "letter.txt").write_text("keep me")
    r = run(d, "wipe", "--yes")
    assert r.exit_code == 1 and "not an unerased home" in r.stderr
    assert (d / "letter.txt").read_text() == "keep me"


# ------------------------------------------------------------------ synced folders


@pytest.mark.parametrize("parts", [("Dropbox", "h"), ("OneDrive - Example Org", "x", "h"),
                                   ("Library", "Mobile Documents", "com~apple~CloudDocs", "h"),
                                   ("Google Drive", "h"), ("Nextcloud", "h")])
def test_a_synced_folder_is_seen_by_its_name(tmp_path: Path, parts: tuple[str, ...]) -> None:
    assert synced_folder(tmp_path.joinpath(*parts)) is not None


@pytest.mark.parametrize("marker", [".stfolder", ".dropbox", "._sync_abc123.db"])
def test_a_synced_folder_is_seen_by_its_marker(tmp_path: Path, marker: str) -> None:
    top = tmp_path / "shared-docs"
    (top / "a").mkdir(parents=True)
    home = top / "a" / "home"
    assert synced_folder(home) is None
    (top / marker).mkdir() if marker == ".stfolder" else (top / marker).write_text("")
    assert synced_folder(home) is not None


def test_a_command_on_a_home_in_a_synced_folder_warns_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "Dropbox" / "archive"
    assert run(home, "init", passphrase=None).exit_code == 0
    r = unerased_run(home, None, "events")  # a real process: its stderr as a user sees it
    assert r.returncode == 0, r.stderr
    warnings = [ln for ln in r.stderr.splitlines() if "warning" in ln]
    assert warnings == [
        f"unerased: warning: the archive home is in a synced folder ({tmp_path}/Dropbox looks "
        "like a Dropbox folder): its copies leave this machine and escape `unerased wipe`"]
    elsewhere = tmp_path / "elsewhere"
    assert run(elsewhere, "init", passphrase=None).exit_code == 0
    r = unerased_run(elsewhere, None, "events")
    assert r.returncode == 0 and "warning" not in r.stderr


# ------------------------------------------------------------------ both backends


def test_blobs_are_sealed_on_both_backends(tmp_path: Path, sample: Path, db_url: str | None
                                            ) -> None:
    """With PostgreSQL the database is the operator's to protect (docs/encryption.md);
    the blobs in the home are sealed all the same, and rotate re-seals them."""
    home = _filled(tmp_path / "h", sample, db_url)
    store = open_store(home, db_url)
    needles = needles_of(store)
    blobs = _blobs(store)
    store.close()
    assert len(blobs) > 12
    for d in blobs:
        raw = (home / "blobs" / d[:2] / d[2:4] / d).read_bytes()
        assert raw.startswith(b"UNRB\x01")
    found = scan(home, needles)
    assert found == {}
    assert run(home, "verify", db=db_url).exit_code == 0
    r = run(home, "key", "rotate", db=db_url)
    assert r.exit_code == 0, r.output
    store = open_store(home, db_url)
    assert _blobs(store) == blobs
    store.close()
    assert run(home, "verify", db=db_url).exit_code == 0


def test_a_rotation_killed_at_arbitrary_moments_never_loses_the_home(tmp_path: Path,
                                                                     sample: Path) -> None:
    """`unerased key rotate` as a real process, SIGKILLed after a growing delay (inside a
    blob's write, the re-key's transaction or between steps, wherever it falls): every
    time the home opens with the passphrase and every blob reads back."""
    import signal
    import time

    from cli_proc import spawn

    home = _filled(tmp_path / "h", sample)
    store = open_store(home)
    blobs = _blobs(store)
    store.close()
    env = {"UNERASED_PASSPHRASE": PASS}
    for delay in (0.05, 0.2, 0.4, 0.7, 1.0, 1.5):
        p = spawn(home, None, "key", "rotate", env=env)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=60)
        store = open_store(home)
        assert _blobs(store) == blobs, delay
        store.close()
    r = run(home, "key", "rotate")
    assert r.exit_code == 0, r.output
    assert not (home / "keys" / NEXT_FILE).exists()
    assert run(home, "verify").exit_code == 0
