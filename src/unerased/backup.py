"""``unerased backup`` and ``unerased restore`` (docs/backups.md).

A backup is a directory (owner-only: 0700, files 0600)::

    manifest.json           what is here: every file with its SHA-256 and size
    database.sqlite         SQLite's online backup of the database (or database.pgdump)
    blobs/ab/cd/<sha256>    every blob, by content address, its digest checked on copy
    keys/ledger.pub         the ledger's public key (not a secret)
    keys/data-key.json      an encrypted home's data key, wrapped (needs the passphrase)
    config.toml             the home's settings, without secrets unless --with-keys
    keys/ledger.key, web-secret, …   only with --with-keys

The database is copied first, in one read transaction, while the collector keeps
writing; the blobs after it (blobs are written before the rows naming them commit, so
every blob the copy names is there). An encrypted home's backup stays encrypted: the
database is copied by SQLCipher into a database keyed the same way, the blobs as sealed
on disk (each one opened and its digest checked first). Without ``--with-keys`` no
secret leaves the home:
the signing key and the web secret are kept apart (copy them separately, to another
medium). ``restore`` checks every file against the manifest before it writes anything,
restores into an empty or new home only, and then ``verify`` passes and the next
checkpoint extends the old ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._files import open_private, os_reason, private_dir
from .errors import BackupError, UsageError
from .model import iso, utcnow
from .store import Store, restore_database

__all__ = [
    "FORMAT",
    "MANIFEST",
    "SECRET_FILES",
    "BackupResult",
    "RestoreResult",
    "check_backup",
    "make_backup",
    "restore_backup",
]

FORMAT = "unerased-backup/1"
MANIFEST = "manifest.json"
CHUNK = 1 << 20
PUBLIC_KEY = "keys/ledger.pub"
ALWAYS_KEYS = (PUBLIC_KEY, "keys/data-key.json", "keys/data-key.next.json")
"""Always in a backup: the ledger's public key, and an encrypted home's data key as it
is kept — wrapped by the passphrase or key file, useless without them, and the only way
to open the encrypted database and blobs."""
NOT_COPIED = ("keys/lock",)
SECRET_FILES = ("web-secret",)
"""Files of the home, beside ``keys/`` (all secret but :data:`ALWAYS_KEYS`), copied
only with ``--with-keys``."""
CONFIG = "config.toml"

Progress = Callable[[int], None]


@dataclass
class BackupResult:
    out: Path
    database: str
    files: int = 0
    blobs: int = 0
    bytes: int = 0
    with_keys: bool = False
    manifest_sha256: str = ""
    damaged: list[str] = field(default_factory=list)


@dataclass
class RestoreResult:
    home: Path
    files: int
    blobs: int
    with_keys: bool
    checkpoint: dict[str, Any] | None
    encrypted: bool = False


def _copy(src: Path, dest: Path) -> tuple[str, int]:
    """Copy ``src`` to a new owner-only ``dest``; (SHA-256 of what was written, size)."""
    private_dir(dest.parent)
    h = hashlib.sha256()
    n = 0
    fd = open_private(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    with os.fdopen(fd, "wb") as fout, src.open("rb") as fin:
        while chunk := fin.read(CHUNK):
            h.update(chunk)
            n += len(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return h.hexdigest(), n


def _digest(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def _plain_digest(store: Store, digest: str) -> str | None:
    """The SHA-256 of a sealed blob's plain content (opened and authenticated), None
    when it cannot be opened (altered, truncated, another key)."""
    from .errors import StoreError

    try:
        return store.blobs.hash_file(digest)[0]
    except StoreError:
        return None


def _write_private(path: Path, data: bytes) -> None:
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _empty_or_new(path: Path, what: str) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(f"{what} {path} is not empty: give a new or empty directory")


def _config_text(home: Path, with_keys: bool) -> bytes | None:
    """The home's settings file, its secret values left out unless ``with_keys``."""
    path = home / CONFIG
    if not path.is_file():
        return None
    if with_keys:
        return path.read_bytes()
    from . import config

    settings = config.load(home)
    kept = {k: v for k, v in settings.values.items()
            if config.KEYS.get(k) is None or config.KEYS[k].kind != "secret"}
    return config.to_toml(kept).encode("utf-8")


def _secret_paths(home: Path) -> Iterator[tuple[str, Path]]:
    keys = home / "keys"
    if keys.is_dir():
        for p in sorted(keys.iterdir()):
            if p.is_file() and not p.name.startswith(".tmp-"):
                yield f"keys/{p.name}", p
    for name in SECRET_FILES:
        if (home / name).is_file():
            yield name, home / name


