"""The one error every importer raises: a problem with an archive file, as one line."""

from __future__ import annotations

import os
import re

_MAX_PROBLEM = 400
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _one_line(text: str, limit: int = _MAX_PROBLEM) -> str:
    """Collapse newlines and other control characters (a hostile archive can put them
    in member names or parser messages) and cap the length."""
    flat = re.sub(r" {2,}", " ", _CONTROL.sub(" ", text)).strip()
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return flat


class ArchiveError(Exception):
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
        self.problem = _one_line(problem)
        self.member = _one_line(member, 200) if member is not None else None
        super().__init__(str(self))

    def __str__(self) -> str:
        where = _one_line(self.path, 300)
        if self.member is not None:
            return f"{where}: {self.member}: {self.problem}"
        return f"{where}: {self.problem}"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (self.path, self.problem, self.member))


def _rebuild(path: str, problem: str, member: str | None) -> ArchiveError:
    return ArchiveError(path, problem, member=member)
