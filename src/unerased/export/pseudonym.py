"""Pseudonymised exports for research sharing (``export … --pseudonymise``).

Every account becomes a stable keyed pseudonym, ``acct_`` and 20 base32 characters of
HMAC-SHA256(key, platform, account id): the same account has the same pseudonym in every
export of this home, another home (another key) gives other pseudonyms, and nobody
without the key can tell which account a pseudonym stands for — not even by hashing
every known handle. The key is ``HOME/keys/pseudonym.key`` (32 random bytes, 0600, made
at first use; a backup holds it only with ``--with-keys``).

What a pseudonymised post keeps: its platform, times, status, kind, texts (every
version) and media digests, types and alt texts. What it loses: handles, display names
and every profile field (none is exported), account ids and post ids (keyed
pseudonyms), the post's URL and media URLs and file names (dropped), URLs inside texts
(``<url>``), ``@mentions`` inside texts (a keyed pseudonym of the mention), the
references to other posts (keyed pseudonyms) and the archive's own row ids.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from pathlib import Path
from typing import Any

from .._files import open_private, os_reason, private_dir
from ..errors import ExportError

__all__ = ["KEY_FILE", "Pseudonymiser", "load_key"]

KEY_FILE = "keys/pseudonym.key"
_URL = re.compile(r"\b(?:https?|ftp|wss?)://\S+|\bwww\.\S+", re.I)
_MENTION = re.compile(r"(?<![\w@])@[\w.\-]+(?:@[\w.\-]+)?", re.UNICODE)


def load_key(home: Path) -> bytes:
    """The home's pseudonym key, made (32 random bytes, 0600) at first use."""
    path = Path(home) / KEY_FILE
    try:
        private_dir(path.parent)
        try:
            fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(os.urandom(32).hex().encode("ascii"))
                f.flush()
                os.fsync(f.fileno())
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except OSError as e:
        raise ExportError(f"cannot read or make the pseudonym key {path}: {os_reason(e)}"
                          ) from None
    except ValueError:
        raise ExportError(f"the pseudonym key {path} is damaged") from None
    if len(key) < 32:
        raise ExportError(f"the pseudonym key {path} is too short")
    return key


class Pseudonymiser:
    """Keyed pseudonyms (HMAC-SHA256), one domain per kind of value."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, domain: str, *parts: str) -> str:
        msg = "\x00".join((domain, *parts)).encode("utf-8", "surrogatepass")
        digest = hmac.new(self._key, msg, hashlib.sha256).digest()
        return base64.b32encode(digest).decode("ascii")[:20].lower()

    def account(self, platform: str, account_id: str) -> str:
        return "acct_" + self._mac("account", platform, account_id)

    def post(self, platform: str, account_id: str, post_id: str) -> str:
        return "post_" + self._mac("post", platform, account_id, post_id)

    def ref(self, platform: str, value: str) -> str:
        return "ref_" + self._mac("ref", platform, value)

    def text(self, platform: str, value: str) -> str:
        """``value`` with its URLs as ``<url>`` and its ``@mentions`` pseudonymised."""
        value = _URL.sub("<url>", value)
        return _MENTION.sub(
            lambda m: "@" + self.ref(platform, m.group(0).lower().lstrip("@")), value)

    def post_dict(self, p: dict[str, Any]) -> dict[str, Any]:
        """A post of ``iter_posts`` with nothing that names a person or leads to one."""
        plat = str(p["platform"])
        acc_id = str(p.get("account_id") or "")
        acct = self.account(plat, acc_id)

        def ref(v: Any) -> str | None:
            return None if v is None else self.ref(plat, str(v))

        return {
            "platform": plat,
            "account": acct,
            "account_id": acct,
            "account_uri": acct,
            "post_id": self.post(plat, acc_id, str(p["post_id"])),
            "url": None,
            "created_at": p.get("created_at"),
            "status": p.get("status"),
            "kind": p.get("kind"),
            "reply_to": ref(p.get("reply_to")),
            "repost_of": ref(p.get("repost_of")),
            "quote_of": ref(p.get("quote_of")),
            "text": self.text(plat, str(p.get("text") or "")),
            "versions": [{"seq": v.get("seq"), "version_key": ref(v.get("version_key")),
                          "text": self.text(plat, str(v.get("text") or "")),
                          "edited_at": v.get("edited_at"),
                          "observed_at": v.get("observed_at")}
                         for v in p.get("versions") or []],
            "media": [{"url": None, "filename": None, "mime": m.get("mime"),
                       "kind": m.get("kind"),
                       "alt": self.text(plat, str(m.get("alt") or "")) or None,
                       "sha256": m.get("sha256"), "size": m.get("size")}
                      for m in p.get("media") or []],
            "first_seen": p.get("first_seen"),
            "last_seen": p.get("last_seen"),
            "deleted_at": p.get("deleted_at"),
            "deleted_reason": p.get("deleted_reason"),
        }