def make_backup(store: Store, out: Path, *, with_keys: bool = False,
                progress: Progress | None = None) -> BackupResult:
    """Back the archive up into ``out`` (new or empty). Consistent while others write."""
    from .ledger import log

    _empty_or_new(out, "the backup directory")
    if Path(os.path.abspath(out)).is_relative_to(os.path.abspath(store.home)):
        raise UsageError(f"the backup directory {out} is inside the home {store.home}: a "
                         "backup belongs elsewhere (another disk, another place)")
    try:
        private_dir(out)
        os.chmod(out, 0o700)
    except OSError as e:
        raise BackupError(f"cannot make the backup directory {out}: {os_reason(e)}") from None
    with store.reader() as conn:
        cp = log.latest_checkpoint(conn)
    files: dict[str, dict[str, Any]] = {}
    try:
        db_name = store.backup_database(out)
        digest, size = _digest(out / db_name)
        files[db_name] = {"sha256": digest, "size": size}
        res = BackupResult(out, db_name, with_keys=with_keys)
        sealed = store.blobs.cipher is not None
        for d in store.blobs.iter_digests():
            src = store.blobs.path(d)
            rel = f"blobs/{d[:2]}/{d[2:4]}/{d}"
            plain = _plain_digest(store, d) if sealed else None
            got, size = _copy(src, out / rel)
            if (plain if sealed else got) != d:  # damaged in the home: kept aside, named
                os.replace(out / rel, out / rel.replace("blobs/", "damaged/", 1))
                res.damaged.append(d)
                continue
            files[rel] = {"sha256": got, "size": size}
            res.blobs += 1
            res.bytes += size
            if progress is not None:
                progress(1)
        home = store.home
        extra = [(r, home / r) for r in ALWAYS_KEYS if (home / r).is_file()]
        if with_keys:
            extra += [(r, p) for r, p in _secret_paths(home)
                      if r not in ALWAYS_KEYS and r not in NOT_COPIED]
        for rel, p in extra:
            got, size = _copy(p, out / rel)
            files[rel] = {"sha256": got, "size": size}
        cfg = _config_text(home, with_keys)
        if cfg is not None:
            _write_private(out / CONFIG, cfg)
            files[CONFIG] = {"sha256": hashlib.sha256(cfg).hexdigest(), "size": len(cfg)}
    except OSError as e:
        raise BackupError(f"cannot write the backup in {out}: {os_reason(e)}") from None
    manifest = {
        "format": FORMAT,
        "created": iso(utcnow()),
        "database": db_name,
        "with_keys": with_keys,
        "encrypted": sealed,
        "checkpoint": None if cp is None else {"size": cp.size, "root": cp.root.hex(),
                                               "note": cp.note},
        "damaged_blobs": res.damaged,
        "files": dict(sorted(files.items())),
    }
    data = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8")
    _write_private(out / MANIFEST, data)
    check_backup(out)  # read back what was written: every digest
    res.files = len(files)
    res.manifest_sha256 = hashlib.sha256(data).hexdigest()
    return res


def check_backup(src: Path) -> dict[str, Any]:
    """The manifest of the backup ``src`` once every file it names is there with its
    digest and size, and no file is there that it does not name; BackupError otherwise."""
    try:
        manifest = json.loads((src / MANIFEST).read_bytes())
    except FileNotFoundError:
        raise BackupError(f"{src} is not an unerased backup (no {MANIFEST})") from None
    except (OSError, ValueError) as e:
        raise BackupError(f"cannot read {src / MANIFEST}: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{src / MANIFEST} is not a manifest of {FORMAT}")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise BackupError(f"{src / MANIFEST} lists no files")
    for rel, want in files.items():
        p = src / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            raise BackupError(f"{src / MANIFEST} names a file outside the backup: {rel!r}")
        try:
            got, size = _digest(p)
        except FileNotFoundError:
            raise BackupError(f"the backup lacks {rel}") from None
        except OSError as e:
            raise BackupError(f"cannot read {p}: {os_reason(e)}") from None
        if not isinstance(want, dict) or got != want.get("sha256") or size != want.get("size"):
            raise BackupError(f"{rel} in {src} does not match its manifest digest: damaged "
                              "or changed")
    for p in src.rglob("*"):
        rel = p.relative_to(src).as_posix()
        if p.is_file() and rel != MANIFEST and rel not in files \
                and not rel.startswith("damaged/"):
            raise BackupError(f"{rel} in {src} is not in the manifest: added afterwards")
    return manifest


def restore_backup(src: Path, home: Path, db_url: str | None) -> RestoreResult:
    """Restore the backup ``src`` into ``home`` (new or empty; UsageError otherwise) and,
    for a PostgreSQL backup, into the empty database ``db_url``. Every file is checked
    against the manifest first; the home appears whole or not at all."""
    manifest = check_backup(src)
    _empty_or_new(home, "the home")
    db_name = str(manifest.get("database"))
    if db_name not in ("database.sqlite", "database.pgdump"):
        raise BackupError(f"{src / MANIFEST} names no database")
    try:
        private_dir(home.parent)
        stage = Path(tempfile.mkdtemp(prefix=f".{home.name}.restoring-", dir=home.parent))
    except OSError as e:
        raise BackupError(f"cannot restore into {home}: {os_reason(e)}") from None
    try:
        os.chmod(stage, 0o700)
        blobs = 0
        for rel in manifest["files"]:
            if rel == db_name:
                continue
            _copy(src / rel, stage / rel)
            blobs += rel.startswith("blobs/")
        restore_database(src / db_name, stage, db_url)
        if home.exists():
            home.rmdir()  # empty: checked above
        os.rename(stage, home)
    except OSError as e:
        raise BackupError(f"cannot restore into {home}: {os_reason(e)}") from None
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
    cp = manifest.get("checkpoint")
    return RestoreResult(home, len(manifest["files"]), blobs, bool(manifest.get("with_keys")),
                         cp if isinstance(cp, dict) else None,
                         manifest.get("encrypted") is True)
