"""Reading hostile input: what a platform or an archive sent, taken apart defensively.

Pure (no I/O), shared by ``sources`` and ``importers``: nothing here raises on bad data;
functions return ``None`` (or an empty value) instead.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from ..errors import one_line
from ..model import parse_iso

__all__ = [
    "first_line",
    "html_to_text",
    "iso_version",
    "one_line",
    "safe_datetime",
    "safe_dict",
    "safe_list",
    "safe_str",
]

_MAX_DATE = 64  # a date string longer than this is not a date (and parsing it costs)


def safe_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def safe_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def safe_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def safe_datetime(value: Any) -> datetime | None:
    """ISO 8601 from a platform or an archive, or None when absent or not a date."""
    if not isinstance(value, str) or len(value) > _MAX_DATE:
        return None
    try:
        return parse_iso(value)
    except (ValueError, OverflowError):
        return None


def iso_version(dt: datetime) -> str:
    """A timestamp as a version key: ISO 8601 UTC, millisecond precision, ``Z``."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def first_line(text: str, limit: int | None = None) -> str:
    """Error messages are one line (whitespace runs collapse); with ``limit``, at most
    that many characters (the last one an ellipsis when it was cut)."""
    line = " ".join(text.split())
    return line if limit is None or len(line) <= limit else line[: limit - 1] + "…"


# --- HTML to text -------------------------------------------------------------------

_BLOCK = frozenset(
    {"p", "div", "blockquote", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
     "table", "tr", "section", "article", "header", "footer", "figure"}
)
_SKIP = frozenset({"script", "style", "template", "head", "title"})


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of platform HTML: paragraphs become blank-line separated, ``<br>``
    a newline, every text node kept (Mastodon's "invisible" URL parts too, so links
    read in full), entities decoded, scripts/styles dropped. Never raises."""
    p = _TextParser()
    try:
        p.feed(html)
        p.close()
    except Exception:  # html.parser is lenient, but the input is hostile
        return re.sub(r"<[^>]*>", "", html).strip()
    text = "".join(p.parts)
    lines = [ln.rstrip() for ln in text.replace("\r\n", "\n").split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
