"""Imports through the browser: an uploaded archive imported in the background
(``/import``; docs/web.md#import).

The import is :func:`unerased.ingest.import_archive`, the code of ``unerased import …``
(SafeZip/SafeTar, the importers' limits, one transaction: a corrupt archive imports
nothing). :class:`ImportJobs` keeps the jobs **in memory, per server process** (a
restart forgets them; what was imported stays in the archive): at most one import runs
at a time per archive (a second is refused as busy), the last :data:`KEEP` finished
jobs are kept for their pages, and the uploaded file is deleted when its job ends,
whatever the outcome.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import DIR_MODE, open_private, os_reason, private_dir
from ..errors import ArchiveError, UnerasedError, one_line

if TYPE_CHECKING:
    from ..ingest import ImportCounts
    from ..store import Store
    from ._config import WebConfig

__all__ = ["DEFAULT_MAX_UPLOAD", "JOBS_KEY", "KEEP", "KINDS", "MAX_UPLOAD_KEY", "Busy",
           "ImportJob", "ImportJobs", "detect_kind", "jobs_of", "max_upload", "upload_name"]

KINDS = ("twitter-archive", "mastodon-archive", "bluesky-car")
KEEP = 20
JOBS_KEY = "import_jobs"  # WebConfig.extra: the app's ImportJobs
MAX_UPLOAD_KEY = "max_upload_bytes"  # WebConfig.extra: the upload size cap (serve --max-upload)
DEFAULT_MAX_UPLOAD = 4 << 30  # 4 GiB: an X export with its media is often gigabytes
STALE_UPLOAD_S = 24 * 3600  # an upload dir left by a killed server, removed at next start
UPLOADS = "uploads"  # HOME/uploads/JOB/NAME: owner-only


class Busy(Exception):
    """Another import is running (``job``: its id)."""

    def __init__(self, job: str) -> None:
        super().__init__(f"busy: another import is running (job {job}); try again when it "
                         "has ended")
        self.job = job


def max_upload(config: WebConfig) -> int:
    value = config.extra.get(MAX_UPLOAD_KEY)
    return int(value) if isinstance(value, int) and value > 0 else DEFAULT_MAX_UPLOAD


def upload_name(raw: str) -> str:
    """A usable file name from what the browser sent: its last path component, without
    control characters, at most 120 characters; ``upload`` when nothing is left."""
    base = re.split(r"[/\\]", raw)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip().lstrip(".")
    return base[-120:] or "upload"


def detect_kind(path: Path, name: str) -> str:
    """Which importer reads ``path``: a tar or gzip stream is a Mastodon archive (older
    Mastodon versions); a zip holding ``outbox.json`` is Mastodon's, one holding
    ``tweets.js``/``tweet.js`` (or the classic ``data/js/tweets/``) X's; a CAR file
    (its header names ``roots`` and ``version``) Bluesky's. The zip is listed by
    :class:`~unerased.importers.SafeZip` (its limits apply)."""
    from ..importers import SafeZip, is_tar

    try:
        with path.open("rb") as f:
            head = f.read(512)
    except OSError as e:
        raise ArchiveError(name, f"cannot be read: {os_reason(e)}") from None
    if is_tar(path):
        return "mastodon-archive"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        try:
            with SafeZip(path) as zf:
                names = zf.names()
        except ArchiveError as e:
            raise ArchiveError(name, e.problem, member=e.member) from None
        bases = {n.rsplit("/", 1)[-1] for n in names}
        if "outbox.json" in bases:
            return "mastodon-archive"
        if any(re.fullmatch(r"tweets?(?:-part[0-9]{1,6})?\.js", b) for b in bases) or any(
                "data/js/tweets/" in n for n in names):
            return "twitter-archive"
        raise ArchiveError(name, "a zip that is neither an X nor a Mastodon archive (no "
                                 "tweets.js, no outbox.json)")
    if b"roots" in head[:80] and b"version" in head[:80]:
        return "bluesky-car"
    raise ArchiveError(name, "not an X, Mastodon or Bluesky archive (a zip, a tar.gz or a "
                             "CAR file); choose its kind")


@dataclass
class ImportJob:
    """One upload and its import. ``stage``: ``receiving`` (the upload arrives),
    ``detecting``, ``reading`` (``done``/``total`` bytes of the archive read, ``posts``
    so far), ``finishing`` (all read; the transaction commits), ``done`` (``summary``)
    or ``failed`` (``error``, one line: nothing was imported)."""

    id: str
    user: str
    kind: str | None  # None: detect it
    created: float
    name: str = "upload"
    size: int = 0
    stage: str = "receiving"
    done: int = 0
    total: int | None = None
    counts: ImportCounts | None = None
    summary: dict[str, Any] | None = None
    error: str | None = None
    ended: float | None = None
    directory: Path | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        return self.stage not in ("done", "failed")

    def to_json(self) -> dict[str, Any]:
        c = self.counts
        pct = (min(100, int(self.done * 100 / self.total)) if self.total
               else (100 if self.stage == "done" else None))
        return {"id": self.id, "user": self.user, "kind": self.kind, "name": self.name,
                "size": self.size, "stage": self.stage, "active": self.active,
                "bytes_done": self.done, "bytes_total": self.total, "percent": pct,
                "posts": c.posts if c is not None else 0,
                "summary": self.summary, "error": self.error}


class ImportJobs:
    """The jobs of one app (one server process). Thread-safe."""

    def __init__(self, home: Path, clock: Callable[[], float] = time.time) -> None:
        self.home = home
        self.clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[str, ImportJob] = {}
        self._sweep()

    @property
    def uploads(self) -> Path:
        return self.home / UPLOADS

    def _sweep(self) -> None:
        """Remove upload folders a killed server left (older than a day)."""
        with contextlib.suppress(OSError):
            for d in self.uploads.iterdir():
                if self.clock() - d.lstat().st_mtime > STALE_UPLOAD_S:
                    shutil.rmtree(d, ignore_errors=True)

    def get(self, job_id: str) -> ImportJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def recent(self) -> list[ImportJob]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)

    def reserve(self, user: str, kind: str | None) -> ImportJob:
        """A new job in the ``receiving`` stage, or :class:`Busy` when one is active."""
        with self._lock:
            for j in self._jobs.values():
                if j.active:
                    raise Busy(j.id)
            job = ImportJob(secrets.token_urlsafe(12), user, kind, self.clock())
            self._jobs[job.id] = job
            finished = sorted((j for j in self._jobs.values() if not j.active),
                              key=lambda j: j.created)
            for old in finished[:max(0, len(finished) - KEEP)]:
                del self._jobs[old.id]
        return job

    def open_upload(self, job: ImportJob, name: str) -> tuple[int, Path]:
        """An owner-only file for the upload: ``HOME/uploads/RANDOM/NAME`` (the folder
        0700, the file 0600; the name is the browser's, recorded by the import)."""
        import tempfile

        private_dir(self.uploads)
        d = Path(tempfile.mkdtemp(prefix="job-", dir=self.uploads))  # made 0700
        os.chmod(d, DIR_MODE)
        job.directory, job.name = d, name
        path = d / name
        return open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL), path

    def abandon(self, job: ImportJob) -> None:
        """An upload that did not complete (too large, refused, cut): forgotten, its
        file deleted."""
        self._remove_files(job)
        with self._lock:
            self._jobs.pop(job.id, None)

    def _remove_files(self, job: ImportJob) -> None:
        if job.directory is not None:
            shutil.rmtree(job.directory, ignore_errors=True)

    def start(self, job: ImportJob, path: Path, store: Store) -> None:
        """Import ``path`` in a background thread (the file is deleted at the end)."""
        job.size = path.stat().st_size
        job.stage = "detecting"
        job.thread = threading.Thread(target=self._run, args=(job, path, store),
                                      name=f"unerased-import-{job.id}", daemon=True)
        job.thread.start()

    def _run(self, job: ImportJob, path: Path, store: Store) -> None:
        from ..ingest import ImportCounts, import_archive

        try:
            kind = job.kind or detect_kind(path, job.name)
            job.kind = kind
            job.counts = ImportCounts()
            job.stage = "reading"

            def progress(done: int, total: int | None) -> None:
                job.done, job.total = done, total
                if total is not None and done >= total:
                    job.stage = "finishing"

            counts = import_archive(store, kind, path, progress=progress, counts=job.counts)
            job.summary = {
                "archive": job.name, "kind": kind, "account": counts.account,
                "accounts": counts.accounts, "account_uris": counts.account_uris,
                **counts.as_dict(), "notices": [n.message for n in counts.notices]}
            job.stage = "done"
        except ArchiveError as e:
            job.error = str(ArchiveError(job.name, e.problem, member=e.member)) \
                + " (nothing was imported)"
            job.stage = "failed"
        except UnerasedError as e:
            line = one_line(str(e).replace(str(path), job.name))
            job.error = line if "nothing was imported" in line else \
                line + " (nothing was imported)"
            job.stage = "failed"
        except OSError as e:
            job.error = f"{job.name}: cannot be read: {os_reason(e)} (nothing was imported)"
            job.stage = "failed"
        except Exception as e:  # noqa: BLE001 - a bug: one line, never a traceback
            job.error = f"the import failed ({type(e).__name__}); nothing was imported"
            job.stage = "failed"
        finally:
            self._remove_files(job)
            job.ended = self.clock()

    def wait(self, job: ImportJob, timeout: float | None = None) -> bool:
        """Until ``job``'s thread ends (tests, shutdown); True when it has."""
        t = job.thread
        if t is not None:
            t.join(timeout)
        return not job.active


def jobs_of(config: WebConfig) -> ImportJobs:
    """The app's :class:`ImportJobs` (made on first use, kept in ``config.extra``)."""
    jobs = config.extra.get(JOBS_KEY)
    if not isinstance(jobs, ImportJobs):
        jobs = config.extra.setdefault(JOBS_KEY, ImportJobs(config.home))
    assert isinstance(jobs, ImportJobs)
    return jobs
