"""An encrypted home through the command line: real platform exports imported and a
watch of the simulated platform on loopback, then no post text, handle or URL in any
file of the home (database, WAL, blobs, temp files, keys) — while a plain home made the
same way shows them; every command that opens the store works on it; a wrong or
missing passphrase is one line and changes nothing."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from encrypt_world import PASS, files_of, init_encrypted, needles_of, open_store, run, scan
from shared_data import ARCHIVES
from sim_server import SimServer
from unerased.model import PostSnapshot
from unerased.sim.platform import HOST, SimPlatform
from unerased.store import Store
from unerased.vault import OVERHEAD

X_ARCHIVE = ARCHIVES / "x-2020-e31415926" / "archive.zip"
MASTODON_ARCHIVE = ARCHIVES / "mastodon-2021-o3o" / "archive.zip"


def _sim() -> SimPlatform:
    sim = SimPlatform(seed=11)
    now = datetime.now(UTC)
    for a in range(2):
        acc = sim.add_account(f"canaryuser{a}", f"Canary Person {a}")
        for i in range(3):
            sim.post(acc, f"canary watched post {a}-{i} 被删除的帖子", at=now - timedelta(hours=i + 1))
    return sim


def _fill(home: Path, encrypted: bool, srv: SimServer) -> None:
    for kind, path in (("twitter-archive", X_ARCHIVE), ("mastodon-archive", MASTODON_ARCHIVE)):
        r = run(home, "import", kind, str(path))
        assert r.exit_code == 0, r.output
    for a in range(2):
        r = run(home, "watch", "add", f"mastodon:@canaryuser{a}@{HOST}", "--service", srv.base)
        assert r.exit_code == 0, r.output
    r = run(home, "poll", "--once")
    assert r.exit_code == 0, r.output


def test_no_plaintext_anywhere_in_an_encrypted_home(tmp_path: Path) -> None:
    enc, plain = tmp_path / "enc", tmp_path / "plain"
    init_encrypted(enc)
    assert run(plain, "init").exit_code == 0
    with SimServer(_sim()) as srv:
        _fill(enc, True, srv)
        _fill(plain, False, srv)
    store = open_store(enc)
    needles = needles_of(store)
    assert any("canary watched post" in n for n in needles)  # the watch was archived
    assert len(needles) > 500  # both exports' texts, handles, URLs
    # a write left uncheckpointed: the -wal file holds fresh pages; a staged temp blob
    with store.writer() as w:
        acc = store.list_accounts()[0]
        w.add_posts(acc, [PostSnapshot(acc["platform"], acc["account_id"], "wal-only",
                                       "canary text only in the write-ahead log")], "test")
    needles.add("canary text only in the write-ahead log")
    tmp = store.blobs.staging()
    tmp.add(b"canary staged blob https://staged.example/secret")
    needles.add("https://staged.example/secret")
    assert (enc / "unerased.sqlite-wal").stat().st_size > 0
    try:
        found = scan(enc, needles)
    finally:
        tmp.discard()
        store.close()
    assert found == {}
    # the same scan finds them in a plain home made the same way: the scan can fail
    plain_store = Store.open(plain, create=False)
    plain_found = scan(plain, needles_of(plain_store))
    plain_store.close()
    assert "unerased.sqlite" in plain_found and any(k.startswith("blobs/") for k in plain_found)


@pytest.fixture
def enc_home(tmp_path: Path) -> Path:
    home = tmp_path / "enc"
    init_encrypted(home)
    for kind, path in (("twitter-archive", X_ARCHIVE), ("mastodon-archive", MASTODON_ARCHIVE)):
        r = run(home, "import", kind, str(path), "--json")
        assert r.exit_code == 0, r.output
    return home


def test_every_reading_command_works_on_an_encrypted_home(enc_home: Path, tmp_path: Path
                                                          ) -> None:
    store = open_store(enc_home)
    acc = store.list_accounts()[0]
    post = next(iter(store.iter_posts(account_pk=acc["id"])))
    uri = store.account_json(acc)["uri"]
    store.close()
    word = post["text"].split()[0]
    r = run(enc_home, "search", word, "--json")
    assert r.exit_code == 0 and any(p["post_id"] == post["post_id"]
                                    for p in map(json.loads, r.stdout.splitlines()))
    r = run(enc_home, "verify", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.splitlines()[-1])["leaves"] > 1000
    assert run(enc_home, "checkpoint").exit_code == 0
    signer = (enc_home / "keys" / "ledger.key").read_bytes()  # sealed; its public key not
    assert signer.startswith(b"UNRB\x01") and b"PRIVATE+KEY" not in signer
    assert (enc_home / "keys" / "ledger.pub").read_text().count("+") >= 2
    out = tmp_path / "r.zip"
    r = run(enc_home, "receipt", post["post_id"], str(out))
    assert r.exit_code == 0, r.output
    r = run(enc_home, "verify", "--receipt", str(out))
    assert r.exit_code == 0, r.output
    with zipfile.ZipFile(out) as zf:  # the receipt carries plaintext blobs, as always
        manifest = json.loads(zf.read("manifest.json"))
        for b in manifest["blobs"]:
            assert len(zf.read(f"blobs/{b['sha256']}")) == b["size"]
    r = run(enc_home, "export", "jsonl", str(tmp_path / "e.jsonl"))
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert post["text"] in {x["text"] for x in rows}
    for args in (["posts", uri], ["events"], ["watch", "list"], ["status"],
                 ["export", "warc", str(tmp_path / "c.warc.gz")]):
        r = run(enc_home, *args)
        assert r.exit_code == 0, (args, r.output)


def test_a_wrong_passphrase_is_one_line_and_changes_nothing(enc_home: Path) -> None:
    before = files_of(enc_home)
    for args in (["search", "a"], ["verify"], ["import", "twitter-archive", str(X_ARCHIVE)],
                 ["key", "rotate"], ["key", "change-passphrase"]):
        r = run(enc_home, *args, passphrase="not the passphrase",
                env={"UNERASED_NEW_PASSPHRASE": "x"})
        assert r.exit_code == 1, (args, r.output)
        lines = r.stderr.splitlines()
        assert lines == [f"unerased: error: wrong passphrase for the archive's key "
                         f"{enc_home}/keys/data-key.json"], args
    assert files_of(enc_home) == before


def test_no_passphrase_at_all_is_a_usage_error(enc_home: Path) -> None:
    r = run(enc_home, "search", "a", passphrase=None)  # no env, the prompt gets nothing
    assert r.exit_code == 2
    assert r.stderr.splitlines()[-1].startswith("unerased: error: no passphrase given")
    r = run(enc_home, "search", "a", passphrase=None, input=PASS + "\n")  # typed at the prompt
    assert r.exit_code == 0, r.output


def test_init_prompts_twice_and_refuses_a_home_that_exists(tmp_path: Path) -> None:
    home = tmp_path / "h"
    r = run(home, "init", "--encrypt", "--kdf-memory", "1", "--kdf-iterations", "1",
            passphrase=None, input="one\ntwo\none\none\n")
    assert r.exit_code == 0, r.output
    assert "do not match" in r.output.lower() or "match" in r.output.lower()
    assert "unerased: warning: a passphrase of fewer than 12 characters" in r.stderr
    assert open_store(home, passphrase="one").ledger_size() == 0
    r = run(home, "init", "--encrypt")
    assert r.exit_code == 1 and "there is an archive" in r.stderr
    other = tmp_path / "full"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    r = run(other, "init")
    assert r.exit_code == 1 and "not empty" in r.stderr
    assert (other / "notes.txt").read_text() == "mine"


def test_a_tampered_blob_is_named_by_verify_and_reads_fail_clearly(enc_home: Path,
                                                                    tmp_path: Path) -> None:
    store = open_store(enc_home)
    digest = next(iter(store.blobs.iter_digests()))
    path = store.blobs.path(digest)
    store.close()
    raw = bytearray(path.read_bytes())
    assert len(raw) >= OVERHEAD
    raw[-20] ^= 1
    path.write_bytes(bytes(raw))
    r = run(enc_home, "verify")
    assert r.exit_code == 1
    assert f"blob {digest} fails authentication" in r.stderr
    assert "Traceback" not in r.output
    store = open_store(enc_home)
    with pytest.raises(Exception, match="fails authentication"):
        store.blobs.read(digest)
    store.close()


def test_a_plain_home_is_unchanged_by_default(tmp_path: Path) -> None:
    home = tmp_path / "p"
    r = run(home, "init")
    assert r.exit_code == 0 and "not encrypted" in r.output
    assert not (home / "keys" / "data-key.json").exists()
    assert (home / "unerased.sqlite").read_bytes()[:16] == b"SQLite format 3\x00"
    r = run(home, "import", "twitter-archive", str(X_ARCHIVE), passphrase=None)
    assert r.exit_code == 0, r.output  # never asks a plain home for a passphrase


def test_the_web_ui_serves_an_encrypted_home(tmp_path: Path) -> None:
    """`serve` opens the store through the same context; here the app itself over an
    encrypted store: pages, search and a blob download give the plaintext."""
    import hashlib

    from web_world import PNG, make_web

    home = tmp_path / "enc"
    init_encrypted(home)
    web = make_web(home, store=open_store(home))
    try:
        c = web.logged_in("admin")
        r = c.get("/api/search", params={"q": "media"})
        assert r.status_code == 200 and "with media" in r.text
        digest = hashlib.sha256(PNG).hexdigest()
        r = c.get(f"/blobs/{digest}")
        assert r.status_code == 200 and r.content == PNG
        raw = web.store.blobs.path(digest).read_bytes()
        assert PNG not in raw and raw.startswith(b"UNRB\x01")
    finally:
        web.close()


def test_run_works_on_an_encrypted_home(enc_home: Path) -> None:
    r = run(enc_home, "run", "--for", "0.5")
    assert r.exit_code == 0, r.output
    r = run(enc_home, "run", "--for", "0.5", passphrase="wrong")
    assert r.exit_code == 1 and "wrong passphrase" in r.stderr


def test_without_sqlcipher_init_encrypt_names_the_extra_and_makes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "sqlcipher3", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "sqlcipher3.dbapi2", None)
    home = tmp_path / "h"
    r = run(home, "init", "--encrypt", passphrase=None)  # not even asked
    assert r.exit_code == 2
    assert r.stderr.strip().endswith("pip install 'unerased[encrypt]'")
    assert not home.exists()
