"""A blob's authenticated encryption: AES-256-GCM, a random 96-bit nonce per blob.

On disk: ``b"UNRB" 0x01 | key id (8 bytes) | nonce (12) | ciphertext | tag (16)``. The
associated data is that 25-byte header and the blob's content address (the sha256 of
its PLAINTEXT), so the ledger, receipts and ``verify`` are unchanged, and a blob moved to
another blob's name, altered, truncated or encrypted under another key fails to decrypt:
a :class:`~unerased.errors.BlobError` naming the blob. The key id names which data key
(of :class:`~unerased.vault.HomeKeys`) sealed it, so a home stays readable mid-rotation.

A blob key is used for at most a few billion blobs with random nonces (NIST SP 800-38D's
2^32 bound); a rotation gives a new one.
"""

from __future__ import annotations

import secrets

from ..errors import BlobError
from ._keys import DataKey, HomeKeys

__all__ = ["HEADER", "OVERHEAD", "BlobCipher", "is_sealed"]

MAGIC = b"UNRB\x01"
HEADER = len(MAGIC) + 8 + 12
OVERHEAD = HEADER + 16
MAX_BLOB = (1 << 31) - 1 - 16  # one AES-GCM call of the cryptography library


class BlobCipher:
    """Seals and opens the blobs of an encrypted home with its keys."""

    def __init__(self, keys: HomeKeys, *, seal_with: DataKey | None = None) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.keys = keys
        self._seal_key = seal_with or keys.current
        self._aead = {k.key_id: AESGCM(k.blob_key) for k in keys.all()}
        if self._seal_key.key_id not in self._aead:
            self._aead[self._seal_key.key_id] = AESGCM(self._seal_key.blob_key)

    @property
    def seal_key_id(self) -> bytes:
        return self._seal_key.key_id

    def seal(self, data: bytes, digest: str) -> bytes:
        """``data`` encrypted, bound to its content address ``digest``."""
        if len(data) > MAX_BLOB:
            raise BlobError(f"blob {digest} is {len(data)} bytes: an encrypted home holds "
                            f"blobs of at most {MAX_BLOB} bytes")
        header = MAGIC + self._seal_key.key_id + secrets.token_bytes(12)
        aead = self._aead[self._seal_key.key_id]
        return header + aead.encrypt(header[-12:], data, header + bytes.fromhex(digest))

    def open(self, blob: bytes, digest: str) -> bytes:
        """The plaintext of a stored blob; BlobError when it fails authentication."""
        from cryptography.exceptions import InvalidTag

        if len(blob) < OVERHEAD or not blob.startswith(MAGIC):
            raise BlobError(f"blob {digest} is not an encrypted blob of unerased (damaged, "
                            "or put there by hand)")
        header = blob[:HEADER]
        aead = self._aead.get(self.key_id_of(blob))
        if aead is None:
            raise BlobError(f"blob {digest} is sealed with a key this archive does not have")
        try:
            return aead.decrypt(header[-12:], blob[HEADER:], header + bytes.fromhex(digest))
        except InvalidTag:
            raise BlobError(f"blob {digest} fails authentication (altered, truncated or "
                            "not this blob)") from None

    def seal_file(self, data: bytes, name: str) -> bytes:
        """A small file of ``keys/`` (the ledger's signing key) sealed as a blob is, bound
        to its name instead of a content address."""
        header = MAGIC + self._seal_key.key_id + secrets.token_bytes(12)
        aead = self._aead[self._seal_key.key_id]
        return header + aead.encrypt(header[-12:], data, header + b"file:" + name.encode())

    def open_file(self, data: bytes, name: str) -> bytes:
        """The plaintext of a file sealed by :meth:`seal_file`; BlobError if it fails."""
        from cryptography.exceptions import InvalidTag

        aead = self._aead.get(self.key_id_of(data)) if is_sealed(data) else None
        if aead is None or len(data) < OVERHEAD:
            raise BlobError(f"{name} is not sealed with a key this archive has")
        header = data[:HEADER]
        try:
            return aead.decrypt(header[-12:], data[HEADER:], header + b"file:" + name.encode())
        except InvalidTag:
            raise BlobError(f"{name} fails authentication (altered or damaged)") from None

    @staticmethod
    def key_id_of(blob: bytes) -> bytes:
        return blob[len(MAGIC):len(MAGIC) + 8]

    @staticmethod
    def plain_size(stored_size: int) -> int:
        return max(stored_size - OVERHEAD, 0)


def is_sealed(data: bytes) -> bool:
    """Whether ``data`` is sealed by a :class:`BlobCipher` (by its header)."""
    return data.startswith(MAGIC)
