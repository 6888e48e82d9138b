"""The guard's exceptions. Each is in unerased's error tree (so the CLI shows it as one
line) and is also an ``httpx.TransportError`` (so any caller that handles a failed
request — ``except httpx.HTTPError`` — handles a refusal the same way: nothing sent)."""

from __future__ import annotations

import httpx

from ..errors import FetchRefused, SourceError


class Refused(FetchRefused, httpx.TransportError):
    """The fetch guard refused to send a request; ``str()`` is the reason, starting with
    ``refused:`` or ``unparsable URL:``. Nothing was sent."""

    def __init__(self, reason: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(reason, request=request)
        self.reason = reason


class BodyTooLarge(SourceError, httpx.ReadError):
    """An answer's body is over the size cap; what was read is dropped, never kept as if
    it were the whole body."""

    def __init__(self, limit: int, *, request: httpx.Request | None = None) -> None:
        super().__init__(f"body over the {limit}-byte cap: not kept", request=request)
        self.limit = limit
