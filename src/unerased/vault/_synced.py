"""Is a path inside a folder that a sync service copies elsewhere (a cloud, other
machines)? An archive there leaves the machine: its copies escape ``wipe`` and the
owner's control. A pure check of the path's components, plus marker files the sync
clients leave in the folders they sync (in the path or any parent)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["synced_folder", "synced_by_name"]

# folder names the sync clients make (compared case-insensitively, as a prefix: OneDrive
# names its folder "OneDrive - Company", Dropbox "Dropbox (Team)")
_NAMES = (
    ("dropbox", "Dropbox"),
    ("onedrive", "OneDrive"),
    ("google drive", "Google Drive"),
    ("googledrive", "Google Drive"),
    ("my drive", "Google Drive"),
    ("mobile documents", "iCloud Drive"),
    ("icloud drive", "iCloud Drive"),
    ("iclouddrive", "iCloud Drive"),
    ("nextcloud", "Nextcloud"),
    ("owncloud", "ownCloud"),
    ("syncthing", "Syncthing"),
    ("cloudstorage", "a cloud storage provider"),
)
# marker files and folders a client leaves in a synced folder
_MARKERS = (
    (".stfolder", "Syncthing"),
    (".dropbox", "Dropbox"),
    (".dropbox.cache", "Dropbox"),
    (".sync", "Resilio Sync"),
    (".owncloudsync.log", "ownCloud"),
    (".nextcloudsync.log", "Nextcloud"),
)
_MARKER_PREFIXES = ((".sync_", "Nextcloud or ownCloud"), ("._sync_", "Nextcloud or ownCloud"))


def synced_by_name(path: Path) -> tuple[Path, str] | None:
    """The first folder of ``path`` whose name is a sync client's, and the service."""
    p = Path(os.path.abspath(path))
    for part in [p, *p.parents]:
        low = part.name.lower()
        for prefix, service in _NAMES:
            if low.startswith(prefix):
                return part, service
    return None


_SCAN_CAP = 2000  # entries of one directory looked at for a prefixed marker


def _marker_in(d: Path) -> str | None:
    for marker, service in _MARKERS:
        if os.path.lexists(d / marker):
            return service
    try:  # Nextcloud's and ownCloud's journal: .sync_<hash>.db, ._sync_<hash>.db
        with os.scandir(d) as it:
            for k, entry in enumerate(it):
                if k >= _SCAN_CAP:
                    break
                for prefix, service in _MARKER_PREFIXES:
                    if entry.name.startswith(prefix) and entry.name.endswith(".db"):
                        return service
    except OSError:
        return None
    return None


def synced_folder(path: Path) -> str | None:
    """One line naming why ``path`` looks synced (None when it does not): by a folder's
    name, or a sync client's marker file in it or a parent."""
    hit = synced_by_name(path)
    if hit is not None:
        return f"{hit[0]} looks like a {hit[1]} folder"
    p = Path(os.path.abspath(path))
    for d in [p, *p.parents]:
        service = _marker_in(d)
        if service is not None:
            return f"{d} is synced by {service} (its marker file is there)"
    return None
