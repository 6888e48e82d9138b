"""The signed commit inside a firehose capture, and its signature checked.

A ``#commit`` frame's CAR (``blocks``) carries the repo's signed commit block
``{did, rev, data, prev, version, sig}``: the account's signing key (its DID
document's ``#atproto`` ``publicKeyMultibase``) signed the DAG-CBOR of the same map
without ``sig`` (ECDSA over SHA-256, 64-byte ``r||s``; secp256k1 or P-256). So a stored
capture is evidence a third party can check: :func:`verify_commit` answers whether the
frame's commit was signed by that key. Pure (no I/O).
"""

from __future__ import annotations

from typing import Any

import libipld
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

_CURVES: dict[bytes, ec.EllipticCurve] = {
    b"\xe7\x01": ec.SECP256K1(),  # multicodec secp256k1-pub
    b"\x80\x24": ec.SECP256R1(),  # multicodec p256-pub
}
_SIG_ENTRY = b"csig\x58\x40"  # the key "sig" and the head of a 64-byte string


def _varint(data: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        b = data[i]
        n |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return n, i
        shift += 7


def _cid_end(data: bytes, i: int) -> int:
    """Where a binary CIDv1 starting at ``i`` ends."""
    _version, i = _varint(data, i)
    _codec, i = _varint(data, i)
    _hash, i = _varint(data, i)
    size, i = _varint(data, i)
    return i + size


def car_blocks(car: bytes) -> dict[bytes, bytes]:
    """A CAR v1's blocks as received: binary CID -> the block's raw bytes."""
    size, i = _varint(car, 0)
    i += size
    out: dict[bytes, bytes] = {}
    while i < len(car):
        size, start = _varint(car, i)
        end = start + size
        if end > len(car):
            raise ValueError("truncated CAR block")
        cid_end = _cid_end(car, start)
        out[car[start:cid_end]] = car[cid_end:end]
        i = end
    return out


def signed_commit(frame: bytes) -> tuple[dict[str, Any], bytes] | None:
    """``(commit, its raw block)`` of a ``#commit`` frame; None when there is none."""
    try:
        header, body = libipld.decode_dag_cbor_multi(frame)
        if not isinstance(body, dict) or header.get("t") != "#commit":
            return None
        raw = car_blocks(body["blocks"]).get(body["commit"])
        if raw is None:
            return None
        commit = libipld.decode_dag_cbor(raw)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return (commit, raw) if isinstance(commit, dict) else None


def public_key(multibase: str, key_type: str | None = None) -> ec.EllipticCurvePublicKey | None:
    """A DID document's ``publicKeyMultibase``: a ``Multikey`` (``z…`` with the
    secp256k1 or P-256 multicodec prefix), or the legacy form (the bare point, its curve
    named by ``key_type``: ``EcdsaSecp256k1VerificationKey2019`` /
    ``EcdsaSecp256r1VerificationKey2019``; secp256k1 when not named)."""
    try:
        _base, data = libipld.decode_multibase(multibase)
        curve = _CURVES.get(data[:2])
        if curve is not None:
            return ec.EllipticCurvePublicKey.from_encoded_point(curve, data[2:])
        if (len(data) == 65 and data[0] == 4) or (len(data) == 33 and data[0] in (2, 3)):
            legacy: ec.EllipticCurve = (ec.SECP256R1() if key_type and "256r1" in key_type
                                        else ec.SECP256K1())
            return ec.EllipticCurvePublicKey.from_encoded_point(legacy, data)
    except (ValueError, TypeError):
        return None
    return None


def verify_commit(frame: bytes, multibase_key: str, key_type: str | None = None) -> bool:
    """Whether the frame's commit block was signed by this key (the DID document's
    ``#atproto`` key at the time; ``key_type``: its ``type``, for the legacy forms).
    False for anything that does not check out."""
    found = signed_commit(frame)
    key = public_key(multibase_key, key_type)
    if found is None or key is None:
        return False
    commit, raw = found
    sig = commit.get("sig")
    at = raw.find(_SIG_ENTRY)
    if not isinstance(sig, bytes) or len(sig) != 64 or at < 0 or not 0xA1 <= raw[0] <= 0xB7:
        return False
    unsigned = bytes([raw[0] - 1]) + raw[1:at] + raw[at + len(_SIG_ENTRY) + 64:]
    try:
        if libipld.decode_dag_cbor(unsigned).keys() != commit.keys() - {"sig"}:
            return False
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                   int.from_bytes(sig[32:], "big"))
        key.verify(der, unsigned, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


__all__ = ["car_blocks", "public_key", "signed_commit", "verify_commit"]
