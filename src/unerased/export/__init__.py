"""Exports: ``jsonl`` and ``csv`` (posts with versions), ``warc`` (raw HTTP captures).

``run_export(store, fmt, out)`` writes to a file atomically, or to standard output when
``out`` is ``-`` (then nothing else is written there). The file is owner-only (0600,
whatever the umask: it holds archive content); an OS error (a full disk, a file size
limit, a directory that refuses writes) is one line naming the file and the reason, and
leaves neither the file nor its ``.part``.

A :class:`Selection` narrows any format to some accounts (``--account``, ``--tag``), a
post status (``--status``, posts only) and a time (``--since``); ``pseudonymise`` (a
:class:`~unerased.export.pseudonym.Pseudonymiser`) strips what names a person from the
posts (``jsonl``, ``csv``); ``encrypt_to`` (age recipients) encrypts the output as it is
written — the plain text is never on disk (``.age`` is added to the file name)."""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from .._files import open_private, os_reason
from .._lazy import exports
from ..errors import ExportError, UsageError
from ._tabular import CSV_FIELDS, spreadsheet_safe

if TYPE_CHECKING:
    from ..store import Store
    from .pseudonym import Pseudonymiser
    from .warc import WarcExportError, write_warc

__all__ = [
    "CSV_FIELDS", "FORMATS", "STDOUT", "ProgressFn", "Selection", "WarcExportError",
    "age_recipients", "run_export", "select_accounts", "spreadsheet_safe", "write_warc",
]

ProgressFn = Callable[[int, int], None]
FORMATS = ("jsonl", "csv", "warc")
STDOUT = "-"
"""The ``out`` that means standard output."""
AGE_SUFFIX = ".age"


@dataclass(frozen=True, slots=True)
class Selection:
    """What an export holds: ``accounts`` (row ids; None: every account), posts of
    ``status`` only, posts created (captures made) at or after ``since`` (ISO)."""

    accounts: frozenset[int] | None = None
    status: str | None = None
    since: str | None = None


def select_accounts(store: Store, refs: Sequence[str], tags: Sequence[tuple[str, str]]
                    ) -> frozenset[int] | None:
    """The accounts named by ``refs`` (any of them; none: every account) that carry
    every one of ``tags``; None when neither narrows anything."""
    import json

    if not refs and not tags:
        return None
    chosen = {int(store.resolve_account(r)["id"]) for r in refs} if refs else None
    if not tags:
        return frozenset(chosen or ())
    out = set()
    for row in store.list_accounts():
        if chosen is not None and row["id"] not in chosen:
            continue
        try:
            t = json.loads(row.get("tags_json") or "{}")
        except ValueError:
            t = {}
        if isinstance(t, dict) and all(t.get(k) == v for k, v in tags):
            out.add(int(row["id"]))
    return frozenset(out)


def age_recipients(values: Sequence[str]) -> list[Any]:
    """age recipients (``age1…``, ``ssh-ed25519 …``, ``ssh-rsa …``) for pyrage;
    UsageError (one line) for one that is not."""
    try:
        import pyrage
    except ImportError:  # pragma: no cover - a dependency
        raise UsageError("--encrypt-to needs pyrage: pip install pyrage") from None
    out = []
    for v in values:
        text = v.strip()
        try:
            if text.startswith("ssh-"):
                out.append(pyrage.ssh.Recipient.from_str(text))
            else:
                out.append(pyrage.x25519.Recipient.from_str(text))
        except (pyrage.RecipientError, ValueError) as e:
            raise UsageError(f"--encrypt-to: {text[:80]!r} is not an age recipient "
                             f"(age1… or an ssh-ed25519/ssh-rsa public key): {e}") from None
    return out


