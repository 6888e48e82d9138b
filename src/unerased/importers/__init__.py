"""Platform archives (what X, Mastodon and Bluesky hand their users) into snapshots.

Importers only *produce* snapshots (an :class:`~unerased.model.AccountSnapshot` first,
then :class:`~unerased.model.PostSnapshot` items, and :class:`ImportNotice` items for
what the summary must tell); they never write. Everything in an archive is hostile
input: every problem is an :class:`ArchiveError` with one line.

``SafeZip`` and ``SafeTar`` are the defensive readers every archive (and a receipt) is
opened with; :func:`open_archive` picks one by the file's magic bytes.
"""

from __future__ import annotations

from ..errors import ArchiveError
from ._notice import ImportNotice
from .bluesky_car import RepoRecord, iter_bluesky_car, iter_repo_records
from .mastodon import iter_mastodon_archive, mastodon_visibility
from .safetar import ArchiveFiles, SafeTar, is_tar, open_archive
from .safezip import SafeZip, name_problem
from .twitter import iter_twitter_archive, parse_twitter_date

__all__ = [
    "ArchiveError",
    "ArchiveFiles",
    "ImportNotice",
    "RepoRecord",
    "SafeTar",
    "SafeZip",
    "is_tar",
    "iter_bluesky_car",
    "iter_mastodon_archive",
    "iter_repo_records",
    "iter_twitter_archive",
    "mastodon_visibility",
    "name_problem",
    "open_archive",
    "parse_twitter_date",
]
