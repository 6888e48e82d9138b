"""Every error unerased raises on purpose, in one tree (as httpx's ``_exceptions``).

Pure: no I/O, imports nothing of unerased, so every layer may raise these. The CLI maps
the whole tree in one place (``unerased.cli``): an :class:`UnerasedError` is one line on
stderr and exit 1 (:class:`UsageError`: exit 2); anything else is a bug.

::

    UnerasedError                  a failure the user can act on; str() is one line
    ├── UsageError                 a bad argument or option value (exit 2)
    │   ├── UriError               a watch URI that cannot be parsed
    │   ├── AmbiguousError         an account or post argument that names several
    │   └── MissingExtra           an optional dependency is not installed (names the pip command)
    ├── NotFound                   an account or post argument that names nothing in the archive
    ├── ArchiveError               an archive file that cannot be imported (file, member, problem)
    ├── SourceError                a platform unreachable or answering unusably, a bad token…
    │   └── FetchRefused           the fetch guard refused a URL (not public, not allowed, bad proxy)
    ├── StoreError                 the archive's database or blob store cannot be used
    │   ├── BlobError              a blob is missing, corrupt, or cannot be written
    │   ├── DatabaseError          the database failed or refused a statement (damaged,
    │   │                          unreachable, full, a constraint); raised by the store only
    │   ├── KeyLocked              an encrypted home's key cannot be unlocked (wrong passphrase…)
    │   └── WriteConflict          a concurrent writer stored the same row first
    ├── LedgerError                the ledger cannot do what was asked (bad size, no key…)
    │   ├── ReceiptError           a receipt cannot be written or read
    │   ├── NoteError              a malformed key, note or checkpoint, a bad signature
    │   ├── TimestampError         an RFC 3161 token that cannot be obtained or checked
    │   └── MerkleError            bad arguments to a tree operation
    │       └── ProofError         a proof that does not verify
    ├── ExportError                an export cannot be written
    ├── SearchQueryError           a query with nothing searchable in it
    └── DetectError                inputs to detection that cannot belong together (a bug
                                   in the caller or a corrupt stored state)

Several also derive from :class:`ValueError`, as they always did, so that existing
``except ValueError`` callers keep working.
"""

from __future__ import annotations

import os
import re

__all__ = [
    "AmbiguousError",
    "ArchiveError",
    "BlobError",
    "DatabaseError",
    "DetectError",
    "ExportError",
    "FetchRefused",
    "KeyLocked",
    "LedgerError",
    "MerkleError",
    "MissingExtra",
    "NotFound",
    "NoteError",
    "ProofError",
    "ReceiptError",
    "SearchQueryError",
    "SourceError",
    "StoreError",
    "TimestampError",
    "UnerasedError",
    "UriError",
    "UsageError",
    "WriteConflict",
    "exception_line",
    "one_line",
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0080-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]+")


def one_line(text: str, limit: int = 400) -> str:
    """``text`` as one line: control, C1 and bidi-override characters (which a hostile
    archive or platform can put in names and messages) become spaces, runs of spaces
    collapse, and the length is capped."""
    flat = re.sub(r" {2,}", " ", _CONTROL.sub(" ", text)).strip()
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return flat


def exception_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of ``exc``'s message (its type's name when it has none), at most
    ``limit`` characters: a library's exception as part of a one-line message."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:limit]


class UnerasedError(Exception):
    """The root: a failure the user can act on. ``str(err)`` is one line."""

    exit_code = 1


class UsageError(UnerasedError):
    """A bad argument or option value: exit 2, like click's own usage errors."""

    exit_code = 2


class UriError(UsageError, ValueError):
    """A watch URI that cannot be parsed."""


class AmbiguousError(UsageError):
    """An account or post argument that matches several (the message names them)."""


class MissingExtra(UsageError):
    """An optional dependency is missing; the message names the ``pip install`` to run."""

    def __init__(self, what: str, extra: str) -> None:
        self.what = what
        self.extra = extra
        super().__init__(
            f"{what} needs the optional '{extra}' extra: pip install 'unerased[{extra}]'"
        )


