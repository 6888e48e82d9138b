"""Posts as JSON Lines (the ``posts --json`` shape) and as CSV (one row per post)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import BinaryIO

from ..store import Store

CSV_FIELDS = (
    "platform", "account", "account_id", "post_id", "url", "created_at", "status", "kind",
    "reply_to", "repost_of", "quote_of", "text", "n_versions", "first_version_text",
    "media", "first_seen", "last_seen", "deleted_at", "deleted_reason",
)


def write_jsonl(store: Store, f: BinaryIO, progress: Callable[[int, int], None] | None) -> int:
    n = 0
    for p in store.iter_posts():
        f.write(json.dumps(p, ensure_ascii=False).encode("utf-8") + b"\n")
        n += 1
        if progress and n % 1000 == 0:
            progress(n, 0)
    return n


def write_csv(store: Store, f: BinaryIO, progress: Callable[[int, int], None] | None) -> int:
    text = io.TextIOWrapper(f, encoding="utf-8", newline="")
    w = csv.DictWriter(text, fieldnames=CSV_FIELDS, extrasaction="ignore")
    w.writeheader()
    n = 0
    for p in store.iter_posts():
        vs = p["versions"]
        row = dict(p)
        row["n_versions"] = len(vs)
        row["first_version_text"] = vs[0]["text"] if len(vs) > 1 else ""
        row["media"] = " ".join(m["sha256"] or m["url"] or "" for m in p["media"])
        w.writerow(row)
        n += 1
        if progress and n % 1000 == 0:
            progress(n, 0)
    text.flush()
    text.detach()
    return n
