"""Shareable exports: ``--account/--tag/--since/--status`` on every format,
``--pseudonymise`` (keyed pseudonyms, nothing that names a person) and ``--encrypt-to``
(age; decrypted here with the identity)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import stat
from pathlib import Path

import pyrage
import pytest

from cli_world import BSKY, X_ALICE, cli_run, one_error_line, seed
from unerased.model import Capture, PostSnapshot, parse_iso
from unerased.store import Store

PLANTED = ('"alice"', "Alice", "1001", "alice.bsky.social", "https://x.com/alice", "did:plc:abcdefgh",
           "bob@social.example", "friend.example")


@pytest.fixture
def world(home: Path, db_url: str | None) -> dict[str, int]:
    st = Store.open(home, db_url)
    try:
        rows = seed(st)
        with st.writer() as w:
            w.update_account(rows["bsky"], tags_json=json.dumps({"region": "fujian"}))
            pk = w.post_pks(rows["x_alice"], ["555"])["555"]
            w.update_post(pk, status="deleted", created_at="2024-06-01T00:00:00Z")
            alice = w.account_row(X_ALICE.platform, X_ALICE.account_id)
            bsky = w.account_row(BSKY.platform, BSKY.account_id)
            assert alice is not None and bsky is not None
            for acc, url, when in ((alice, "https://x.com/alice/status/1", "2024-05-01"),
                                   (alice, "https://x.com/alice/status/2", "2024-07-01"),
                                   (bsky, "https://bsky.example/xrpc/feed", "2024-07-01")):
                at = parse_iso(when + "T00:00:00Z")
                assert at is not None
                w.add_capture(Capture("GET", url, at, status=200, body=url.encode()),
                              acc["id"])
            # a post whose text mentions people and links: pseudonymised away
            w.add_posts(alice, [PostSnapshot(
                "x", "1001", "999", "hi @friend.example see https://friend.example/x",
                url="https://x.com/alice/status/999")], "import:test")
    finally:
        st.close()
    return rows


def _export(home: Path, db: str | None, fmt: str, out: Path, *args: str) -> None:
    r = cli_run(home, db, "export", fmt, str(out), *args)
    assert r.exit_code == 0, r.output


def _jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_filters_on_jsonl_and_csv(world: dict[str, int], home: Path, db_url: str | None,
                                  tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    _export(home, db_url, "jsonl", out)
    every = _jsonl(out)
    assert len(every) == 8
    _export(home, db_url, "jsonl", out, "--account", "x:alice")
    assert {p["post_id"] for p in _jsonl(out)} == {"123", "555", "999"}
    _export(home, db_url, "jsonl", out, "--account", "x:alice", "--account", "row:"
            + str(world["masto"]))
    assert {p["account_id"] for p in _jsonl(out)} == {"1001", "109@social.example"}
    _export(home, db_url, "jsonl", out, "--status", "deleted")
    assert [p["post_id"] for p in _jsonl(out)] == ["555"]
    _export(home, db_url, "jsonl", out, "--since", "2024-05-15")
    assert [p["post_id"] for p in _jsonl(out)] == ["555"]
    _export(home, db_url, "jsonl", out, "--tag", "region=fujian")
    assert {p["account_id"] for p in _jsonl(out)} == {"did:plc:abcdefgh"}
    _export(home, db_url, "jsonl", out, "--tag", "region=fujian", "--account", "x:alice")
    assert _jsonl(out) == []  # every filter applies
    _export(home, db_url, "csv", tmp_path / "a.csv", "--account", "x:alice",
            "--status", "deleted")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "a.csv").read_text())))
    assert [r["post_id"] for r in rows] == ["555"]
    err = one_error_line(cli_run(home, db_url, "export", "jsonl", str(out), "--account",
                                 "x:nobody"), 1)
    assert "nobody" in err


def test_filters_on_warc(world: dict[str, int], home: Path, db_url: str | None,
                         tmp_path: Path) -> None:
    out = tmp_path / "a.warc"
    _export(home, db_url, "warc", out, "--account", "x:alice")
    data = gzip.decompress(out.read_bytes())
    assert b"x.com/alice/status/1" in data and b"bsky.example" not in data
    _export(home, db_url, "warc", out, "--account", "x:alice", "--since", "2024-06-01")
    data = gzip.decompress(out.read_bytes())
    assert b"x.com/alice/status/2" in data and b"x.com/alice/status/1" not in data
    _export(home, db_url, "warc", out, "--tag", "region=fujian")
    data = gzip.decompress(out.read_bytes())
    assert b"bsky.example" in data and b"x.com/alice" not in data
    err = one_error_line(cli_run(home, db_url, "export", "warc", str(out), "--status",
                                 "deleted"), 2)
    assert "--status" in err
    err = one_error_line(cli_run(home, db_url, "export", "warc", str(out),
                                 "--pseudonymise"), 2)
    assert "warc" in err


def test_pseudonymised_export_names_nobody(world: dict[str, int], home: Path,
                                           db_url: str | None, tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    _export(home, db_url, "jsonl", a, "--pseudonymise")
    _export(home, db_url, "jsonl", b, "--pseudonymise")
    _export(home, db_url, "csv", tmp_path / "a.csv", "--pseudonymise")
    for path in (a, tmp_path / "a.csv"):
        text = path.read_text()
        for secret in PLANTED:
            assert secret not in text, (path.name, secret)
    assert a.read_text() == b.read_text()  # stable
    posts = _jsonl(a)
    assert len(posts) == 8
    alice = [p for p in posts if p["platform"] == "x" and "censorship" in str(p["text"])]
    assert len({p["account"] for p in alice}) == 1
    assert str(alice[0]["account"]).startswith("acct_")
    assert all(p["url"] is None for p in posts)
    mention = next(p for p in posts if "<url>" in str(p["text"]))
    assert str(mention["text"]).startswith("hi @ref_")
    key = home / "keys" / "pseudonym.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    # another key (another home): other pseudonyms
    key.write_text("ab" * 32)
    _export(home, db_url, "jsonl", b, "--pseudonymise")
    assert {p["account"] for p in _jsonl(b)}.isdisjoint({p["account"] for p in posts})


@pytest.mark.parametrize("fmt", ["jsonl", "warc"])
def test_encrypted_export_decrypts_with_the_identity(
        world: dict[str, int], home: Path, db_url: str | None, tmp_path: Path,
        fmt: str) -> None:
    ident = pyrage.x25519.Identity.generate()
    other = pyrage.x25519.Identity.generate()
    plain = tmp_path / f"p.{fmt}"
    _export(home, db_url, fmt, plain, "--account", "x:alice")
    r = cli_run(home, db_url, "export", fmt, str(tmp_path / f"e.{fmt}"), "--account",
                "x:alice", "--encrypt-to", str(ident.to_public()),
                "--encrypt-to", str(other.to_public()))
    assert r.exit_code == 0, r.output
    assert not (tmp_path / f"e.{fmt}").exists()
    sealed = (tmp_path / f"e.{fmt}.age").read_bytes()
    assert sealed.startswith(b"age-encryption.org/v1")
    assert b"x.com/alice" not in sealed and b"alice" not in sealed
    assert stat.S_IMODE((tmp_path / f"e.{fmt}.age").stat().st_mode) == 0o600
    opened = pyrage.decrypt(sealed, [ident])
    assert pyrage.decrypt(sealed, [other]) == opened  # every recipient can open it
    if fmt == "jsonl":
        assert opened == plain.read_bytes()
    else:  # WARC record ids and dates differ between two runs: the records are there
        got = gzip.decompress(opened)
        assert got.count(b"WARC-Type: response") == gzip.decompress(
            plain.read_bytes()).count(b"WARC-Type: response") > 0
    assert list(tmp_path.glob("*.part")) == []


def test_encrypt_to_stdout_and_bad_recipients(world: dict[str, int], home: Path,
                                              db_url: str | None) -> None:
    ident = pyrage.x25519.Identity.generate()
    r = cli_run(home, db_url, "export", "jsonl", "-", "--pseudonymise", "--encrypt-to",
                str(ident.to_public()))
    assert r.exit_code == 0, r.output
    opened = pyrage.decrypt(r.stdout_bytes, [ident]).decode()
    assert len(opened.splitlines()) == 8
    assert '"alice"' not in opened and "x.com/alice" not in opened
    err = one_error_line(cli_run(home, db_url, "export", "jsonl", "-", "--encrypt-to",
                                 "age1notarecipient"), 2)
    assert "age recipient" in err
