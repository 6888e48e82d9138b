"""Archive import: an importer's snapshots into the store, in ONE transaction.

Either the whole archive lands (with a ledger leaf for every row) or nothing does; the
same archive imported twice changes nothing; a newer archive adds what is new and
records changed text as new versions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .model import AccountSnapshot, AccountStatus, PostSnapshot
from .store import Store

BATCH = 1000
ProgressFn = Callable[[int, int | None], None]

KINDS = ("twitter-archive", "mastodon-archive", "bluesky-car")


def _iterator(kind: str, path: Path, progress: ProgressFn | None) -> Iterator[Any]:
    if kind == "twitter-archive":
        from .importers.twitter import iter_twitter_archive

        return iter_twitter_archive(path, progress=progress)
    if kind == "mastodon-archive":
        from .importers.mastodon import iter_mastodon_archive

        return iter_mastodon_archive(path, progress=progress)
    if kind == "bluesky-car":
        from .importers.bluesky_car import iter_bluesky_car

        return iter_bluesky_car(path, progress=progress)
    raise ValueError(f"unknown archive kind {kind!r}")


@dataclass
class ImportCounts:
    posts: int = 0  # snapshots read
    new_posts: int = 0
    new_versions: int = 0
    unchanged: int = 0
    deleted: int = 0
    accounts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "posts": self.posts, "new_posts": self.new_posts,
            "new_versions": self.new_versions, "unchanged": self.unchanged,
            "deleted": self.deleted,
        }


def file_digest(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def import_archive(
    store: Store, kind: str, path: Path, *, progress: ProgressFn | None = None
) -> ImportCounts:
    from .importers._errors import ArchiveError

    try:
        sha, size = file_digest(path)
    except OSError as e:
        raise ArchiveError(str(path), e.strerror or "cannot be read") from None
    source = f"import:{sha}"
    counts = ImportCounts()
    with store.writer() as w:
        account: dict[str, Any] | None = None
        batch: list[PostSnapshot] = []

        def flush() -> None:
            assert account is not None
            for r in w.add_posts(account, batch, source):
                if r.is_new:
                    counts.new_posts += 1
                if r.version_pk is not None:
                    counts.new_versions += 1
                else:
                    counts.unchanged += 1
            batch.clear()

        for item in _iterator(kind, path, progress):
            if isinstance(item, AccountSnapshot):
                if batch:
                    flush()
                account = w.upsert_account(item, source)
                counts.accounts.append(item.handle or item.account_id)
                continue
            if not isinstance(item, PostSnapshot):
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
            if len(batch) >= BATCH:
                flush()
        if batch:
            flush()
        if account is None:
            raise ArchiveError(str(path), "no account and no posts found in the archive")
        w.add_import(kind, path.name, sha, size, account["id"], counts.as_dict())
    return counts
