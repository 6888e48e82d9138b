"""Where the test data from other public projects lives: the one configurable place.

``UNERASED_SHARED`` names the folder (it holds ``testdata/``); by default it is
``../shared`` beside the repository, as in CI. The data is read from there, never
copied into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

SHARED = Path(
    os.environ.get("UNERASED_SHARED") or Path(__file__).resolve().parents[1].parent / "shared"
)
TESTDATA = SHARED / "testdata"
PLATFORMS = TESTDATA / "platforms"
"""Recorded platform answers (Mastodon, X, RSS, Bluesky)."""
ARCHIVES = TESTDATA / "archives"
"""Real platform exports of every generation (see its README and each PROVENANCE.md)."""
RFC9162 = TESTDATA / "rfc9162"
"""RFC 9162 test vectors."""
