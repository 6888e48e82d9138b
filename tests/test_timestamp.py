"""RFC 3161 timestamps, against tokens recorded from a local `openssl ts` TSA (tests/data/tsa)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from unerased.ledger import timestamp
from unerased.ledger.timestamp import (
    TimestampError,
    TimestampInfo,
    build_request,
    request_nonce,
    verify_response,
)

DATA_DIR = Path(__file__).parent / "data" / "tsa"
NONCE = 0x5EED_1234_5678_9ABC


def _read(name: str) -> bytes:
    return (DATA_DIR / name).read_bytes()


DATA = _read("checkpoint.txt")
CA = _read("ca.pem")
RSA_RESP = _read("response-rsa.tsr")
EC_RESP = _read("response-ec.tsr")


# --------------------------------------------------------------------------- requests


def test_build_request_fields() -> None:
    der = build_request(b"hello", nonce=42)
    req = tsp.TimeStampReq.load(der, strict=True)
    assert req["version"].native == "v1"
    assert req["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert req["message_imprint"]["hashed_message"].native == hashlib.sha256(b"hello").digest()
    assert req["nonce"].native == 42
    assert req["cert_req"].native is True
    assert request_nonce(der) == 42


def test_build_request_random_nonce() -> None:
    a, b = build_request(b"x"), build_request(b"x")
    na, nb = request_nonce(a), request_nonce(b)
    assert na is not None and nb is not None and na != nb
    assert 0 < na < 2**63


def test_recorded_request_is_ours() -> None:
    # the request openssl answered is byte-for-byte what build_request makes
    assert build_request(DATA, nonce=NONCE) == _read("request.tsq")
    assert request_nonce(_read("request.tsq")) == NONCE


@pytest.mark.parametrize("bad", [0, -5, True])
def test_build_request_bad_nonce(bad: int) -> None:
    with pytest.raises(TimestampError):
        build_request(b"x", nonce=bad)


def test_request_nonce_garbage() -> None:
    with pytest.raises(TimestampError, match="malformed timestamp request"):
        request_nonce(b"\x30\x03\x02\x01")


# --------------------------------------------------------------------------- good tokens


@pytest.mark.parametrize(("resp", "cn"), [(RSA_RESP, "RSA"), (EC_RESP, "EC")])
def test_verify_recorded_tokens(resp: bytes, cn: str) -> None:
    info = verify_response(resp, DATA, CA, nonce=NONCE)
    assert isinstance(info, TimestampInfo)
    assert info.tsa_name == f"CN=unerased test TSA {cn},O=unerased test"
    assert info.nonce == NONCE
    assert info.policy == "1.3.6.1.4.1.4146.2.3"
    assert info.serial > 0
    assert info.gen_time.tzinfo is not None
    assert info.gen_time.utcoffset() == timedelta(0)
    assert datetime(2025, 1, 1, tzinfo=UTC) < info.gen_time < datetime(2100, 1, 1, tzinfo=UTC)
    # without a CA only the binding to the embedded certificate is checked
    assert verify_response(resp, DATA, None) == info
    # pinning the TSA certificate itself works too
    pin = _read(f"tsa-{cn.lower()}.pem")
    assert verify_response(resp, DATA, pin) == info
    # several trusted certificates in one PEM
    assert verify_response(resp, DATA, _read("other-ca.pem") + CA) == info


def test_tokens_differ() -> None:
    a = verify_response(RSA_RESP, DATA, CA)
    b = verify_response(EC_RESP, DATA, CA)
    assert a.serial != b.serial


# --------------------------------------------------------------------------- rejections


def test_wrong_data() -> None:
    with pytest.raises(TimestampError, match="other data"):
        verify_response(RSA_RESP, DATA + b"x", CA)
    with pytest.raises(TimestampError, match="other data"):
        verify_response(EC_RESP, b"", CA)


def test_wrong_ca() -> None:
    with pytest.raises(TimestampError, match="does not chain"):
        verify_response(RSA_RESP, DATA, _read("other-ca.pem"))
    with pytest.raises(TimestampError, match="does not chain"):
        verify_response(RSA_RESP, DATA, _read("tsa-ec.pem"))  # another TSA's certificate
    with pytest.raises(TimestampError, match="does not chain"):
        verify_response(EC_RESP, DATA, _read("other-ca.pem"))


def test_bad_ca_pem() -> None:
    with pytest.raises(TimestampError, match="PEM"):
        verify_response(RSA_RESP, DATA, b"not a pem")
    with pytest.raises(TimestampError, match="PEM"):
        verify_response(RSA_RESP, DATA, b"")


def test_wrong_nonce() -> None:
    with pytest.raises(TimestampError, match="nonce"):
        verify_response(RSA_RESP, DATA, CA, nonce=NONCE + 1)
    with pytest.raises(TimestampError, match="nonce"):
        verify_response(_read("response-nocert.tsr"), DATA, CA, nonce=NONCE)


def test_refused_and_certless() -> None:
    with pytest.raises(TimestampError, match="refused.*rejection.*bad_alg"):
        verify_response(_read("rejected.tsr"), DATA, CA)
    with pytest.raises(TimestampError, match="no TSA certificate"):
        verify_response(_read("response-nocert.tsr"), DATA, CA)


def _genertime_offset(resp: bytes) -> int:
    info = verify_response(resp, DATA, None)
    stamp = info.gen_time.strftime("%Y%m%d%H%M%S").encode()
    pos = resp.find(stamp)
    assert pos > 0 and resp.count(stamp) == 1
    return pos


@pytest.mark.parametrize("resp", [RSA_RESP, EC_RESP])
def test_tampered_time(resp: bytes) -> None:
    pos = _genertime_offset(resp) + 3  # a digit of the year
    forged = resp[:pos] + bytes([resp[pos] ^ 0x01]) + resp[pos + 1 :]
    with pytest.raises(TimestampError, match="altered"):
        verify_response(forged, DATA, CA)


@pytest.mark.parametrize("resp", [RSA_RESP, EC_RESP])
def test_tampered_signature(resp: bytes) -> None:
    forged = resp[:-1] + bytes([resp[-1] ^ 0x01])  # the signature ends the token
    with pytest.raises(TimestampError):
        verify_response(forged, DATA, CA)


def test_tampered_imprint_with_matching_data_still_fails() -> None:
    """Rewrite the imprint to another document's hash: the signature must catch it."""
    original = hashlib.sha256(DATA).digest()
    assert RSA_RESP.count(original) == 1
    other = b"a different checkpoint\n"
    forged = RSA_RESP.replace(original, hashlib.sha256(other).digest())
    with pytest.raises(TimestampError, match="altered"):
        verify_response(forged, other, CA)


