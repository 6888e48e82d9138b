"""An encrypted home's keys: a random data key (DEK) wrapped by a key-encryption key
(KEK) derived from a passphrase (Argon2id) or from a key file (HKDF-SHA256).

``HOME/keys/data-key.json`` holds the wrapped DEK and how to unwrap it; while a key
rotation is under way ``HOME/keys/data-key.next.json`` holds the new one, wrapped by the
same secret. The DEK never touches the disk in clear. From it come, by HKDF-SHA256 with
distinct labels, the SQLCipher key of the database, the blob key and a public key id
(which names the DEK in each blob's header).

Wrapping is AES-256-GCM with a random nonce; its associated data is the file's own
metadata (format, key id, unlock method, KDF and its parameters), so a parameter changed
on disk makes the unwrap fail instead of quietly weakening the KDF. A wrong secret is a
:class:`~unerased.errors.KeyLocked` of one line; nothing is changed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._files import mkstemp_private, os_reason, private_dir
from ..errors import KeyLocked, StoreError, UsageError

__all__ = [
    "CURRENT_FILE",
    "DEFAULT_KDF",
    "NEXT_FILE",
    "DataKey",
    "HomeKeys",
    "KdfParams",
    "Secret",
    "create_keys",
    "destroy_keys",
    "is_encrypted",
    "new_key_file",
    "read_key_file",
    "reseal_key_file",
    "rewrap",
    "unlock",
    "write_pending",
    "promote_pending",
]

KEY_DIR = "keys"
CURRENT_FILE = "data-key.json"
NEXT_FILE = "data-key.next.json"
_FORMAT = "unerased-data-key"
_VERSION = 1
MIN_KEY_FILE = 32  # bytes of a key file, at least


@dataclass(frozen=True)
class KdfParams:
    """Argon2id's cost. The defaults are RFC 9106's second recommended option (§4: 3
    passes over 64 MiB in 4 lanes) — about a second here (docs/encryption.md)."""

    iterations: int = 3
    memory_kib: int = 64 * 1024
    lanes: int = 4


DEFAULT_KDF = KdfParams()


@dataclass(frozen=True)
class Secret:
    """What unlocks a home: a passphrase, or the bytes of a key file."""

    passphrase: str | None = field(default=None, repr=False)
    key_file: bytes | None = field(default=None, repr=False)
    key_file_name: str = ""

    @property
    def method(self) -> str:
        return "key-file" if self.key_file is not None else "passphrase"

    def describe(self) -> str:
        return f"key file {self.key_file_name}" if self.key_file is not None else "passphrase"


@dataclass(frozen=True)
class DataKey:
    """One DEK and what is derived from it."""

    dek: bytes = field(repr=False)

    @property
    def key_id(self) -> bytes:
        return _hkdf(self.dek, b"unerased key id v1", 8)

    @property
    def db_key(self) -> bytes:
        return _hkdf(self.dek, b"unerased sqlcipher v1", 32)

    @property
    def blob_key(self) -> bytes:
        return _hkdf(self.dek, b"unerased blobs v1", 32)

    @classmethod
    def new(cls) -> DataKey:
        return cls(secrets.token_bytes(32))


@dataclass(frozen=True)
class HomeKeys:
    """An unlocked home's keys: the current DEK and, while a rotation is under way (or
    was interrupted), the pending one. The SQLCipher key and every blob's key are found
    among them."""

    current: DataKey
    pending: DataKey | None = None

    def all(self) -> list[DataKey]:
        return [self.current] + ([self.pending] if self.pending is not None else [])

    def by_id(self, key_id: bytes) -> DataKey | None:
        for k in self.all():
            if k.key_id == key_id:
                return k
        return None


def keys_dir(home: Path) -> Path:
    return Path(home) / KEY_DIR


def is_encrypted(home: Path) -> bool:
    """Whether the home at ``home`` is encrypted (it has a wrapped data key)."""
    return (keys_dir(home) / CURRENT_FILE).is_file()


# ------------------------------------------------------------------ secrets


def read_key_file(path: Path) -> Secret:
    """The secret in a key file (at least 32 bytes; its surrounding whitespace ignored)."""
    try:
        data = Path(path).read_bytes().strip()
    except OSError as e:
        raise UsageError(f"--key-file: cannot read {path}: {os_reason(e)}") from None
    if len(data) < MIN_KEY_FILE:
        raise UsageError(f"--key-file: {path} holds {len(data)} bytes; a key file needs at "
                         f"least {MIN_KEY_FILE} random bytes")
    return Secret(key_file=data, key_file_name=str(path))


def new_key_file(path: Path) -> Secret:
    """Make a new key file at ``path`` (0600; 32 random bytes, base64), never overwriting."""
    text = base64.b64encode(secrets.token_bytes(32)) + b"\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     0o600)
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise UsageError(f"--key-file: cannot write {path}: {os_reason(e)}") from None
    return read_key_file(path)


# ------------------------------------------------------------------ wrapping


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _unb64(s: Any) -> bytes:
    if not isinstance(s, str):
        raise ValueError("not base64 text")
    return base64.b64decode(s, validate=True)


def _hkdf(ikm: bytes, info: bytes, length: int, salt: bytes | None = None) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def _kek(secret: Secret, kdf: dict[str, Any]) -> bytes:
    salt = _unb64(kdf["salt"])
    if secret.key_file is not None:
        if kdf.get("name") != "hkdf-sha256":
            raise KeyLocked("this archive is unlocked by a passphrase, not a key file")
        return _hkdf(secret.key_file, b"unerased key-file kek v1", 32, salt)
    if kdf.get("name") != "argon2id":
        raise KeyLocked("this archive is unlocked by a key file (--key-file), not a passphrase")
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    params = KdfParams(int(kdf["iterations"]), int(kdf["memory_kib"]), int(kdf["lanes"]))
    try:
        return Argon2id(salt=salt, length=32, iterations=params.iterations, lanes=params.lanes,
                        memory_cost=params.memory_kib).derive((secret.passphrase or "").encode())
    except UnsupportedAlgorithm:
        raise StoreError("this build of the cryptography library has no Argon2id (it needs "
                         "OpenSSL 3.2 or later): pip install 'cryptography>=44'") from None


def _new_kdf(secret: Secret, params: KdfParams) -> dict[str, Any]:
    salt = _b64(secrets.token_bytes(16))
    if secret.key_file is not None:
        return {"name": "hkdf-sha256", "salt": salt}
    return {"name": "argon2id", "salt": salt, "iterations": params.iterations,
            "memory_kib": params.memory_kib, "lanes": params.lanes}


def _aad(meta: dict[str, Any]) -> bytes:
    return json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()


def _wrap(key: DataKey, secret: Secret, params: KdfParams) -> bytes:
    """The JSON text of a wrapped-key file for ``key``."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    meta: dict[str, Any] = {"format": _FORMAT, "version": _VERSION,
                            "key_id": key.key_id.hex(),
            "unlock": secret.method, "kdf": _new_kdf(secret, params)}
    nonce = secrets.token_bytes(12)
    wrapped = AESGCM(_kek(secret, meta["kdf"])).encrypt(nonce, key.dek, _aad(meta))
    doc = dict(meta, nonce=_b64(nonce), wrapped=_b64(wrapped))
    return (json.dumps(doc, indent=1) + "\n").encode()


