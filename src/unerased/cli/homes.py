"""The home itself: ``init [--encrypt]``, ``key change-passphrase``, ``key rotate`` and
``wipe`` (docs/encryption.md, docs/cli.md)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ._context import BadUsage, Context, UserError, ask_secret, handle_errors, pass_ctx, term

if TYPE_CHECKING:
    from ..vault import HomeKeys, KdfParams, Secret

__all__ = ["init", "key", "wipe"]

_HOME_FILES = ("unerased.sqlite", "keys", "blobs")


def _kdf_options(f: click.decorators.FC) -> click.decorators.FC:
    f = click.option("--kdf-iterations", type=click.IntRange(1, 64), default=None,
                     help="Argon2id passes (default 3).")(f)
    return click.option("--kdf-memory", type=click.IntRange(1, 4 * 1024 * 1024), default=None,
                        metavar="MIB",
                        help="Argon2id memory in MiB (default 64); lower it only on a "
                             "machine short of memory.")(f)


def _params(memory: int | None, iterations: int | None,
            base: KdfParams | None = None) -> KdfParams | None:
    from ..vault import DEFAULT_KDF, KdfParams

    if memory is None and iterations is None:
        return base
    b = base or DEFAULT_KDF
    mem = b.memory_kib if memory is None else memory * 1024
    return KdfParams(b.iterations if iterations is None else iterations, mem, b.lanes)


def _outside(home: Path, key_file: Path) -> None:
    """A key file inside the home protects nothing (and `wipe` would remove it)."""
    h, k = Path(os.path.abspath(home)), Path(os.path.abspath(key_file))
    if k == h or h in k.parents:
        raise BadUsage(f"--key-file {key_file} is inside the home {home}: keep it apart "
                       "(another disk, a USB key)")


_SHORT = 12  # characters: a passphrase shorter than this gets a warning


def _warn_if_short(secret: Secret) -> None:
    if secret.passphrase is not None and len(secret.passphrase) < _SHORT:
        click.echo(f"unerased: warning: a passphrase of fewer than {_SHORT} characters falls "
                   "to guessing: prefer several random words", err=True)


def _key_file_secret(home: Path, key_file: Path) -> Secret:
    from ..vault import new_key_file, read_key_file

    _outside(home, key_file)
    if key_file.exists():
        return read_key_file(key_file)
    secret = new_key_file(key_file)
    click.echo(f"made a new key file {term(key_file)}: keep it apart from the home; without "
               "it the archive cannot be opened", err=True)
    return secret


@click.command("init")
@click.option("--encrypt", is_flag=True,
              help="Encrypt the database (SQLCipher) and every blob (AES-256-GCM).")
@click.option("--key-file", "init_key_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Unlock with this key file instead of a passphrase (made, "
                                 "32 random bytes, when it does not exist); implies --encrypt.")
@_kdf_options
@pass_ctx
@handle_errors
def init(c: Context, encrypt: bool, init_key_file: Path | None, kdf_memory: int | None,
         kdf_iterations: int | None) -> None:
    """Create a home (plain, or encrypted with --encrypt)."""
    from .._files import private_dir
    from ..store import Store, require_sqlcipher
    from ..vault import DEFAULT_KDF, create_keys

    home = c.home
    key_file = init_key_file or c.key_file
    encrypt = encrypt or init_key_file is not None
    if any((home / n).exists() for n in _HOME_FILES):
        raise UserError(f"there is an archive at {home} already")
    if home.exists() and (not home.is_dir() or any(home.iterdir())):
        raise UserError(f"{home} is not empty: `unerased init` makes a home in a new or "
                        "empty directory")
    if not encrypt:
        Store.open(home, c.db_url, create=True).close()
        click.echo(f"made an archive at {term(home)} (not encrypted)")
        return
    require_sqlcipher(c.db_url)  # before anything is made or asked
    if key_file is not None:
        _outside(home, key_file)
    secret = (_key_file_secret(home, key_file) if key_file is not None
              else c.secret(what="new passphrase", confirm=True))
    _warn_if_short(secret)
    params = _params(kdf_memory, kdf_iterations) or DEFAULT_KDF
    existed = home.exists()
    try:
        private_dir(home)
    except OSError as e:
        raise UserError(f"cannot create the archive home {home}: {e.strerror}") from None
    try:
        keys = create_keys(home, secret, params)
        Store.open(home, c.db_url, create=True, keys=keys).close()
    except BaseException:  # nothing half-made stays: the directory was new or empty
        for p in list(home.iterdir()):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
        if not existed:
            home.rmdir()
        raise
    how = ("key file" if secret.key_file is not None else
           f"passphrase, Argon2id {params.iterations} passes over {params.memory_kib // 1024} "
           f"MiB")
    db = "SQLCipher" if c.db_url is None else "not encrypted by unerased (PostgreSQL)"
    click.echo(f"made an encrypted archive at {term(home)} (database: {db}; blobs: "
               f"AES-256-GCM; unlocked by its {how})")
    if c.db_url is not None:
        click.echo("unerased: note: the PostgreSQL database holds the archive's text in "
                   "clear: encrypt its disk, require TLS, restrict access "
                   "(docs/encryption.md)", err=True)


@click.group("key")
def key() -> None:
    """An encrypted home's key: change its passphrase, rotate it."""