@pytest.mark.parametrize("resp", [RSA_RESP, EC_RESP])
def test_every_byte_flip_fails_or_changes_nothing(resp: bytes) -> None:
    """A flip anywhere is rejected, or falls outside what is signed (e.g. the
    status word, or the CA certificate the RSA TSA carries, which the trusted PEM
    replaces) and then the verified claim is exactly the original one."""
    good = verify_response(resp, DATA, CA, nonce=NONCE)
    accepted = 0
    for pos in range(len(resp)):
        forged = resp[:pos] + bytes([resp[pos] ^ 0x01]) + resp[pos + 1 :]
        try:
            info = verify_response(forged, DATA, CA, nonce=NONCE)
        except TimestampError:
            continue
        accepted += 1
        assert info == good, pos
    assert accepted < len(resp) // 2  # most of the token is covered


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_random_corruption_never_crashes(data: st.DataObject) -> None:
    resp = data.draw(st.sampled_from([RSA_RESP, EC_RESP, _read("rejected.tsr")]))
    cut = data.draw(st.integers(min_value=0, max_value=len(resp)))
    junk = data.draw(st.binary(max_size=16))
    forged = resp[:cut] + junk + resp[cut + len(junk) :]
    try:
        info = verify_response(forged, DATA, CA)
    except TimestampError:
        return
    assert info == verify_response(resp, DATA, CA)


@pytest.mark.parametrize("n", [0, 1, 2, 10, 100, len(RSA_RESP) - 1])
def test_truncated(n: int) -> None:
    with pytest.raises(TimestampError):
        verify_response(RSA_RESP[:n], DATA, CA)


def test_trailing_garbage() -> None:
    with pytest.raises(TimestampError):
        verify_response(RSA_RESP + b"\x00", DATA, CA)


# --------------------------------------------------------------------------- certificate rules


def _cert(
    eku: list[x509.ObjectIdentifier] | None,
    critical: bool = True,
    not_before: datetime | None = None,
) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    start = not_before or datetime(2020, 1, 1, tzinfo=UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=365))
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=critical)
    return builder.sign(key, hashes.SHA256())


WHEN = datetime(2020, 6, 1, tzinfo=UTC)


def test_tsa_certificate_rules() -> None:
    ts = ExtendedKeyUsageOID.TIME_STAMPING
    timestamp._check_tsa_certificate(_cert([ts]), WHEN)
    with pytest.raises(TimestampError, match="no extended key usage"):
        timestamp._check_tsa_certificate(_cert(None), WHEN)
    with pytest.raises(TimestampError, match="not critical"):
        timestamp._check_tsa_certificate(_cert([ts], critical=False), WHEN)
    with pytest.raises(TimestampError, match="exactly timeStamping"):
        timestamp._check_tsa_certificate(_cert([ts, ExtendedKeyUsageOID.CODE_SIGNING]), WHEN)
    with pytest.raises(TimestampError, match="exactly timeStamping"):
        timestamp._check_tsa_certificate(_cert([ExtendedKeyUsageOID.SERVER_AUTH]), WHEN)
    with pytest.raises(TimestampError, match="not valid at the time"):
        timestamp._check_tsa_certificate(_cert([ts]), datetime(2022, 1, 1, tzinfo=UTC))
    with pytest.raises(TimestampError, match="not valid at the time"):
        timestamp._check_tsa_certificate(_cert([ts]), datetime(2019, 1, 1, tzinfo=UTC))


def test_recorded_tsa_certificates_follow_rfc3161() -> None:
    for name in ("tsa-rsa.pem", "tsa-ec.pem"):
        cert = x509.load_pem_x509_certificate(_read(name))
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
        ca = x509.load_pem_x509_certificate(CA)
        cert.verify_directly_issued_by(ca)
    assert b"PRIVATE KEY" not in b"".join(p.read_bytes() for p in DATA_DIR.iterdir() if p.is_file())


def test_ca_not_valid_at_stamp_time() -> None:
    """A CA that expired before the stamp was made cannot vouch for it."""
    info = verify_response(RSA_RESP, DATA, CA)
    tsa = x509.load_pem_x509_certificate(_read("tsa-rsa.pem"))
    ca = x509.load_pem_x509_certificate(CA)
    timestamp._check_chain(tsa, [], [ca], info.gen_time)
    with pytest.raises(TimestampError, match="CA certificate was not valid"):
        timestamp._check_chain(tsa, [], [ca], ca.not_valid_before_utc - timedelta(days=1))
    pem = tsa.public_bytes(serialization.Encoding.PEM)
    assert verify_response(RSA_RESP, DATA, pem) == info
