"""C2SP signed notes (Ed25519) and tlog checkpoints.

* https://c2sp.org/signed-note — a text ending in a newline, a blank line, then
  signature lines ``— <key name> base64(key ID || signature)``. Key ID =
  ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``.
* https://c2sp.org/tlog-checkpoint — the note text ``origin``, ``tree size``,
  ``base64 root hash``, then optional extension lines.

Key strings are those of Go's golang.org/x/mod/sumdb/note, so keys and notes
interoperate with Go tooling (sumdb, transparency-dev, witnesses):

* verifier key ``<name>+<hex key ID>+base64(0x01 || 32-byte public key)``
* signer key ``PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 || 32-byte seed)``

Everything read here may be hostile: errors are ``NoteError`` with one line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ..errors import NoteError

__all__ = [
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "Checkpoint",
    "NoteError",
    "SignerKey",
    "VerifierKey",
    "generate_signer",
    "key_id",
    "open_note",
    "parse_signer",
    "parse_verifier",
    "sign_note",
    "verifier_from_signer",
]

ALG_ED25519 = 0x01
MAX_SIGNATURES = 100  # as Go's note.Open; the spec asks to accept at least 16
_SIG_PREFIX = "\u2014 "  # em dash, space
_MAX_TREE_SIZE = (1 << 64) - 1


# --------------------------------------------------------------------------- keys


def _valid_name(name: str) -> bool:
    return (
        bool(name)
        and "+" not in name
        and not any(c.isspace() or ord(c) < 0x20 for c in name)
        and _is_utf8(name)
    )


def _is_utf8(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def _b64decode(text: str) -> bytes:
    """Strict standard base64 (RFC 4648 §4, padded); raises ValueError."""
    if not text.isascii():
        raise ValueError("not base64")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError("not base64") from exc


def _canonical_b64(text: str) -> bytes:
    raw = _b64decode(text)
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("non-canonical base64")
    return raw


def key_id(name: str, public_key: bytes) -> int:
    """C2SP key ID of an Ed25519 key: first 4 bytes of SHA-256(name || 0x0A || 0x01 || key)."""
    digest = hashlib.sha256(
        name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key
    ).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class VerifierKey:
    """A parsed verifier key (public)."""

    name: str
    key_id: int
    public_key: bytes  # 32 bytes, Ed25519

    def __str__(self) -> str:
        b64 = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{b64}"


@dataclass(frozen=True, repr=False)
class SignerKey:
    """A parsed signer key (secret: its repr never shows the seed)."""

    name: str
    key_id: int
    seed: bytes  # 32 bytes, Ed25519 private seed

    def __repr__(self) -> str:
        return f"SignerKey(name={self.name!r}, key_id={self.key_id:08x})"

    def __str__(self) -> str:
        b64 = base64.b64encode(bytes([ALG_ED25519]) + self.seed).decode("ascii")
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{b64}"

    def verifier(self) -> VerifierKey:
        pub = _public_from_seed(self.seed)
        return VerifierKey(self.name, self.key_id, pub)

    def sign(self, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)


def _public_from_seed(seed: bytes) -> bytes:
    return (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def _parse_key_fields(fields: list[str], what: str) -> tuple[str, int, bytes]:
    if len(fields) != 3:
        raise NoteError(f"malformed {what}: want <name>+<hex key id>+<base64 key>")
    name, hex_id, b64 = fields
    if not _valid_name(name):
        raise NoteError(f"malformed {what}: bad key name")
    if len(hex_id) != 8 or any(c not in "0123456789abcdefABCDEF" for c in hex_id):
        raise NoteError(f"malformed {what}: key id must be 8 hex digits")
    try:
        raw = _b64decode(b64)
    except ValueError:
        raise NoteError(f"malformed {what}: key is not base64") from None
    if not raw:
        raise NoteError(f"malformed {what}: empty key")
    if raw[0] != ALG_ED25519:
        raise NoteError(f"unknown {what} algorithm {raw[0]:#04x} (only Ed25519 is supported)")
    if len(raw) != 33:
        raise NoteError(f"malformed {what}: Ed25519 key must be 32 bytes, got {len(raw) - 1}")
    return name, int(hex_id, 16), raw[1:]


def parse_verifier(vkey: str) -> VerifierKey:
    """Parse ``<name>+<hex key ID>+base64(0x01 || public key)``, checking the key ID."""
    if not isinstance(vkey, str):
        raise NoteError("verifier key must be text")
    # the base64 key may itself contain '+': split off the first two fields only
    name, kid, pub = _parse_key_fields(vkey.split("+", 2), "verifier key")
    if kid != key_id(name, pub):
        raise NoteError(f"verifier key id {kid:08x} does not match the key")
    return VerifierKey(name, kid, pub)


def parse_signer(skey: str) -> SignerKey:
    """Parse ``PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 || seed)``, checking the key ID."""
    if not isinstance(skey, str):
        raise NoteError("signer key must be text")
    fields = skey.split("+", 4)
    if fields[:2] != ["PRIVATE", "KEY"]:
        raise NoteError("malformed signer key: must start with PRIVATE+KEY+")
    name, kid, seed = _parse_key_fields(fields[2:], "signer key")
    if kid != key_id(name, _public_from_seed(seed)):
        raise NoteError(f"signer key id {kid:08x} does not match the key")
    return SignerKey(name, kid, seed)


def generate_signer(name: str) -> str:
    """A new random Ed25519 signer key string for key ``name`` (keep it secret)."""
    if not isinstance(name, str) or not _valid_name(name):
        raise NoteError(f"invalid key name {name!r}: must be non-empty, without spaces or '+'")
    seed = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return str(SignerKey(name, key_id(name, _public_from_seed(seed)), seed))


def verifier_from_signer(skey: str) -> str:
    """The public verifier key string matching a signer key string."""
    return str(parse_signer(skey).verifier())


# --------------------------------------------------------------------------- notes


def _check_chars(text: str, what: str) -> None:
    if not _is_utf8(text):
        raise NoteError(f"malformed {what}: not valid UTF-8")
    for i, c in enumerate(text):
        if ord(c) < 0x20 and c != "\n":
            raise NoteError(f"malformed {what}: control character {ord(c):#04x} at offset {i}")


def sign_note(text: str, skey: str) -> str:
    """Sign ``text`` (which must end in a newline) and return the signed note."""
    if not isinstance(text, str):
        raise NoteError("note text must be str")
    if not text.endswith("\n"):
        raise NoteError("malformed note: text must end with a newline")
    _check_chars(text, "note")
    signer = parse_signer(skey)
    sig = signer.sign(text.encode("utf-8"))
    b64 = base64.b64encode(signer.key_id.to_bytes(4, "big") + sig).decode("ascii")
    return f"{text}\n{_SIG_PREFIX}{signer.name} {b64}\n"


def open_note(note: str | bytes, vkey: str) -> str:
    """Verify ``note`` against verifier key ``vkey`` and return its text.

    Follows C2SP signed-note: signatures from other keys (another name or key
    ID) are ignored; a signature from ``vkey`` that fails is an error; a note
    with no valid signature from ``vkey`` is an error.
    """
    verifier = parse_verifier(vkey)
    if isinstance(note, bytes | bytearray):
        try:
            note = bytes(note).decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("malformed note: not valid UTF-8") from None
    if not isinstance(note, str):
        raise NoteError("note must be str or bytes")
    _check_chars(note, "note")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    text, sigs = note[: split + 1], note[split + 2 :]
    if not sigs or not sigs.endswith("\n"):
        raise NoteError("malformed note: signature block must be non-empty and end in a newline")
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    message = text.encode("utf-8")
    verified = False
    for n, line in enumerate(lines, 1):
        if not line.startswith(_SIG_PREFIX):
            raise NoteError(f"malformed note: signature line {n} does not start with an em dash")
        name, sep, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        if not sep or not _valid_name(name) or not b64:
            raise NoteError(f"malformed note: signature line {n} is not '— <name> <base64>'")
        try:
            raw = _canonical_b64(b64)  # stricter than Go: no second spelling of a signature
        except ValueError:
            raise NoteError(f"malformed note: signature line {n} is not canonical base64") from None
        if len(raw) < 5:
            raise NoteError(f"malformed note: signature line {n} is too short")
        if name != verifier.name or int.from_bytes(raw[:4], "big") != verifier.key_id:
            continue  # another key's signature: ignored, as the spec requires
        if verified:
            continue  # a repeated signature by the same key (as Go's note.Open)
        try:
            Ed25519PublicKey.from_public_bytes(verifier.public_key).verify(raw[4:], message)
        except (InvalidSignature, ValueError):
            raise NoteError(
                f"invalid signature for key {verifier.name}+{verifier.key_id:08x}"
            ) from None
        verified = True
    if not verified:
        raise NoteError(f"note has no signature by key {verifier.name}+{verifier.key_id:08x}")
    return text


# --------------------------------------------------------------------------- checkpoints


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog-checkpoint note text: ``origin``, tree ``size``, RFC 9162 ``root``."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin:
            raise NoteError("checkpoint origin must be non-empty text")
        if "\n" in self.origin:
            raise NoteError("checkpoint origin must be one line")
        _check_chars(self.origin, "checkpoint origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise NoteError("checkpoint size must be an integer")
        if not 0 <= self.size <= _MAX_TREE_SIZE:
            raise NoteError(f"checkpoint size {self.size} is out of range")
        if not isinstance(self.root, bytes) or len(self.root) != 32:
            raise NoteError("checkpoint root must be a 32-byte SHA-256 hash")
        if not isinstance(self.extensions, tuple):
            object.__setattr__(self, "extensions", tuple(self.extensions))
        for ext in self.extensions:
            if not isinstance(ext, str) or not ext or "\n" in ext:
                raise NoteError("checkpoint extension lines must be non-empty single lines")
            _check_chars(ext, "checkpoint extension")

    def to_text(self) -> str:
        """The note text (ends with a newline), ready for ``sign_note``."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii")]
        return "\n".join([*lines, *self.extensions]) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Strictly parse a checkpoint note text (as returned by ``open_note``)."""
        if not isinstance(text, str):
            raise NoteError("checkpoint must be text")
        if not text.endswith("\n"):
            raise NoteError("malformed checkpoint: must end with a newline")
        _check_chars(text, "checkpoint")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError(f"malformed checkpoint: {len(lines)} lines, need origin, size and root")
        origin, size_text, root_text, *extensions = lines
        if not origin:
            raise NoteError("malformed checkpoint: empty origin line")
        if (
            not size_text
            or not size_text.isascii()
            or not size_text.isdigit()
            or (size_text.startswith("0") and size_text != "0")
        ):
            raise NoteError(
                f"malformed checkpoint: tree size {size_text[:40]!r} is not a decimal number"
            )
        size = int(size_text)
        if size > _MAX_TREE_SIZE:
            raise NoteError("malformed checkpoint: tree size does not fit in 64 bits")
        try:
            root = _canonical_b64(root_text)
        except ValueError:
            raise NoteError("malformed checkpoint: root hash is not canonical base64") from None
        if len(root) != 32:
            raise NoteError(f"malformed checkpoint: root hash is {len(root)} bytes, want 32")
        for i, ext in enumerate(extensions, 4):
            if not ext:
                raise NoteError(f"malformed checkpoint: line {i} is empty")
        return cls(origin, size, root, tuple(extensions))

    def sign(self, skey: str) -> str:
        """Shorthand for ``sign_note(self.to_text(), skey)``."""
        return sign_note(self.to_text(), skey)

    @classmethod
    def open(cls, note: str | bytes, vkey: str) -> Checkpoint:
        """Verify a signed checkpoint note with ``vkey`` and parse it."""
        return cls.parse(open_note(note, vkey))
