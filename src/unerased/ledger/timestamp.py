"""Optional RFC 3161 timestamps of checkpoints: build a request, verify a response.

No network I/O here: the caller POSTs ``build_request(...)`` to a TSA
(``Content-Type: application/timestamp-query``) and hands the answer to
``verify_response``. Verification checks, in order:

1. the PKI status is granted (or granted with modifications);
2. the token is CMS SignedData over a TSTInfo whose message imprint is the
   hash of ``data`` (SHA-256, SHA-384 or SHA-512), with the expected nonce;
3. the signed attributes: content type id-ct-TSTInfo, message digest of the
   TSTInfo, and an ESS signing-certificate (v1 or v2) naming the signer's certificate;
4. the signature over the signed attributes by the TSA certificate carried in
   the token (RSA PKCS#1 v1.5, RSA-PSS, ECDSA or Ed25519);
5. the TSA certificate: a critical extended key usage that is exactly
   id-kp-timeStamping (RFC 3161 §2.3), valid at the time stamped;
6. with ``ca_cert_pem``: the TSA certificate is, or chains (through
   certificates carried in the token) to, one of those certificates, each
   link's signature checked and every certificate valid at the time stamped.
   Without it, only the binding to the embedded certificate is proven.

Every certificate is judged at the token's own time, not today, so a recorded
token stays verifiable after the TSA certificate expires. Revocation is not checked.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from ..errors import TimestampError, exception_line

__all__ = [
    "TimestampError",
    "TimestampInfo",
    "build_request",
    "request_nonce",
    "verify_response",
]

_DIGESTS = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}
_CRYPTO_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_MAX_CHAIN = 5


class _TimeStampResp(core.Sequence):  # type: ignore[misc]
    """RFC 3161 TimeStampResp; asn1crypto's own forgets that the token is OPTIONAL."""

    _fields = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class TimestampInfo:
    """What a verified token asserts."""

    gen_time: datetime  # timezone-aware, UTC
    serial: int
    tsa_name: str  # RFC 4514 subject of the TSA certificate that signed
    nonce: int | None = None
    policy: str = ""  # TSA policy OID, dotted


def build_request(data: bytes, *, nonce: int | None = None) -> bytes:
    """DER TimeStampReq for SHA-256(``data``), with a nonce and certReq true.

    ``nonce`` defaults to a random 64-bit value; read it back with ``request_nonce``.
    """
    if not isinstance(data, bytes | bytearray):
        raise TimestampError("timestamp data must be bytes")
    if nonce is None:
        nonce = secrets.randbits(63) | (1 << 62)  # positive, 8 bytes of DER
    if isinstance(nonce, bool) or not isinstance(nonce, int) or nonce <= 0:
        raise TimestampError("nonce must be a positive integer")
    req = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(data).digest(),
            },
            "nonce": nonce,
            "cert_req": True,
        }
    )
    return bytes(req.dump())


def request_nonce(req_der: bytes) -> int | None:
    """The nonce of a DER TimeStampReq (None when it has none)."""
    try:
        req = tsp.TimeStampReq.load(bytes(req_der), strict=True)
        nonce = req["nonce"].native
    except Exception as exc:  # asn1crypto raises many types on garbage
        raise TimestampError(f"malformed timestamp request: {exception_line(exc)}") from None
    return nonce if isinstance(nonce, int) else None


def _load_roots(ca_cert_pem: bytes) -> list[x509.Certificate]:
    try:
        roots = x509.load_pem_x509_certificates(bytes(ca_cert_pem))
    except Exception as exc:
        raise TimestampError(f"bad CA certificate PEM: {exception_line(exc)}") from None
    if not roots:
        raise TimestampError("bad CA certificate PEM: no certificate")
    return roots


