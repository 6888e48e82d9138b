"""Receipts: written from the archive, verified with nothing else at hand, and rejected
when any member is touched, removed or added. Also the RFC 3161 timestamp of a
checkpoint through an (in-test) authority."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asn1crypto import cms, tsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select, update

from test_verify import build, invoke, post, sql
from unerased.errors import AmbiguousError, NotFound
from unerased.ledger import log, note
from unerased.ledger.receipt import (
    KEY_WARNING,
    ReceiptError,
    verify_receipt,
    write_receipt,
)
from unerased.model import canonical_json
from unerased.store import Store
from unerased.store import _schema as schema

# --------------------------------------------------------------------------- helpers


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def rewrite(src: Path, dst: Path, change: Callable[[dict[str, bytes]], dict[str, bytes]]) -> Path:
    out = change(members(src))
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in out.items():
            zf.writestr(name, data)
    return dst


def flip(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at % len(b)] ^= 0x01
    return bytes(b)


Change = Callable[[dict[str, bytes]], dict[str, bytes]]


def replaced(name: str, fn: Callable[[bytes], bytes]) -> Change:
    return lambda m: {**m, name: fn(m[name])}


def flipped(name: str, at: int) -> Change:
    return replaced(name, lambda d: flip(d, at))


def removed(name: str) -> Change:
    return lambda m: {k: v for k, v in m.items() if k != name}


def renamed(name: str) -> Change:
    return lambda m: {(k + "x" if k == name else k): v for k, v in m.items()}


@pytest.fixture
def receipt(store: Store, tmp_path: Path) -> Path:
    build(store)
    out = tmp_path / "out" / "receipt-1.zip"
    write_receipt(store, "1", out)
    return out


# --------------------------------------------------------------------------- clean


def test_receipt_verifies_alone(receipt: Path, tmp_path: Path) -> None:
    rep = verify_receipt(receipt)
    assert rep.ok, rep.problems
    assert rep.post == {"platform": "x", "account_id": "42", "post_id": "1"}
    names = set(members(receipt))
    leaves = {n for n in names if n.startswith("leaves/")}
    blobs = {n for n in names if n.startswith("blobs/")}
    # 2 versions, 2 account statuses, 2 captures (seen present, then the 404), the import,
    # the post_deleted event
    assert len(leaves) == rep.leaves == 8
    assert len(blobs) == rep.blobs == 4  # media, two bodies, one request body
    assert names == leaves | blobs | {"manifest.json", "README.txt", "checkpoint.note", "key.pub"}
    story = "\n".join(rep.story)
    assert "event post_deleted" in story and "platform_removed" in story
    assert "-> 404" in story and "-> 200" in story
    assert "version 1 observed" in story and "version 2 observed" in story
    assert "account status suspended" in story
    assert rep.warning == KEY_WARNING
    assert rep.key is not None and rep.key_id is not None and rep.key_id in rep.key
    assert rep.origin is not None and rep.origin.startswith("unerased/")
    assert "receipt verified" in rep.summary()
    assert json.loads(json.dumps(rep.to_json()))["ok"] is True


def test_receipt_record_bytes_are_the_leaves(receipt: Path, store: Store) -> None:
    """Each leaves/<i>.json is exactly the canonical record the ledger committed to."""
    m = members(receipt)
    manifest = json.loads(m["manifest.json"])
    with store.reader() as conn:
        for lf in manifest["leaves"]:
            row = conn.execute(select(schema.ledger_leaves).where(
                schema.ledger_leaves.c.idx == lf["index"])).mappings().one()
            data = m[f"leaves/{lf['index']}.json"]
            assert bytes(row["salt"]).hex() == lf["salt"]
            assert hashlib.sha256(b"\x00" + bytes(row["salt"]) + data).digest() == bytes(
                row["leaf_hash"])
            assert canonical_json(json.loads(data)) == data
    assert m["manifest.json"] == canonical_json(manifest)


def test_receipt_makes_a_checkpoint_when_none_covers(store: Store, tmp_path: Path) -> None:
    build(store, checkpoints=False)
    with store.reader() as conn:
        assert log.list_checkpoints(conn) == []
    s = write_receipt(store, "1", tmp_path / "r.zip")
    assert s.checkpoint_size == log.tree_size(store)
    assert verify_receipt(tmp_path / "r.zip").ok
    with pytest.raises(ReceiptError, match="no checkpoint covers"):
        with store.writer() as w:
            a = w.account_row("x", "42")
            assert a is not None
            w.add_posts(a, [post("1", "third version")], "watch")
        write_receipt(store, "1", tmp_path / "r2.zip", checkpoint=False)


def test_receipt_by_number_and_errors(store: Store, tmp_path: Path) -> None:
    b = build(store)
    s = write_receipt(store, f"row:{b.post_pk}", tmp_path / "n.zip")
    assert s.post_id == "1" and verify_receipt(tmp_path / "n.zip").ok
    with pytest.raises(NotFound, match="no post matches 'nope'"):
        write_receipt(store, "nope", tmp_path / "x.zip")
    with store.writer() as w:  # the same post id on another platform
        from unerased.model import AccountSnapshot, PostSnapshot

        a = w.upsert_account(AccountSnapshot("mastodon", "9@m.test", handle="u@m.test"), "t")
        w.add_posts(a, [PostSnapshot("mastodon", "9@m.test", "1", "hi")], "t")
    with pytest.raises(AmbiguousError, match=r"'1' matches 2 posts: x:sample 1 \(row:\d+\), "
                       r"mastodon:@u@m.test 1 \(row:\d+\)"):
        write_receipt(store, "1", tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()


def test_receipt_refuses_a_tampered_archive(store: Store, tmp_path: Path) -> None:
    b = build(store)
    sql(store, update(schema.post_versions).where(schema.post_versions.c.id == b.version_pks[0])
        .values(text="changed"))
    with pytest.raises(ReceiptError, match=f"post_versions row {b.version_pks[0]} does not match"):
        write_receipt(store, "1", tmp_path / "out" / "r.zip")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_receipt_refuses_a_missing_blob(store: Store, tmp_path: Path) -> None:
    b = build(store)
    store.blobs.path(b.media_sha).unlink()
    with pytest.raises(ReceiptError, match=f"blob {b.media_sha} is missing"):
        write_receipt(store, "1", tmp_path / "r.zip")


# --------------------------------------------------------------------------- mutations


def _all_members(receipt: Path) -> list[str]:
    return sorted(members(receipt))


def test_every_member_byte_changed(receipt: Path, tmp_path: Path) -> None:
    names = _all_members(receipt)
    for name in names:
        size = len(members(receipt)[name])
        for at in sorted({0, size // 3, size // 2, size - 1}):
            bad = rewrite(receipt, tmp_path / "bad.zip", flipped(name, at))
            rep = verify_receipt(bad)
            assert not rep.ok, f"a changed byte {at} in {name} was not detected"


def test_every_member_truncated_or_extended(receipt: Path, tmp_path: Path) -> None:
    for name in _all_members(receipt):
        changes: list[Callable[[bytes], bytes]] = [
            lambda d: d[:-1], lambda d: d + b" ", lambda d: d + b"\n", lambda d: b""]
        for change in changes:
            bad = rewrite(receipt, tmp_path / "bad.zip", replaced(name, change))
            assert not verify_receipt(bad).ok, f"{name} changed in length was not detected"


def test_every_member_removed(receipt: Path, tmp_path: Path) -> None:
    for name in _all_members(receipt):
        bad = rewrite(receipt, tmp_path / "bad.zip", removed(name))
        rep = verify_receipt(bad)
        assert not rep.ok, f"removing {name} was not detected"
        assert name in rep.problems[0] or name == "manifest.json"


@pytest.mark.parametrize("extra", ["extra.txt", "leaves/999.json", "blobs/" + "0" * 64,
                                   "checkpoint.tsr", "leaves/", "README.txt.bak"])
def test_member_added(receipt: Path, tmp_path: Path, extra: str) -> None:
    bad = rewrite(receipt, tmp_path / "bad.zip", lambda m: {**m, extra: b"{}"})
    rep = verify_receipt(bad)
    assert not rep.ok and "unexpected member" in rep.problems[0]


def test_member_renamed(receipt: Path, tmp_path: Path) -> None:
    for name in _all_members(receipt):
        bad = rewrite(receipt, tmp_path / "bad.zip", renamed(name))
        assert not verify_receipt(bad).ok, f"renaming {name} was not detected"


def _edit_manifest(receipt: Path, tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Any:
    def change(m: dict[str, bytes]) -> dict[str, bytes]:
        man = json.loads(m["manifest.json"])
        edit(man)
        return {**m, "manifest.json": canonical_json(man)}

    return verify_receipt(rewrite(receipt, tmp_path / "bad.zip", change))


@pytest.mark.parametrize("what,edit,expect", [
    ("post id", lambda m: m["post"].update(post_id="2"), "another post"),
    ("platform", lambda m: m["post"].update(platform="mastodon"), "another post"),
    ("salt", lambda m: m["leaves"][0].update(salt="00" * 16), "is not leaf"),
    ("proof", lambda m: m["leaves"][1]["proof"].__setitem__(0, "ab" * 32), "is not leaf"),
    ("proof shortened", lambda m: m["leaves"][1]["proof"].pop(), "is not leaf"),
    ("index", lambda m: m["leaves"][-1].update(index=m["leaves"][-1]["index"] + 1), ""),
    ("blob size", lambda m: m["blobs"][0].update(size=m["blobs"][0]["size"] + 1), "bytes"),
    ("files digest", lambda m: m["files"].update({"key.pub": "00" * 32}), "was changed"),
    ("leaf order", lambda m: m["leaves"].reverse(), "increasing"),
    ("format", lambda m: m.update(version=2), "version 1"),
    ("unknown field", lambda m: m.update(note="hi"), "unknown fields"),
    ("drop leaf entry", lambda m: m["leaves"].pop(0), "unexpected member"),
    ("drop blob entry", lambda m: m["blobs"].pop(0), "unexpected member"),
    ("drop README", lambda m: m["files"].pop("README.txt"), "bad files"),
])
def test_manifest_edits_that_stay_canonical(receipt: Path, tmp_path: Path, what: str,
                                            edit: Callable[[dict[str, Any]], None],
                                            expect: str) -> None:
    rep = _edit_manifest(receipt, tmp_path, edit)
    assert not rep.ok, what
    assert expect in rep.problems[0]


def test_manifest_not_canonical(receipt: Path, tmp_path: Path) -> None:
    pretty = rewrite(receipt, tmp_path / "bad.zip", lambda m: {
        **m, "manifest.json": json.dumps(json.loads(m["manifest.json"]), indent=1).encode()})
    rep = verify_receipt(pretty)
    assert not rep.ok and "canonical" in rep.problems[0]


def test_resigned_with_another_key(receipt: Path, tmp_path: Path) -> None:
    """A forger who re-signs the checkpoint with their own key and ships their key:
    the receipt is self-consistent again, which is why the key must be checked out of
    band — the report names the key ID for that comparison."""
    m = members(receipt)
    cp = note.Checkpoint.parse(m["checkpoint.note"].decode().split("\n\n")[0] + "\n")
    forger = note.generate_signer(cp.origin)
    forged = {**m, "checkpoint.note": cp.sign(forger).encode(),
              "key.pub": (note.verifier_from_signer(forger) + "\n").encode()}
    man = json.loads(m["manifest.json"])
    # without updating the manifest: caught
    assert not verify_receipt(rewrite(receipt, tmp_path / "a.zip", lambda _: forged)).ok
    man["files"].update({k: hashlib.sha256(forged[k]).hexdigest()
                         for k in ("checkpoint.note", "key.pub")})
    forged["manifest.json"] = canonical_json(man)
    rep = verify_receipt(rewrite(receipt, tmp_path / "b.zip", lambda _: forged))
    assert rep.ok  # cryptographically fine...
    original = verify_receipt(receipt)
    assert rep.key_id != original.key_id  # ...but not the archive's published key


# --------------------------------------------------------------------------- hostile zips


def _raw_zip(path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return path


def test_hostile_zips(receipt: Path, tmp_path: Path) -> None:
    m = members(receipt)
    cases: dict[str, Path] = {}
    cases["traversal"] = _raw_zip(tmp_path / "t.zip", [*m.items(), ("../evil", b"x")])
    link = zipfile.ZipInfo("leaves/link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    cases["symlink"] = _raw_zip(tmp_path / "l.zip", [*m.items(), (link, b"/etc/passwd")])
    (tmp_path / "e.zip").write_bytes(b"")
    cases["empty"] = tmp_path / "e.zip"
    (tmp_path / "n.zip").write_bytes(b"not a zip at all")
    cases["not a zip"] = tmp_path / "n.zip"
    data = receipt.read_bytes()
    (tmp_path / "tr.zip").write_bytes(data[: len(data) // 2])
    cases["truncated"] = tmp_path / "tr.zip"
    cases["missing"] = tmp_path / "nothing-here.zip"
    with pytest.warns(UserWarning, match="Duplicate name"):
        cases["duplicate"] = _raw_zip(tmp_path / "d.zip", [*m.items(),
                                                           ("key.pub", m["key.pub"])])
    for what, path in cases.items():
        rep = verify_receipt(path)
        assert not rep.ok, what
        assert len(rep.problems[0].splitlines()) == 1


# --------------------------------------------------------------------------- CLI


def test_cli_receipt_and_verify_on_an_empty_home(store: Store, home: Path, db_url: str | None,
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    build(store)
    out = tmp_path / "r.zip"
    args = ["--home", str(home), *(["--db", db_url] if db_url else [])]
    r = invoke(monkeypatch, [*args, "receipt", "1", str(out)])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"wrote {out}: post x:sample 1, 8 ledger leaves (2 captures), "
                               "4 blobs")
    empty = tmp_path / "elsewhere"
    r = invoke(monkeypatch, ["--home", str(empty), "verify", "--receipt", str(out)])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("receipt verified: x post 1 of account x:42")
    assert "check out of band" in r.stdout
    assert not empty.exists()  # nothing was opened or made: the receipt stands alone
    bad = rewrite(out, tmp_path / "bad.zip", lambda m: {k: v for k, v in m.items()
                                                        if not k.startswith("blobs/")})
    r = invoke(monkeypatch, ["--home", str(empty), "verify", "--receipt", str(bad)])
    assert r.exit_code == 1 and r.stdout == ""
    (line,) = r.stderr.splitlines()
    assert line.startswith("unerased: verify failed:") and "is missing" in line
    r = invoke(monkeypatch, ["--home", str(empty), "verify", "--json", "--receipt", str(out)])
    assert r.exit_code == 0 and json.loads(r.stdout)["ok"] is True
    r = invoke(monkeypatch, [*args, "receipt", "--json", "nope", str(out)])
    assert r.exit_code == 1 and r.stderr.startswith("unerased: error: no post matches 'nope'")


# --------------------------------------------------------------------------- RFC 3161


class FakeTSA:
    """A minimal RFC 3161 authority (ECDSA P-256) answering through httpx.MockTransport."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unerased test TSA")])
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(self.key.public_key()).serial_number(7)
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                           critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.requests = 0
        self.status = 200

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        assert request.headers["content-type"] == "application/timestamp-query"
        if self.status != 200:
            return httpx.Response(self.status)
        req = tsp.TimeStampReq.load(request.content)
        return httpx.Response(200, content=self.respond(
            req["message_imprint"]["hashed_message"].native, req["nonce"].native))

    def respond(self, digest: bytes, nonce: int | None) -> bytes:
        cert_der = self.cert.public_bytes(serialization.Encoding.DER)
        acert = ax509.Certificate.load(cert_der)
        tst = tsp.TSTInfo({
            "version": "v1", "policy": "1.2.3.4.1",
            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                                "hashed_message": digest},
            "serial_number": self.requests, "gen_time": datetime.now(UTC).replace(microsecond=0),
            "nonce": nonce,
        })
        tst_der = tst.dump()
        attrs = cms.CMSAttributes([
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute({"type": "message_digest",
                              "values": [hashlib.sha256(tst_der).digest()]}),
            cms.CMSAttribute({"type": "signing_certificate_v2", "values": [
                {"certs": [{"hash_algorithm": {"algorithm": "sha256"},
                            "cert_hash": hashlib.sha256(cert_der).digest()}]}]}),
        ])
        sig = self.key.sign(attrs.dump(), ec.ECDSA(hashes.SHA256()))
        signer = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
                "issuer": acert.issuer, "serial_number": acert.serial_number}}),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": attrs,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": sig,
        })
        signed = cms.SignedData({
            "version": "v3", "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "tst_info", "content": tst},
            "certificates": [acert], "signer_infos": [signer],
        })
        resp = tsp.TimeStampResp({
            "status": {"status": "granted"},
            "time_stamp_token": {"content_type": "signed_data", "content": signed},
        })
        return bytes(resp.dump())