class NotFound(UnerasedError):
    """An account or post argument that names nothing in the archive (exit 1; the
    message says what was looked for)."""


class ArchiveError(UnerasedError):
    """An archive file that cannot be imported (not a zip, truncated, unsafe member,
    malformed JSON, missing file…).

    ``str(err)`` is one line, ``"<file>: <problem>"`` or, when the problem is inside
    one member, ``"<file>: <member>: <problem>"``, e.g.
    ``backup.zip: data/tweets.js: malformed JSON at byte 1234``.
    """

    path: str
    problem: str
    member: str | None

    def __init__(
        self, path: str | os.PathLike[str], problem: str, *, member: str | None = None
    ) -> None:
        self.path = os.fspath(path)
        self.problem = one_line(problem)
        self.member = one_line(member, 200) if member is not None else None
        super().__init__(str(self))

    def __str__(self) -> str:
        where = one_line(self.path, 300)
        if self.member is not None:
            return f"{where}: {self.member}: {self.problem}"
        return f"{where}: {self.problem}"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_archive_error, (self.path, self.problem, self.member))


def _rebuild_archive_error(path: str, problem: str, member: str | None) -> ArchiveError:
    return ArchiveError(path, problem, member=member)


class SourceError(UnerasedError):
    """A problem the user can act on while talking to a platform (unknown handle, wrong
    --service, bad token, platform unreachable). The message is one clear line."""


class FetchRefused(SourceError):
    """The fetch guard refused to send a request: the URL is not http(s), cannot be
    parsed, or points at an address the user did not mean (loopback, private, link-local,
    metadata…), or the proxy cannot be used. Nothing was sent."""


class StoreError(UnerasedError):
    """The archive cannot be opened or used; the message is one clear line."""


class BlobError(StoreError):
    """A blob is missing, corrupt, or cannot be written."""


class DatabaseError(StoreError):
    """The database failed or refused a statement: damaged, unreachable, full, a
    constraint. The store turns its driver's errors into this at its edge, so no other
    layer sees SQL errors. ``str(err)`` is ``"<what>: <detail>"``; ``detail`` is the
    driver's first line — never the statement or its parameters (post texts)."""

    def __init__(self, what: str, detail: str) -> None:
        self.what = what
        self.detail = detail
        super().__init__(f"{what}: {detail}")

    def __reduce__(self) -> tuple[object, ...]:
        return (DatabaseError, (self.what, self.detail))


class KeyLocked(StoreError):
    """An encrypted home's key cannot be unlocked: a wrong passphrase or key file, no
    secret given, or key material that is damaged. Nothing was changed."""


class WriteConflict(StoreError):
    """A concurrent writer stored the same row first (two signers of one checkpoint on
    PostgreSQL); trying again sees its row."""


class LedgerError(UnerasedError):
    """The ledger cannot do what was asked (bad size, inconsistent tree, missing key)."""


class ReceiptError(LedgerError):
    """A receipt cannot be written (unknown post, damaged archive, no key). One line."""


class NoteError(LedgerError, ValueError):
    """A malformed key, note or checkpoint, or a signature that does not verify."""


class TimestampError(LedgerError, ValueError):
    """An RFC 3161 timestamp that cannot be obtained, parsed or verified."""


class MerkleError(LedgerError, ValueError):
    """Bad arguments to a tree operation (index out of range, wrong hash size...)."""


class ProofError(MerkleError):
    """A proof does not verify."""


class ExportError(UnerasedError):
    """An export cannot be written."""


class SearchQueryError(UnerasedError, ValueError):
    """The query cannot be searched (it holds no searchable word)."""


class DetectError(UnerasedError, ValueError):
    """Inputs to detection that cannot belong together (another account's check, a bad
    config, a corrupt stored state). The message is one clear line."""
