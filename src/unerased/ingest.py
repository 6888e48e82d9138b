"""Archive import: an importer's snapshots into the store, in ONE transaction.

Either the whole archive lands (with a ledger leaf for every row) or nothing does; the
same archive imported twice changes nothing; a newer archive adds what is new and
records changed text as new versions.

Big archives use both cores: a reader process parses the archive and does the per-post
work that needs no database (:func:`unerased.store.prepare`: raw JSON, content hash,
search terms) while this process writes. Batches cross a bounded queue, so memory stays
bounded whatever the archive's size.
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing as mp
import operator
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._files import os_reason
from ._prepare import Prepared, prepare
from .importers import ImportNotice
from .model import AccountSnapshot, AccountStatus, PostSnapshot
from .refs import account_uri

if TYPE_CHECKING:
    from .store import Store

BATCH = 1000
PIPELINE_MIN_BYTES = 1 << 20  # below this a second process costs more than it saves
ProgressFn = Callable[[int, int | None], None]

KINDS = ("twitter-archive", "mastodon-archive", "bluesky-car")


def _iterator(kind: str, path: Path, progress: ProgressFn | None) -> Iterator[Any]:
    if kind == "twitter-archive":
        from .importers import iter_twitter_archive

        return iter_twitter_archive(path, progress=progress)
    if kind == "mastodon-archive":
        from .importers import iter_mastodon_archive

        return iter_mastodon_archive(path, progress=progress)
    if kind == "bluesky-car":
        from .importers import iter_bluesky_car

        return iter_bluesky_car(path, progress=progress)
    raise ValueError(f"unknown archive kind {kind!r}")


@dataclass
class ImportCounts:
    posts: int = 0  # snapshots read
    new_posts: int = 0
    new_versions: int = 0
    unchanged: int = 0
    deleted: int = 0
    accounts: list[str] = field(default_factory=list)  # each one's handle (else its id)
    account_uris: list[str] = field(default_factory=list)  # each one's canonical form
    notices: list[ImportNotice] = field(default_factory=list)  # what the summary must tell
    media_completed: int = 0  # media files attached to versions stored without them
    redacted_seen: int = 0  # posts of redacted posts or accounts, not stored (redaction.md)

    @property
    def account(self) -> str | None:
        """The canonical form of the (first) account imported."""
        return self.account_uris[0] if self.account_uris else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "posts": self.posts, "new_posts": self.new_posts,
            "new_versions": self.new_versions, "unchanged": self.unchanged,
            "deleted": self.deleted, "media_completed": self.media_completed,
        }

    def media_line(self) -> str:
        """The summary's words for completed media ("" when none)."""
        n = self.media_completed
        return f", {n} media file{'s' if n != 1 else ''} completed" if n else ""