def run_export(
    store: Store, fmt: str, out: Path | str, *, progress: ProgressFn | None = None,
    selection: Selection | None = None, pseudonymise: Pseudonymiser | None = None,
    encrypt_to: Sequence[str] = (),
) -> int:
    """Write the export, returns the record count. To a file: atomically (a temp file
    beside it, then a rename). To standard output when ``out`` is ``-``: text formats
    (UTF-8) to the text stream, ``warc`` to its binary buffer. With ``encrypt_to`` the
    output is an age file (``OUT.age``)."""
    if fmt not in FORMATS:
        raise UsageError(f"no export format {fmt!r} (have: {', '.join(FORMATS)})")
    sel = selection or Selection()
    if fmt == "warc" and sel.status:
        raise UsageError("--status selects posts: warc exports captures (use --account, "
                         "--tag, --since)")
    if fmt == "warc" and pseudonymise is not None:
        raise UsageError("--pseudonymise does not apply to warc: raw captures hold "
                         "handles, profiles and URLs (export jsonl or csv)")
    recipients = age_recipients(encrypt_to) if encrypt_to else None
    job = _Job(store, fmt, sel, pseudonymise, progress)
    if os.fspath(out) == STDOUT:
        if recipients is not None:
            return _to_binary_stdout(job, recipients)
        return _to_stdout(job)
    out = Path(out)
    if recipients is not None and not out.name.endswith(AGE_SUFFIX):
        out = out.with_name(out.name + AGE_SUFFIX)
    tmp = out.with_name(out.name + ".part")
    made = False
    try:
        fd = open_private(tmp)
        made = True
        with open(fd, "wb") as f:
            if recipients is not None:
                n = _encrypted(job, f, recipients, out.name.removesuffix(AGE_SUFFIX))
            else:
                n = job.binary(f, out.name)
        tmp.replace(out)
    except OSError as e:
        _remove(tmp, made)
        raise ExportError(f"cannot write {out}: {os_reason(e)}") from None
    except BaseException:
        _remove(tmp, made)
        raise
    return n


@dataclass
class _Job:
    store: Store
    fmt: str
    sel: Selection
    pseud: Pseudonymiser | None
    progress: ProgressFn | None

    def posts(self) -> Iterator[dict[str, Any]]:
        got = self.store.iter_posts(account_pks=self.sel.accounts, status=self.sel.status,
                                    since=self.sel.since)
        if self.pseud is None:
            return got
        return (self.pseud.post_dict(p) for p in got)

    def text(self, f: TextIO) -> int:
        from . import _tabular

        write = _tabular.write_jsonl if self.fmt == "jsonl" else _tabular.write_csv
        return write(self.posts(), f, self.progress)

    def binary(self, f: BinaryIO, filename: str | None) -> int:
        """The export into a binary stream (text formats as UTF-8)."""
        if self.fmt == "warc":
            from .warc import write_warc

            caps = self.store.iter_captures(account_pks=self.sel.accounts, since=self.sel.since)
            return write_warc(f, caps, filename=filename)
        t = io.TextIOWrapper(f, encoding="utf-8", newline="")
        try:
            n = self.text(t)
            t.flush()
        finally:
            t.detach()
        return n


def _encrypted(job: _Job, fout: BinaryIO, recipients: list[Any], filename: str | None) -> int:
    """The export, encrypted to ``recipients`` into ``fout`` as it is made: the plain
    text passes through a pipe between two threads, never through a file."""
    import pyrage

    r, w = os.pipe()
    done: dict[str, Any] = {}

    def feed() -> None:
        try:
            with open(w, "wb") as fw:
                done["n"] = job.binary(fw, filename)
        except BaseException as e:  # noqa: BLE001 - raised again below
            done["error"] = e

    t = threading.Thread(target=feed, name="export-feed", daemon=True)
    t.start()
    try:
        with open(r, "rb") as fr:
            pyrage.encrypt_io(fr, fout, recipients)
    except pyrage.EncryptError as e:
        raise ExportError(f"cannot encrypt the export: {e}") from None
    finally:
        t.join()
    if "error" in done:
        raise done["error"]
    return int(done["n"])


def _remove(tmp: Path, made: bool) -> None:
    if made:  # never a file of that name that was there before and is not ours
        with contextlib.suppress(OSError):
            tmp.unlink()


def _is_utf8(stream: TextIO) -> bool:
    try:
        return codecs.lookup(stream.encoding or "").name == "utf-8"
    except LookupError:
        return False


def _to_stdout(job: _Job) -> int:
    stdout = sys.stdout
    try:
        if job.fmt == "warc":
            stdout.flush()
            n = job.binary(stdout.buffer, None)
            stdout.buffer.flush()
        elif _is_utf8(stdout) or not hasattr(stdout, "buffer"):
            n = job.text(stdout)
            stdout.flush()
        else:  # JSON Lines and CSV are UTF-8 whatever the terminal's encoding
            stdout.flush()
            n = job.binary(stdout.buffer, None)
            stdout.buffer.flush()
    except OSError as e:  # a closed pipe, a full disk behind a redirection
        raise ExportError(f"standard output: {e.strerror or e}") from None
    return n


def _to_binary_stdout(job: _Job, recipients: list[Any]) -> int:
    stdout = sys.stdout
    try:
        stdout.flush()
        n = _encrypted(job, stdout.buffer, recipients, None)
        stdout.buffer.flush()
    except OSError as e:
        raise ExportError(f"standard output: {e.strerror or e}") from None
    return n


__getattr__ = exports(__name__, {"WarcExportError": "warc", "write_warc": "warc"})