@key.command("change-passphrase")
@click.option("--new-key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Unlock with this key file from now on (made when it does not exist).")
@_kdf_options
@pass_ctx
@handle_errors
def change_passphrase(c: Context, new_key_file: Path | None, kdf_memory: int | None,
                      kdf_iterations: int | None) -> None:
    """Wrap the data key with a new passphrase (or key file); nothing is re-encrypted."""
    from ..vault import HomeLock, rewrap

    keys = _unlocked(c)
    if keys.pending is not None:  # two files to rewrap: a crash between would split them
        raise UserError("a key rotation of this archive was interrupted: finish it first "
                        "(`unerased key rotate`)")
    if new_key_file is not None:
        new = _key_file_secret(c.home, new_key_file)
    else:
        new = ask_secret(None, "UNERASED_NEW_PASSPHRASE", what="new passphrase", confirm=True)
        _warn_if_short(new)
    lock = HomeLock(c.home)  # not while a rotation runs
    try:
        rewrap(c.home, keys, new, _params(kdf_memory, kdf_iterations))
    finally:
        lock.release()
    click.echo(f"the archive at {term(c.home)} is now unlocked by its new {new.describe()}")


@key.command("rotate")
@pass_ctx
@handle_errors
def rotate(c: Context) -> None:
    """A new data key: every blob and the database re-encrypted (crash-safe)."""
    from ..store import rotate_keys

    _unlocked(c)  # a wrong passphrase stops here, before anything changes
    n = rotate_keys(c.home, c.db_url, c.secret())
    click.echo(f"rotated the key of the archive at {term(c.home)}: {n} blobs "
               f"re-encrypted{', the database re-keyed' if c.db_url is None else ''}")


def _unlocked(c: Context) -> HomeKeys:
    keys = c.unlock()
    if keys is None:
        raise UserError(f"the archive at {c.home} is not encrypted (no keys/data-key.json)")
    return keys


@click.command("wipe")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@handle_errors
def wipe(c: Context, yes: bool) -> None:
    """Destroy the home: its keys first (overwritten, unlinked), then everything in it."""
    from ..vault import destroy_keys

    home = c.home
    if not home.is_dir() or not any((home / n).exists() for n in _HOME_FILES):
        raise UserError(f"{home} is not an unerased home (no unerased.sqlite, keys/ or "
                        "blobs/): nothing removed")
    if not yes:
        try:
            ok = click.confirm(f"Destroy the archive at {home} and its keys? This cannot be "
                               "undone", default=False, err=True)
        except click.Abort:
            ok = False
        if not ok:
            raise BadUsage("wipe not confirmed: nothing removed (--yes to skip the question)")
    destroyed = destroy_keys(home)
    try:
        shutil.rmtree(home)
    except OSError as e:
        raise UserError(f"the keys are destroyed but {home} could not be removed whole: "
                        f"{e.strerror}") from None
    click.echo(f"wiped {term(home)}: {len(destroyed)} key files overwritten and removed, "
               "then the home")
    if c.db_url is not None:
        click.echo("unerased: note: the database named by --db was not touched: drop it "
                   "yourself", err=True)
