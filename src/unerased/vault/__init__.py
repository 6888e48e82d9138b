"""Encryption at rest for a home (docs/encryption.md): its keys (a random data key
wrapped by a passphrase through Argon2id, or by a key file), the blob cipher
(AES-256-GCM), the key lock taken by ``key rotate``, the check for synced folders.

The store uses these to open an encrypted home (SQLCipher for the database, the cipher
for blobs); the command line unlocks the keys once per command. Middle layer: imports
only the bottom (``errors``, ``_files``) and ``cryptography``.
"""

from __future__ import annotations

from ._blobcipher import OVERHEAD, BlobCipher, is_sealed
from ._keys import (
    CURRENT_FILE,
    DEFAULT_KDF,
    NEXT_FILE,
    DataKey,
    HomeKeys,
    KdfParams,
    Secret,
    create_keys,
    destroy_keys,
    is_encrypted,
    new_key_file,
    promote_pending,
    read_key_file,
    reseal_key_file,
    rewrap,
    unlock,
    write_pending,
)
from ._lock import HomeLock
from ._synced import synced_by_name, synced_folder

__all__ = [
    "CURRENT_FILE",
    "DEFAULT_KDF",
    "NEXT_FILE",
    "OVERHEAD",
    "BlobCipher",
    "DataKey",
    "HomeKeys",
    "HomeLock",
    "KdfParams",
    "Secret",
    "create_keys",
    "destroy_keys",
    "is_encrypted",
    "is_sealed",
    "new_key_file",
    "promote_pending",
    "read_key_file",
    "reseal_key_file",
    "rewrap",
    "synced_by_name",
    "synced_folder",
    "unlock",
    "write_pending",
]
