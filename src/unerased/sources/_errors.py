"""Helpers the platform sources share: reading an answer defensively (JSON that may be
truncated, dates that may be nonsense), rate-limit and back-off headers, and turning
platform HTML into plain text.

Everything here treats what a platform sent as hostile: nothing raises on bad data,
functions return ``None`` (or an error string) instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit

import httpx

from ..model import Capture, iso
from ..text.hostile import (
    first_line,
    safe_datetime,
)

Clock = Callable[[], datetime]

MAX_BACKOFF = timedelta(days=1)
"""A platform that asks us to wait longer than this is capped: a hostile or broken
server must not be able to stop collection for good."""


# --- URLs a platform sent -----------------------------------------------------------


def split_url(url: str) -> SplitResult | None:
    """``urlsplit(url)``, or None when the URL cannot be parsed (an unclosed IPv6
    bracket, a bad port: ``http://[::1/x``) — never an exception."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a bad port
    except (ValueError, TypeError):
        return None
    return parts


def join_url(base: str, ref: str) -> str | None:
    """``urljoin(base, ref)``, or None when either cannot be parsed."""
    try:
        return urljoin(base, ref)
    except (ValueError, TypeError):
        return None


def is_http_url(url: str) -> bool:
    parts = split_url(url)
    return parts is not None and parts.scheme in ("http", "https") and bool(parts.netloc)


# --- reading answers ---------------------------------------------------------------


def failure_text(cap: Capture) -> str:
    """One line for a request that got no answer (timeout, refused, TLS…)."""
    return str(cap.error).strip() if cap.error else "no answer"


def json_body(resp: httpx.Response) -> tuple[Any, str | None]:
    """``(value, None)`` when the body is JSON, ``(None, why)`` when it is not
    (HTML error page, truncated body, wrong encoding)."""
    body = resp.content
    if not body.strip():
        return None, "empty body"
    try:
        return json.loads(body), None
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        ctype = resp.headers.get("content-type", "no content-type")
        return None, f"body is not JSON ({ctype}; {type(e).__name__}: {str(e)[:80]})"


# --- rate limits --------------------------------------------------------------------


def _parse_reset(value: str, now: datetime) -> datetime | None:
    """A reset time as platforms send it: Unix epoch seconds (X), ISO 8601 (Mastodon)
    or an HTTP date."""
    v = value.strip()
    if not v:
        return None
    if re.fullmatch(r"\d{1,12}(\.\d+)?", v):
        try:
            return datetime.fromtimestamp(float(v), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    dt = safe_datetime(v)
    if dt is not None:
        return dt
    try:
        parsed = parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def retry_after(headers: httpx.Headers, now: datetime) -> datetime | None:
    """When the answer says we may try again: ``Retry-After`` (delta-seconds or HTTP
    date), else the rate-limit reset header (``x-rate-limit-reset``, X: epoch seconds;
    ``x-ratelimit-reset``, Mastodon: ISO 8601). Capped at :data:`MAX_BACKOFF`."""
    when: datetime | None = None
    ra = headers.get("retry-after", "").strip()
    if ra:
        if re.fullmatch(r"\d{1,9}", ra):
            when = now + timedelta(seconds=int(ra))
        else:
            when = _parse_reset(ra, now)
    if when is None:
        for name in ("x-rate-limit-reset", "x-ratelimit-reset"):
            v = headers.get(name)
            if v:
                when = _parse_reset(v, now)
                if when is not None:
                    break
    if when is None:
        return None
    return min(when, now + MAX_BACKOFF)


def _remaining(headers: httpx.Headers) -> int | None:
    for name in ("x-rate-limit-remaining", "x-ratelimit-remaining"):
        v = headers.get(name, "").strip()
        if v:
            try:
                return int(v)
            except ValueError:
                return None
    return None


class Backoff:
    """Per-endpoint "do not send before" times, learnt from the platform's answers.

    A 429 blocks its endpoint until ``Retry-After``/the reset header (or ``default``
    when the answer names no time); a success with ``remaining: 0`` blocks it until the
    reset header. Sources check :meth:`blocked` before sending and skip the request.
    """

    def __init__(self, clock: Clock, default: timedelta) -> None:
        self.clock = clock
        self.default = default
        self._until: dict[str, datetime] = {}

    def blocked(self, key: str) -> datetime | None:
        until = self._until.get(key)
        if until is None:
            return None
        if until > self.clock():
            return until
        del self._until[key]
        return None

    def observe(self, key: str, resp: httpx.Response) -> datetime | None:
        """Learn from one answer; returns the time the endpoint is blocked until, if any."""
        now = self.clock()
        if resp.status_code == 429:
            until = retry_after(resp.headers, now)
            if until is None or until <= now:
                until = now + self.default
        elif _remaining(resp.headers) == 0:
            until = retry_after(resp.headers, now)
            if until is None or until <= now:
                return None
        else:
            return None
        self._until[key] = until
        return until

    @property
    def until(self) -> Mapping[str, datetime]:
        now = self.clock()
        return {k: v for k, v in self._until.items() if v > now}

    @property
    def retry_after(self) -> datetime | None:
        """The latest time any endpoint is still blocked until (None: nothing blocked)."""
        pending = self.until.values()
        return max(pending) if pending else None


def rate_limited_text(platform: str, until: datetime | None) -> str:
    return f"{platform}: rate limited; retry after {iso(until) or 'a while'}"


def describe_status(resp: httpx.Response) -> str:
    """``HTTP 503 Service Unavailable`` and the platform's own words when it sent JSON
    with an ``error``/``detail``/``title`` field."""
    words = ""
    value, _ = json_body(resp)
    if isinstance(value, dict):
        for key in ("error", "detail", "title", "message"):
            v = value.get(key)
            if isinstance(v, str) and v:
                words = f": {first_line(v)[:200]}"
                break
    return f"HTTP {resp.status_code}{(' ' + resp.reason_phrase) if resp.reason_phrase else ''}{words}"