@pytest.fixture
def tsa() -> FakeTSA:
    return FakeTSA()


def test_timestamped_checkpoint_and_receipt(store: Store, tsa: FakeTSA, tmp_path: Path) -> None:
    build(store, checkpoints=False)
    client = httpx.Client(transport=httpx.MockTransport(tsa.handle))
    cp = log.make_checkpoint(store, timestamp_url="https://tsa.test/", client=client,
                             timestamp_ca_pem=tsa.pem())
    assert cp.timestamp_der is not None and tsa.requests == 1
    from unerased.ledger import timestamp

    info = timestamp.verify_response(cp.timestamp_der, cp.note.encode(), tsa.pem())
    assert info.tsa_name == "CN=unerased test TSA"
    # a second call without growth returns it (no second request)
    assert log.make_checkpoint(store, timestamp_url="https://tsa.test/", client=client) == cp
    assert tsa.requests == 1
    write_receipt(store, "1", tmp_path / "r.zip")
    rep = verify_receipt(tmp_path / "r.zip")
    assert rep.ok, rep.problems
    assert rep.timestamp is not None and rep.timestamp["tsa"] == "CN=unerased test TSA"
    assert "checkpoint.tsr" in members(tmp_path / "r.zip")
    # the token is bound: flipping any byte, or dropping it, fails
    tsr = members(tmp_path / "r.zip")["checkpoint.tsr"]
    for at in (0, len(tsr) // 2, len(tsr) - 1):
        bad = rewrite(tmp_path / "r.zip", tmp_path / "bad.zip", flipped("checkpoint.tsr", at))
        assert not verify_receipt(bad).ok
    client.close()


def test_timestamp_added_to_an_existing_checkpoint(store: Store, tsa: FakeTSA) -> None:
    build(store)  # checkpoints without timestamps
    client = httpx.Client(transport=httpx.MockTransport(tsa.handle))
    cp = log.make_checkpoint(store, timestamp_url="https://tsa.test/", client=client)
    assert cp.timestamp_der is not None
    with store.reader() as conn:
        assert log.latest_checkpoint(conn) == cp
    client.close()


@pytest.mark.parametrize("failure", ["http", "wrong-ca", "garbage", "unreachable"])
def test_failed_timestamp_stores_nothing(store: Store, tsa: FakeTSA, failure: str) -> None:
    build(store, checkpoints=False)

    def handler(request: httpx.Request) -> httpx.Response:
        if failure == "unreachable":
            raise httpx.ConnectError("refused", request=request)
        if failure == "garbage":
            return httpx.Response(200, content=b"\x30\x03\x02\x01\x00")
        return tsa.handle(request)

    if failure == "http":
        tsa.status = 503
    ca = FakeTSA().pem() if failure == "wrong-ca" else None
    client = httpx.Client(transport=httpx.MockTransport(handler))
    with pytest.raises(log.LedgerError, match="timestamp") as e:
        log.make_checkpoint(store, timestamp_url="https://tsa.test/", client=client,
                            timestamp_ca_pem=ca)
    assert "\n" not in str(e.value)
    with store.reader() as conn:
        assert log.list_checkpoints(conn) == []
    client.close()


def test_receipt_io_roundtrip_in_memory(receipt: Path) -> None:
    """The zip is an ordinary zip any tool reads (deterministic member dates)."""
    with zipfile.ZipFile(io.BytesIO(receipt.read_bytes())) as zf:
        assert zf.testzip() is None
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_random_corruption_never_crashes_and_never_passes_changed_content(
    store: Store, tmp_path: Path
) -> None:
    """Flip random bytes anywhere in the zip file: verify_receipt never raises, and when
    it still accepts the receipt, every member's content is unchanged (only container
    metadata such as dates or the central directory's copies were hit)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    build(store)
    good = tmp_path / "good.zip"
    write_receipt(store, "1", good)
    data = good.read_bytes()
    original = members(good)

    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(1, 255)),
                    min_size=1, max_size=4))
    def check(flips: list[tuple[int, int]]) -> None:
        bad = bytearray(data)
        for at, x in flips:
            bad[at] ^= x
        path = tmp_path / "fuzz.zip"
        path.write_bytes(bytes(bad))
        rep = verify_receipt(path)
        if rep.ok:
            assert members(path) == original

    check()


def _forged_receipt(path: Path, records: list[Any], post: dict[str, str]) -> Path:
    """A receipt built from scratch around arbitrary records, validly signed by a
    forger's key: everything a hostile but self-consistent receipt can be."""
    from unerased.ledger import merkle

    salts = [bytes([i]) * 16 for i in range(len(records))]
    datas = [canonical_json(r) for r in records]
    tree = merkle.MemoryTree()
    for s_, d in zip(salts, datas, strict=True):
        tree.append(s_ + d)
    skey = note.generate_signer("unerased/forger")
    signed = note.Checkpoint("unerased/forger", tree.size, tree.root()).sign(skey).encode()
    files = {"README.txt": b"x", "checkpoint.note": signed,
             "key.pub": (note.verifier_from_signer(skey) + "\n").encode()}
    manifest = {
        "format": "unerased-receipt", "version": 1, "post": post,
        "files": {k: hashlib.sha256(v).hexdigest() for k, v in files.items()},
        "leaves": [{"index": i, "salt": salts[i].hex(),
                    "proof": [h.hex() for h in tree.inclusion_proof(i)]}
                   for i in range(len(records))],
        "blobs": [],
    }
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", canonical_json(manifest))
        for k, v in files.items():
            zf.writestr(k, v)
        for i, d in enumerate(datas):
            zf.writestr(f"leaves/{i}.json", d)
    return path


@pytest.mark.parametrize("record", [
    {"f": 1, "kind": "post_version", "post": {"platform": "x", "account_id": "1",
                                              "post_id": "1"}, "media": 5},
    {"f": 1, "kind": "post_version", "post": "nope"},
    {"f": 1, "kind": "capture", "id": "00", "record": []},
    {"f": 1, "kind": "capture", "id": "00", "record": {"body_sha256": 3}},
    {"f": 2, "kind": "event"},
    ["not", "a", "record"],
])
def test_signed_but_malformed_records_are_rejected_in_one_line(tmp_path: Path,
                                                               record: Any) -> None:
    post_ = {"platform": "x", "account_id": "1", "post_id": "1"}
    rep = verify_receipt(_forged_receipt(tmp_path / "f.zip", [record], post_))
    assert not rep.ok and len(rep.problems[0].splitlines()) == 1


def test_a_forged_receipt_is_only_as_good_as_its_key(tmp_path: Path) -> None:
    """Well-formed and validly signed — by a key that is not the archive's: the report
    says so by showing the key ID and the warning, which is all a file can do."""
    post_ = {"platform": "x", "account_id": "1", "post_id": "1"}
    version = {"f": 1, "kind": "post_version", "id": 1, "post": {**post_, "url": None},
               "media": [], "text": "never said", "observed_at": "2020-01-01T00:00:00Z",
               "seq": 1, "source": "watch"}
    rep = verify_receipt(_forged_receipt(tmp_path / "f.zip", [version], post_))
    assert rep.ok and rep.origin == "unerased/forger" and rep.warning == KEY_WARNING