def verify_response(
    resp_der: bytes,
    data: bytes,
    ca_cert_pem: bytes | None,
    *,
    nonce: int | None = None,
) -> TimestampInfo:
    """Verify a DER TimeStampResp for ``data``; see the module docstring for the checks.

    ``ca_cert_pem``: PEM of the trusted CA (or the TSA certificate itself; several
    concatenated PEM certificates are all trusted). ``nonce``: the request's nonce,
    which the token must repeat. Raises ``TimestampError`` with one line on failure.
    """
    roots = _load_roots(ca_cert_pem) if ca_cert_pem is not None else None
    try:
        resp = _TimeStampResp.load(bytes(resp_der), strict=True)
        _check_status(resp)
        token = resp["time_stamp_token"]
        if not isinstance(token, cms.ContentInfo) or token["content_type"].native != "signed_data":
            raise TimestampError("timestamp token is not CMS SignedData")
        signed = token["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise TimestampError("signed content is not a TSTInfo")
        tst_der = _octets(encap["content"])
        tst = tsp.TSTInfo.load(tst_der, strict=True)
        info = _check_tst_info(tst, bytes(data), nonce)
        certs = _certificates(signed)
        signer_infos = signed["signer_infos"]
        if len(signer_infos) != 1:
            raise TimestampError(f"token has {len(signer_infos)} signers, want exactly 1")
        signer_info = signer_infos[0]
        # the exact signed bytes, taken before any look inside can make asn1crypto
        # re-encode them: [0] IMPLICIT SET OF -> SET OF (RFC 5652 §5.4)
        attrs = signer_info["signed_attrs"]
        if isinstance(attrs, core.Void) or not len(attrs):
            raise TimestampError("token has no signed attributes")
        signed_bytes = b"\x31" + bytes(attrs.dump())[1:]
        signer_cert, signer_der = _find_signer(signer_info, certs)
        _check_signed_attrs(signer_info, tst_der, signer_der)
        _check_signature(signer_info, signed_bytes, signer_cert)
        _check_tsa_certificate(signer_cert, info.gen_time)
        _check_tsa_name(tst, signer_cert, signer_der)
        if roots is not None:
            _check_chain(signer_cert, certs, roots, info.gen_time)
        tsa_name = signer_cert.subject.rfc4514_string()
    except TimestampError:
        raise
    except Exception as exc:  # asn1crypto/cryptography on hostile bytes: any error is "malformed"
        raise TimestampError(f"malformed timestamp response: {exception_line(exc)}") from None
    return TimestampInfo(
        gen_time=info.gen_time,
        serial=info.serial,
        tsa_name=tsa_name,
        nonce=info.nonce,
        policy=info.policy,
    )


# --------------------------------------------------------------------------- pieces


def _check_status(resp: _TimeStampResp) -> None:
    status = resp["status"]
    code = status["status"].native
    if code in ("granted", "granted_with_mods"):
        if isinstance(resp["time_stamp_token"], core.Void):  # absent OPTIONAL field
            raise TimestampError("status granted but the response has no token")
        return
    text = ""
    if status["status_string"].native:
        text = "; ".join(str(s) for s in status["status_string"].native)[:200]
    fail = status["fail_info"].native
    flags = ", ".join(sorted(fail)) if fail else ""
    detail = " ".join(x for x in (f"({flags})" if flags else "", text) if x)
    raise TimestampError(f"TSA refused the request: {code}{' ' + detail if detail else ''}")


def _octets(content: Any) -> bytes:
    """The DER bytes inside the eContent OCTET STRING (not the parsed TSTInfo)."""
    if isinstance(content, core.ParsableOctetString):
        return bytes(content.__bytes__())
    raise TimestampError("token has no encapsulated TSTInfo")


@dataclass(frozen=True)
class _Tst:
    gen_time: datetime
    serial: int
    nonce: int | None
    policy: str


def _check_tst_info(tst: tsp.TSTInfo, data: bytes, nonce: int | None) -> _Tst:
    imprint = tst["message_imprint"]
    algo = imprint["hash_algorithm"]["algorithm"].native
    if algo not in _DIGESTS:
        raise TimestampError(f"message imprint uses unsupported hash {algo}")
    if imprint["hashed_message"].native != _DIGESTS[algo](data).digest():
        raise TimestampError("timestamp is for other data: message imprint does not match")
    got_nonce = tst["nonce"].native
    if nonce is not None and got_nonce != nonce:
        raise TimestampError("timestamp nonce does not match the request")
    gen_time = tst["gen_time"].native
    if not isinstance(gen_time, datetime) or gen_time.tzinfo is None:
        raise TimestampError("timestamp has no valid genTime")
    serial = tst["serial_number"].native
    if not isinstance(serial, int):
        raise TimestampError("timestamp has no serial number")
    return _Tst(gen_time.astimezone(UTC), serial, got_nonce, str(tst["policy"].dotted))


def _certificates(signed: cms.SignedData) -> list[tuple[x509.Certificate, bytes]]:
    out = []
    for choice in signed["certificates"] or []:
        if choice.name != "certificate":
            continue
        der = bytes(choice.chosen.dump())
        out.append((x509.load_der_x509_certificate(der), der))
    return out


def _find_signer(
    signer_info: cms.SignerInfo, certs: list[tuple[x509.Certificate, bytes]]
) -> tuple[x509.Certificate, bytes]:
    sid = signer_info["sid"]
    for cert, der in certs:
        a_cert = asn1_x509.Certificate.load(der)
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            found = (
                ias["serial_number"].native == a_cert.serial_number
                and ias["issuer"] == a_cert.issuer
            )
        else:  # subject_key_identifier
            found = a_cert.key_identifier is not None and sid.chosen.native == a_cert.key_identifier
        if found:
            return cert, der
    if not certs:
        raise TimestampError("token carries no TSA certificate (request certReq)")
    raise TimestampError("the TSA certificate that signed is not in the token")


def _attr(attrs: cms.CMSAttributes, name: str) -> Any:
    found = [a for a in attrs if a["type"].native == name]
    if len(found) != 1 or len(found[0]["values"]) != 1:
        raise TimestampError(f"signed attributes need exactly one {name}")
    return found[0]["values"][0]


def _check_signed_attrs(signer_info: cms.SignerInfo, tst_der: bytes, signer_der: bytes) -> None:
    attrs = signer_info["signed_attrs"]
    if _attr(attrs, "content_type").native != "tst_info":
        raise TimestampError("signed content-type attribute is not id-ct-TSTInfo")
    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    if digest_name not in _CRYPTO_HASHES or digest_name == "sha1":
        raise TimestampError(f"unsupported signer digest {digest_name}")
    if _attr(attrs, "message_digest").native != hashlib.new(digest_name, tst_der).digest():
        raise TimestampError("TSTInfo was altered: message-digest attribute does not match")
    names = {a["type"].native for a in attrs}
    if "signing_certificate_v2" in names:
        ids = _attr(attrs, "signing_certificate_v2")["certs"]
        first = ids[0]
        algo = first["hash_algorithm"]["algorithm"].native
        if algo not in _CRYPTO_HASHES:
            raise TimestampError(f"unsupported ESSCertIDv2 hash {algo}")
        want = hashlib.new(algo, signer_der).digest()
    elif "signing_certificate" in names:
        ids = _attr(attrs, "signing_certificate")["certs"]
        first = ids[0]
        want = hashlib.sha1(signer_der).digest()
    else:
        raise TimestampError("signed attributes have no ESS signing-certificate")
    if first["cert_hash"].native != want:
        raise TimestampError("ESS signing-certificate does not name the signing certificate")


def _check_signature(
    signer_info: cms.SignerInfo, signed_bytes: bytes, cert: x509.Certificate
) -> None:
    signature = bytes(signer_info["signature"].native)
    sig_algo: algos.SignedDigestAlgorithm = signer_info["signature_algorithm"]
    kind = sig_algo.signature_algo
    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    hash_cls = _CRYPTO_HASHES[digest_name]
    key = cert.public_key()
    # sha256WithRSAEncryption, ecdsa-with-SHA256... name a hash: it must be the signer's digest
    names_hash = kind in ("rsassa_pkcs1v15", "ecdsa") and sig_algo["algorithm"].native != kind
    if names_hash and sig_algo.hash_algo != digest_name:
        raise TimestampError("signature and digest algorithms disagree")
    try:
        if kind == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed_bytes, padding.PKCS1v15(), hash_cls())
        elif kind == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey):
            params = sig_algo["parameters"]
            pss_hash = _CRYPTO_HASHES[params["hash_algorithm"]["algorithm"].native]
            mgf_hash = _CRYPTO_HASHES[
                params["mask_gen_algorithm"]["parameters"]["algorithm"].native
            ]
            pad = padding.PSS(
                mgf=padding.MGF1(mgf_hash()), salt_length=params["salt_length"].native
            )
            key.verify(signature, signed_bytes, pad, pss_hash())
        elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed_bytes, ec.ECDSA(hash_cls()))
        elif kind == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, signed_bytes)
        else:
            raise TimestampError(f"unsupported signature algorithm {kind} for this TSA key")
    except InvalidSignature:
        raise TimestampError("bad TSA signature: token altered or signed by another key") from None
    except UnsupportedAlgorithm as exc:
        raise TimestampError(f"unsupported signature algorithm: {exception_line(exc)}") from None


