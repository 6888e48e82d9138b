"""The one error every importer raises: a problem with an archive file, as one line.

Defined in :mod:`unerased.errors` (the one error tree); re-exported here."""

from __future__ import annotations

from ..errors import ArchiveError

__all__ = ["ArchiveError"]
