"""Posts as JSON Lines (the ``posts --json`` shape, the exact text) and as CSV (one row
per post, for spreadsheets: cells that a spreadsheet would run as formulas are
neutralised, see :func:`spreadsheet_safe`)."""

from __future__ import annotations

import csv
import json
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any, TextIO

CSV_FIELDS = (
    "platform", "account", "account_id", "post_id", "url", "created_at", "status", "kind",
    "reply_to", "repost_of", "quote_of", "text", "n_versions", "first_version_text",
    "media", "first_seen", "last_seen", "deleted_at", "deleted_reason", "media_alt",
)

_FORMULA_START = frozenset("=+-@\u2212")
"""OWASP's characters that make a spreadsheet read a cell as a formula (the minus sign
U+2212 too), compared after NFKC, which folds their full-width and small forms (＝ ＋ － ＠,
﹦ ﹢ ﹣ ﹫) as some spreadsheets do."""
_CONTROL_START = ("\t", "\r")
"""OWASP's control characters that must not begin a cell: tab (0x09), carriage return (0x0D)."""


def _blank(ch: str) -> bool:
    """Whitespace, or an invisible format character (zero-width space, BOM, bidi marks…),
    which a spreadsheet may skip or trim before it looks for a formula."""
    return ch.isspace() or unicodedata.category(ch) == "Cf"


def spreadsheet_safe(value: str) -> str:
    """``value`` with a leading ``'`` when a spreadsheet could run it as a formula
    (OWASP's CSV injection rule), otherwise unchanged.

    A cell is neutralised when it begins with ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return — also after leading whitespace or invisible format characters, and
    also in the full-width and small compatibility forms of those signs (and U+2212).
    The quote is the only change: idempotent, and the exact text stays in JSON Lines."""
    if not value:
        return value
    if value.startswith(_CONTROL_START):
        return "'" + value
    for ch in value:
        if _blank(ch):
            continue
        if ch in _FORMULA_START or unicodedata.normalize("NFKC", ch)[:1] in _FORMULA_START:
            return "'" + value
        return value
    return value


def _one_line(text: str) -> str:
    return text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")


def csv_row(p: dict[str, Any]) -> list[str]:
    """One post (the ``iter_posts`` shape) as the CSV's cells, every one neutralised."""
    vs = p["versions"]
    media = p["media"]
    row: dict[str, Any] = dict(p)
    row["n_versions"] = len(vs)
    row["first_version_text"] = vs[0]["text"] if len(vs) > 1 else ""
    row["media"] = " ".join(m["sha256"] or m["url"] or "" for m in media)
    # one line per media item, in the order of the media column
    row["media_alt"] = "\n".join(_one_line(m["alt"] or "") for m in media)
    return [spreadsheet_safe("" if row.get(k) is None else str(row[k])) for k in CSV_FIELDS]


def write_jsonl(
    posts: Iterable[dict[str, Any]], f: TextIO, progress: Callable[[int, int], None] | None
) -> int:
    n = 0
    for p in posts:
        f.write(json.dumps(p, ensure_ascii=False) + "\n")
        n += 1
        if progress and n % 1000 == 0:
            progress(n, 0)
    return n


def write_csv(
    posts: Iterable[dict[str, Any]], f: TextIO, progress: Callable[[int, int], None] | None
) -> int:
    """RFC 4180 CSV with every field quoted (OWASP: a ``,`` or ``;`` in a value cannot
    start a new cell whatever separator a spreadsheet guesses) and formula cells
    neutralised. ``f`` is opened with ``newline=""``."""
    w = csv.writer(f, quoting=csv.QUOTE_ALL)
    w.writerow(CSV_FIELDS)
    n = 0
    for p in posts:
        w.writerow(csv_row(p))
        n += 1
        if progress and n % 1000 == 0:
            progress(n, 0)
    return n