def _valid_at(cert: x509.Certificate, when: datetime, what: str) -> None:
    if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
        raise TimestampError(f"{what} was not valid at the time stamped ({when.isoformat()})")


def _check_tsa_certificate(cert: x509.Certificate, when: datetime) -> None:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise TimestampError("TSA certificate has no extended key usage") from None
    except ValueError as exc:
        raise TimestampError(f"TSA certificate extensions are malformed: {exception_line(exc)}") from None
    if not eku.critical:
        raise TimestampError("TSA certificate extended key usage is not critical")
    if list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise TimestampError("TSA certificate extended key usage is not exactly timeStamping")
    _valid_at(cert, when, "TSA certificate")


def _check_tsa_name(tst: tsp.TSTInfo, cert: x509.Certificate, cert_der: bytes) -> None:
    """If the TSTInfo names the TSA by directory name, it must be the signer's subject."""
    try:
        name = tst["tsa"]
        if name.native is None or name.name != "directory_name":
            return
        matches = bool(name.chosen == asn1_x509.Certificate.load(cert_der).subject)
    except Exception as exc:
        raise TimestampError(f"malformed TSA name: {exception_line(exc)}") from None
    if not matches:
        raise TimestampError("TSA name in the token is not the subject of its certificate")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    except (x509.ExtensionNotFound, ValueError):
        return False
    return bool(bc.value.ca)


def _issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _check_chain(
    leaf: x509.Certificate,
    carried: list[tuple[x509.Certificate, bytes]],
    roots: list[x509.Certificate],
    when: datetime,
) -> None:
    current = leaf
    for _depth in range(_MAX_CHAIN):
        if any(current == root for root in roots):
            return  # the trusted certificate itself (pinned TSA certificate or CA reached)
        for root in roots:
            if _issued_by(current, root):
                _valid_at(root, when, "CA certificate")
                return
        step = next(
            (c for c, _ in carried if c != current and _is_ca(c) and _issued_by(current, c)),
            None,
        )
        if step is None:
            break
        _valid_at(step, when, "intermediate certificate")
        current = step
    raise TimestampError("TSA certificate does not chain to the trusted CA certificate")