def file_digest(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


_BULK_GC = (200_000, 50, 100)  # gc thresholds while importing


_SWITCH_INTERVAL = 0.001  # seconds; Python's default is 0.005


@contextmanager
def _bulk_mode() -> Iterator[None]:
    """Tune the interpreter for a bulk import, and restore it after.

    The cyclic garbage collector kept re-walking the heap of tweet dicts (half the
    parse time); the import makes no reference cycles worth collecting before it ends.
    A shorter thread switch interval hands the GIL back sooner to the bulk-insert
    thread when SQLite returns from a statement (store/_bulk.py)."""
    old, old_switch = gc.get_threshold(), sys.getswitchinterval()
    gc.set_threshold(*_BULK_GC)
    sys.setswitchinterval(min(old_switch, _SWITCH_INTERVAL))
    try:
        yield
    finally:
        gc.set_threshold(*old)
        sys.setswitchinterval(old_switch)


def import_archive(
    store: Store | Callable[[], Store],
    kind: str,
    path: Path,
    *,
    progress: ProgressFn | None = None,
    reading: Reading | None = None,
    counts: ImportCounts | None = None,
) -> ImportCounts:
    """Import one archive in one transaction. ``store`` may be a function opening the
    store: it is called once the archive is being read (opening overlaps parsing).
    ``reading`` is what :func:`start_reading` returned, when the caller started the
    reader process early (before starting threads, so that it can fork). ``counts``: an
    :class:`ImportCounts` to fill as the import goes (another thread may read it: the
    web's progress page); a new one otherwise."""
    with _bulk_mode():
        return _import_archive(store, kind, path, progress, reading, counts)


class Reading:
    """An archive being read: by a reader process (big archives) or, lazily, here."""

    def __init__(self, kind: str, path: Path) -> None:
        from .errors import ArchiveError

        self.kind, self.path = kind, path
        self._proc: Any = None
        self._q: Any = None
        try:
            big = path.stat().st_size >= PIPELINE_MIN_BYTES
        except OSError as e:
            raise ArchiveError(str(path), e.strerror or "cannot be read") from None
        if big:
            self._proc, self._q = _start_reader(kind, path)

    def items(self, progress: ProgressFn | None) -> Iterator[tuple[Any, Prepared | None]]:
        if self._proc is None:
            return ((it, None) for it in _iterator(self.kind, self.path, progress))
        return _consume(self._proc, self._q, progress)

    def close(self) -> None:
        """Stop the reader process if it still runs (idempotent)."""
        if self._proc is not None:
            _stop(self._proc, self._q)


def start_reading(kind: str, path: Path) -> Reading:
    """Start reading an archive now (see :func:`import_archive`)."""
    return Reading(kind, path)


def _import_archive(
    store: Store | Callable[[], Store],
    kind: str,
    path: Path,
    progress: ProgressFn | None,
    reading: Reading | None,
    counts: ImportCounts | None = None,
) -> ImportCounts:
    reading = reading or Reading(kind, path)
    try:
        return _import_items(store, kind, path, progress, reading, counts)
    finally:
        reading.close()


def _import_items(
    store: Store | Callable[[], Store],
    kind: str,
    path: Path,
    progress: ProgressFn | None,
    reading: Reading,
    counts: ImportCounts | None = None,
) -> ImportCounts:
    from .errors import ArchiveError

    items = reading.items(progress)
    try:
        sha, size = file_digest(path)
    except OSError as e:
        raise ArchiveError(str(path), e.strerror or "cannot be read") from None
    if callable(store):  # open the store now that the archive is being read
        store = store()
    source = f"import:{sha}"
    counts = counts if counts is not None else ImportCounts()
    with store.writer() as w:
        account: dict[str, Any] | None = None
        redacted: set[tuple[str, str]] = set()  # accounts kept out (docs/redaction.md)
        batch: list[PostSnapshot] = []
        preps: list[Prepared] = []

        def flush() -> None:
            assert account is not None
            p = preps if len(preps) == len(batch) else None
            for r in w.add_posts(account, batch, source, p):
                if r.is_new:
                    counts.new_posts += 1
                if r.version_pk is not None:
                    counts.new_versions += 1
                else:
                    counts.unchanged += 1
            batch.clear()
            preps.clear()

        for item, prep in items:
            if isinstance(item, AccountSnapshot):
                if batch:
                    flush()
                if w.account_redacted(item.platform, item.account_id):
                    redacted.add((item.platform, item.account_id))
                    continue
                account = w.upsert_account(item, source)
                counts.accounts.append(item.handle or item.account_id)
                counts.account_uris.append(
                    account_uri(item.platform, item.handle, item.account_id))
                continue
            if not isinstance(item, PostSnapshot):
                if isinstance(item, ImportNotice):
                    counts.notices.append(item)
                continue
            if (item.platform, item.account_id) in redacted or w.account_redacted(
                    item.platform, item.account_id):
                redacted.add((item.platform, item.account_id))
                counts.redacted_seen += 1
                continue
            if account is None or account["account_id"] != item.account_id:
                if batch:
                    flush()
                account = w.account_row(item.platform, item.account_id) or w.upsert_account(
                    AccountSnapshot(item.platform, item.account_id, status=AccountStatus.UNKNOWN),
                    source,
                )
            counts.posts += 1
            if item.deleted:
                counts.deleted += 1
            batch.append(item)
            if prep is not None:
                preps.append(prep)
            if len(batch) >= BATCH:
                flush()
        if batch:
            flush()
        if account is None and not redacted:
            raise ArchiveError(str(path), "no account and no posts found in the archive")
        counts.media_completed = w.media_completed
        counts.redacted_seen += len(w.redacted_seen)
        if counts.redacted_seen:
            counts.notices.append(ImportNotice(
                "redacted_seen", f"{counts.redacted_seen} posts of redacted posts or accounts "
                "were in the archive and were not stored (`unerased unredact` allows it)"))
        w.add_import(kind, path.name, sha, size, None if account is None else account["id"],
                     counts.as_dict())
    return counts


# ---------------------------------------------------------------- the reader process

_DONE = "done"
_FIELD_NAMES = tuple(f.name for f in fields(PostSnapshot))
_SNAP_FIELDS = operator.attrgetter(*_FIELD_NAMES)
_RAW_AT = _FIELD_NAMES.index("raw")
_QUEUE_BATCHES = 8


def _reader(kind: str, path: str, q: Any) -> None:
    """Runs in the reader process: parse, prepare, send batches; never touches the DB."""
    from .errors import ArchiveError

    gc.set_threshold(*_BULK_GC)

    def progress(done: int, total: int | None) -> None:
        q.put(("progress", done, total))

    batch: list[tuple[Any, tuple[Any, ...] | None]] = []
    try:
        for item in _iterator(kind, Path(path), progress):
            if isinstance(item, PostSnapshot):
                prep = prepare(item)
                # plain tuples cross the pipe: pickling dataclasses cost 4× as much
                t = _SNAP_FIELDS(item)
                batch.append((t[:_RAW_AT] + (None,) + t[_RAW_AT + 1 :], tuple(prep)))
            else:
                batch.append((item, None))
            if len(batch) >= 500:
                q.put(("items", batch))
                batch = []
        q.put(("items", batch))
        q.put((_DONE,))
    except ArchiveError as e:
        q.put(("archive_error", e.path, e.problem, e.member))
    except OSError as e:  # the archive cannot be read (an I/O error, a vanished file)
        q.put(("archive_error", path, f"cannot be read: {os_reason(e)}", None))
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises
        q.put(("crash", f"{type(e).__name__}: {e}"))


def _start_reader(kind: str, path: Path) -> tuple[Any, Any]:
    """Start the reader process; return it and the queue it sends on.

    Fork when this process runs no other thread (then the child starts in
    milliseconds; it never touches the inherited database connections and leaves
    through ``os._exit``, so they are neither used nor closed there); otherwise spawn
    (a progress bar's thread might hold a lock at fork time)."""
    method = "fork" if threading.active_count() == 1 else "spawn"
    ctx: Any = mp.get_context(method)
    q = ctx.Queue(maxsize=_QUEUE_BATCHES)
    proc = ctx.Process(target=_reader, args=(kind, str(path), q), daemon=True)
    proc.start()
    return proc, q


def _stop(proc: Any, q: Any) -> None:
    if proc.is_alive():
        proc.terminate()
    proc.join(timeout=5)
    q.close()


def _consume(
    proc: Any, q: Any, progress: ProgressFn | None
) -> Iterator[tuple[Any, Prepared | None]]:
    from .errors import ArchiveError, UnerasedError, one_line

    try:
        while True:
            try:
                msg = q.get(timeout=1.0)
            except queue.Empty:
                if not proc.is_alive():  # killed (a signal, out of memory): one line
                    raise UnerasedError(
                        f"the archive reader process died (exit code {proc.exitcode}); "
                        "nothing was imported"
                    ) from None
                continue
            tag = msg[0]
            if tag == "items":
                for item, prep in msg[1]:
                    if prep is None:
                        yield item, None
                    else:
                        yield PostSnapshot(*item), Prepared(*prep)
            elif tag == "progress":
                if progress is not None:
                    progress(msg[1], msg[2])
            elif tag == _DONE:
                return
            elif tag == "archive_error":
                raise ArchiveError(msg[1], msg[2], member=msg[3])
            else:
                raise UnerasedError(one_line(
                    f"the archive reader failed ({msg[1]}); nothing was imported"))
    finally:
        _stop(proc, q)
