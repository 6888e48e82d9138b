"""The one error every importer raises: a problem with an archive file, as one line.

Defined in :mod:`unerased.errors` (the one error tree); re-exported here, with the
helper that puts a library's exception into such a line."""

from __future__ import annotations

from ..errors import ArchiveError

__all__ = ["ArchiveError", "first_line_of"]


def first_line_of(e: BaseException) -> str:
    """The first line of ``e``'s message (its type's name when it has none), at most
    200 characters: a parser's exception as part of a one-line problem."""
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]
