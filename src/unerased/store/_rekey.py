"""Key rotation of an encrypted home: a new data key, every blob and the database
re-encrypted under it, crash-safe.

The steps, each of which leaves a home that opens with the same passphrase:

1. the new data key is written wrapped, beside the current one (``data-key.next.json``);
   from then on the home is unlocked with both, and a blob or the database opens with
   whichever sealed it;
2. every blob not yet sealed by the new key is re-encrypted (temp file, fsync, rename:
   whole under one key or the other), and so is the ledger's signing key;
3. the SQLite database is re-keyed (``PRAGMA rekey``: one transaction);
4. the new key replaces the current one (one atomic rename): the old key is gone.

A rotation killed at any point is finished by running it again (it resumes with the
pending key). It holds the key lock exclusively: no other process writes meanwhile.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from ..errors import KeyLocked
from ._blobs import BlobStore
from ._engine import SQLITE_FILE, sqlcipher_key_of, sqlcipher_rekey

__all__ = ["rotate_keys"]


def rotate_keys(home: Path, db_url: str | None, secret: object, *,
                step: Callable[[str, int], None] | None = None) -> int:
    """Rotate the data key of the encrypted home at ``home`` (``secret`` unlocks it: a
    :class:`~unerased.vault.Secret`). Returns the number of blobs re-encrypted.
    ``step(what, n)`` is called after each step — ``("pending", 0)``, ``("blob", n)``
    after the n-th blob, ``("database", 0)`` — for progress (tests kill the process
    there)."""
    from ..vault import (
        BlobCipher,
        DataKey,
        HomeKeys,
        HomeLock,
        Secret,
        promote_pending,
        reseal_key_file,
        unlock,
        write_pending,
    )

    assert isinstance(secret, Secret)
    lock = HomeLock(home, exclusive=True)
    try:
        keys = unlock(home, secret)
        new = keys.pending
        if new is None:
            new = DataKey.new()
            write_pending(home, new, secret)
        if step is not None:
            step("pending", 0)
        both = HomeKeys(keys.current, new)
        blobs = BlobStore(Path(home) / "blobs", BlobCipher(both))
        sealer = BlobCipher(both, seal_with=new)
        n = 0
        for digest in blobs.iter_digests():
            if blobs.stored_key_id(digest) == new.key_id:
                continue  # done before an interruption
            blobs.reseal(digest, sealer)
            n += 1
            if step is not None:
                step("blob", n)
        opener = BlobCipher(both)
        reseal_key_file(Path(home) / "keys" / "ledger.key", opener, sealer)
        tmp = Path(home) / "blobs" / "tmp"
        if tmp.is_dir():  # staged files of transactions that died (no process is running)
            for p in tmp.iterdir():
                with contextlib.suppress(OSError):
                    os.unlink(p)
        if db_url is None:
            path = Path(home) / SQLITE_FILE
            if path.exists():
                old = sqlcipher_key_of(path, [keys.current.db_key, new.db_key])
                if old is None:
                    raise KeyLocked(f"the database of the archive at {home} does not open "
                                    "with its key")
                if old != new.db_key:
                    sqlcipher_rekey(path, old, new.db_key)
        if step is not None:
            step("database", 0)
        promote_pending(home)
        return n
    finally:
        lock.release()
