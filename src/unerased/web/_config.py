"""What an app is made from: :class:`WebConfig` (explicit, no globals)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model import utcnow

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["WebConfig", "is_loopback"]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    h = host.strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


@dataclass
class WebConfig:
    """One web app's settings.

    ``store``: the archive (one Store per app; the app closes it only when it opened it
    from ``home``/``db_url``). ``auth`` False (``--no-auth``) serves everyone as an admin
    and is refused unless ``host`` is loopback. ``allow_hosts``: more names the Host
    header may carry (the bound host, localhost, 127.0.0.1 and ::1 always may).
    ``hasher``: an :class:`argon2.PasswordHasher` (tests inject cheap parameters; None:
    argon2-cffi's defaults). ``clock``: now, as an aware UTC datetime (injected in tests).
    ``secret``: the cookie-signing key; None: read from (or made in) ``HOME/web-secret``,
    owner-only.
    """

    home: Path
    db_url: str | None = None
    store: Store | None = None
    host: str = "127.0.0.1"
    port: int = 8321
    auth: bool = True
    allow_hosts: tuple[str, ...] = ()
    hasher: Any = None
    clock: Callable[[], datetime] = utcnow
    secret: bytes | None = None
    session_lifetime: timedelta = timedelta(days=7)
    login_link_lifetime: timedelta = timedelta(minutes=15)
    extra: dict[str, Any] = field(default_factory=dict)  # for views: anything else they need

    def allowed_hosts(self) -> frozenset[str]:
        wild = {"0.0.0.0", "::", ""}
        names = {"localhost", "127.0.0.1", "::1", *self.allow_hosts}
        if self.host not in wild:
            names.add(self.host)
        return frozenset(n.strip("[]").lower() for n in names)
