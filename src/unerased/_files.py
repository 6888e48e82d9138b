"""Owner-only files and directories, whatever the process umask.

The archive maps who is watched: everything unerased creates — the home and what is in
it, and the files a user asks for elsewhere (exports, receipts, sample archives) — is
created readable by its owner only: directories 0700, files 0600. The mode is given at
creation (so no other user can open the file in between) and then set exactly
(``fchmod``/``chmod``), because a umask only ever removes bits: an odd one such as 0o277
would otherwise leave a file its owner cannot write.

Also :func:`os_reason`, the one-line "why" of an :class:`OSError` for error messages
(``file too large``, ``no space left on device``, ``permission denied``…).

Bottom layer: imports nothing of unerased; raises :class:`OSError` and lets the caller say
what failed.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "create_private",
    "mkstemp_private",
    "open_private",
    "os_reason",
    "private_dir",
    "private_file",
    "tighten",
]

DIR_MODE = 0o700
FILE_MODE = 0o600

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def private_dir(path: str | os.PathLike[str]) -> bool:
    """Make the directory ``path`` and its missing parents, each 0700. A directory that
    already exists is left as it is. Returns True when ``path`` itself was created."""
    path = Path(path)
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    if path.exists() and not missing:
        if not path.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
        return False
    for d in reversed(missing):
        try:
            os.mkdir(d, DIR_MODE)
        except FileExistsError:  # made meanwhile by another process: keep its mode
            if not d.is_dir():
                raise
            continue
        os.chmod(d, DIR_MODE)
    return True


def open_private(path: str | os.PathLike[str], flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                 ) -> int:
    """``os.open`` a file 0600 (never through a symbolic link); returns the descriptor.
    An existing file (with ``O_CREAT`` but not ``O_EXCL``) is made 0600 too."""
    fd = os.open(path, flags | _NOFOLLOW | _CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def private_file(path: str | os.PathLike[str]) -> BinaryIO:
    """``open(path, "wb")``, but 0600 (truncating a file that exists)."""
    return open(open_private(path), "wb")  # noqa: SIM115 - the caller closes it


def create_private(path: str | os.PathLike[str]) -> bool:
    """Create ``path`` empty and 0600 unless it exists; True when it was created."""
    try:
        fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def mkstemp_private(directory: str | os.PathLike[str], prefix: str) -> tuple[int, str]:
    """A new temporary file in ``directory``, 0600: ``(fd, path)`` as ``tempfile.mkstemp``."""
    import tempfile

    fd, name = tempfile.mkstemp(dir=directory, prefix=prefix)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        os.unlink(name)
        raise
    return fd, name


def tighten(path: str | os.PathLike[str]) -> int | None:
    """Make an existing file 0600 or directory 0700 when group or others have any bit;
    returns its former permission bits when it was changed, None when it was already
    owner-only or does not exist. A symbolic link is left as it is."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode) or not st.st_mode & 0o077:
        return None
    os.chmod(path, DIR_MODE if stat.S_ISDIR(st.st_mode) else FILE_MODE)
    return stat.S_IMODE(st.st_mode)


def os_reason(e: OSError) -> str:
    """The one-line reason of an OS error as a message names it: ``file too large``,
    ``no space left on device``, ``permission denied``, ``read-only file system``…
    (the system's own wording, first letter lowered). Never the file's contents."""
    text = e.strerror or (os.strerror(e.errno) if e.errno else "") or type(e).__name__
    text = " ".join(text.split())
    return text[:1].lower() + text[1:]