def _params_of(path: Path) -> KdfParams | None:
    """The Argon2id parameters a wrapped-key file was made with (None: a key file's)."""
    try:
        kdf = json.loads(path.read_bytes())["kdf"]
        if kdf.get("name") != "argon2id":
            return None
        return KdfParams(int(kdf["iterations"]), int(kdf["memory_kib"]), int(kdf["lanes"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _unwrap(path: Path, secret: Secret) -> DataKey:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        doc = json.loads(path.read_bytes())
        meta = {k: doc[k] for k in ("format", "version", "key_id", "unlock", "kdf")}
        if meta["format"] != _FORMAT or meta["version"] != _VERSION:
            raise ValueError("not an unerased data key of a version this unerased knows")
        nonce, wrapped = _unb64(doc["nonce"]), _unb64(doc["wrapped"])
        kek = _kek(secret, meta["kdf"])
    except OSError as e:
        raise KeyLocked(f"cannot read the archive's key {path}: {os_reason(e)}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise KeyLocked(f"the archive's key {path} is damaged ({type(e).__name__})") from None
    try:
        dek = AESGCM(kek).decrypt(nonce, wrapped, _aad(meta))
    except InvalidTag:
        raise KeyLocked(f"wrong {secret.describe()} for the archive's key {path}") from None
    key = DataKey(dek)
    if key.key_id.hex() != meta["key_id"]:
        raise KeyLocked(f"the archive's key {path} is damaged (its key id does not match)")
    return key


def _write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (0600): temp file, fsync, rename, fsync the directory."""
    try:
        private_dir(path.parent)
        fd, tmp = mkstemp_private(path.parent, ".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(path.parent)
    except OSError as e:
        raise StoreError(f"cannot write the archive's key {path}: {os_reason(e)}") from None


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------------ the home's keys


def create_keys(home: Path, secret: Secret, params: KdfParams = DEFAULT_KDF) -> HomeKeys:
    """A new DEK for the home, wrapped by ``secret`` into ``HOME/keys/data-key.json``."""
    path = keys_dir(home) / CURRENT_FILE
    if path.exists():
        raise StoreError(f"the archive at {home} has a key already ({path})")
    key = DataKey.new()
    _write_atomic(path, _wrap(key, secret, params))
    return HomeKeys(key)


def unlock(home: Path, secret: Secret) -> HomeKeys:
    """The home's keys, unwrapped by ``secret``; KeyLocked (one line) when it is wrong."""
    d = keys_dir(home)
    current = _unwrap(d / CURRENT_FILE, secret)
    pending = _unwrap(d / NEXT_FILE, secret) if (d / NEXT_FILE).is_file() else None
    return HomeKeys(current, pending)


def rewrap(home: Path, keys: HomeKeys, secret: Secret, params: KdfParams | None = None) -> None:
    """Wrap the home's DEK with a new secret: a passphrase change (not while a rotation
    is pending).
    The DEK stays, so nothing else is re-encrypted. Each file is replaced atomically.
    ``params`` None: the Argon2id cost the key was made with (else the defaults)."""
    d = keys_dir(home)
    if params is None:
        params = _params_of(d / CURRENT_FILE) or DEFAULT_KDF
    if keys.pending is not None:
        raise StoreError("a key rotation was interrupted: finish it first (`unerased key "
                         "rotate`)")
    _write_atomic(d / CURRENT_FILE, _wrap(keys.current, secret, params))


def write_pending(home: Path, key: DataKey, secret: Secret) -> None:
    """Record a rotation's new DEK (``data-key.next.json``), wrapped by the same secret."""
    d = keys_dir(home)
    params = _params_of(d / CURRENT_FILE) or DEFAULT_KDF
    _write_atomic(d / NEXT_FILE, _wrap(key, secret, params))


def promote_pending(home: Path) -> None:
    """End a rotation: the pending key becomes the current one (one atomic rename); the
    old wrapped key is overwritten by that rename."""
    d = keys_dir(home)
    try:
        os.replace(d / NEXT_FILE, d / CURRENT_FILE)
        _fsync_dir(d)
    except OSError as e:
        raise StoreError(f"cannot write the archive's key {d / CURRENT_FILE}: "
                         f"{os_reason(e)}") from None


def reseal_key_file(path: Path, opener: Any, sealer: Any) -> bool:
    """Re-encrypt a sealed file of ``keys/`` (the ledger's signing key) for a rotation:
    opened by ``opener``, sealed by ``sealer`` (:class:`~unerased.vault.BlobCipher`),
    replaced atomically. False when there is nothing to do (no such file, a plain one,
    or sealed by ``sealer``'s key already)."""
    from ._blobcipher import BlobCipher, is_sealed

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return False
    except OSError as e:
        raise StoreError(f"cannot read {path}: {os_reason(e)}") from None
    if not is_sealed(data) or BlobCipher.key_id_of(data) == sealer.seal_key_id:
        return False
    _write_atomic(path, sealer.seal_file(opener.open_file(data, path.name), path.name))
    return True


def destroy_keys(home: Path) -> list[Path]:
    """Overwrite every file in ``HOME/keys`` with random bytes (fsynced), then unlink it.
    Returns the files destroyed. (On an SSD or a copy-on-write file system the old blocks
    may survive the overwrite: docs/encryption.md.)"""
    d = keys_dir(home)
    done: list[Path] = []
    if not d.is_dir():
        return done
    for p in sorted(d.iterdir()):
        if not p.is_file() or p.is_symlink():
            continue
        try:
            size = max(p.stat().st_size, 1)
            fd = os.open(p, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
            try:
                for _ in range(2):
                    os.lseek(fd, 0, os.SEEK_SET)
                    os.write(fd, secrets.token_bytes(size))
                    os.fsync(fd)
            finally:
                os.close(fd)
            p.unlink()
        except OSError as e:
            raise StoreError(f"cannot destroy the key {p}: {os_reason(e)}") from None
        done.append(p)
    with contextlib.suppress(OSError):
        _fsync_dir(d)
    return done
