"""Users' credentials: Argon2id password hashes, API tokens, one-time login links, the
cookie-signing secret kept owner-only in the home. Used by the app and by the CLI
(``unerased user``, ``unerased serve``)."""

from __future__ import annotations

import contextlib
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import create_private, open_private, private_dir, tighten
from ..errors import StoreError
from ._security import digest, new_secret

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["LINK_LIFETIME_ADD", "LINK_LIFETIME_SERVE", "SECRET_FILE", "check_password",
           "hash_password", "issue_api_token", "issue_login_link", "load_secret",
           "make_hasher"]

SECRET_FILE = "web-secret"
LINK_LIFETIME_SERVE = timedelta(minutes=15)  # printed by `serve`, used at once
LINK_LIFETIME_ADD = timedelta(hours=24)  # printed by `user add`, handed to someone


def make_hasher(**params: Any) -> Any:
    """An :class:`argon2.PasswordHasher` (Argon2id; argon2-cffi's defaults, RFC 9106's
    low-memory choice, unless ``params`` says otherwise: tests pass cheap ones)."""
    from argon2 import PasswordHasher

    return PasswordHasher(**params)


def hash_password(hasher: Any, password: str) -> str:
    out: str = hasher.hash(password)
    return out


def check_password(hasher: Any, stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored`` (a PHC string). With nothing stored (an
    unknown name, a user without a password) a hash is still checked, so that the time
    taken tells nothing."""
    from argon2.exceptions import InvalidHashError, VerificationError

    target = stored if stored is not None else hasher.hash(new_secret())
    try:
        ok = bool(hasher.verify(target, password))
    except (VerificationError, InvalidHashError):
        return False
    return ok and stored is not None


def issue_login_link(store: Store, user_id: int, now: datetime, lifetime: timedelta) -> str:
    """A new one-time login token for the user (only its SHA-256 is stored); the link
    is ``/login/link/TOKEN``."""
    token = new_secret()
    store.add_login_link(user_id, digest(token), now, now + lifetime)
    return token


def issue_api_token(store: Store, user_id: int, now: datetime) -> str:
    """A new API token for the user, shown once (only its SHA-256 is stored)."""
    token = "unr_" + new_secret()
    store.add_api_token(user_id, digest(token), now)
    return token


def load_secret(home: Path) -> bytes:
    """The cookie-signing key in ``HOME/web-secret`` (0600), made on first use."""
    path = home / SECRET_FILE
    try:
        private_dir(home)
        if create_private(path):
            fd = open_private(path, os.O_WRONLY)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_hex(32).encode())
        with contextlib.suppress(OSError):
            tighten(path)
        key = path.read_bytes().strip()
    except OSError as e:
        raise StoreError(f"cannot read or make the web secret {path}: {e.strerror}") from None
    if len(key) < 32:
        raise StoreError(f"the web secret {path} is too short (delete it to make a new one)")
    return key
