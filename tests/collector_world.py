"""What the collector's tests share: an injected clock, an environment without proxies
or allow-lists, and one watched Mastodon account on a loopback site."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from unerased.store import Store
from unerased.watch.runner import RunContext, WatchConfig, add_watch, default_client_factory
from unerased.watch.uri import parse_uri

__all__ = ["Clock", "add_alice", "clean_env"]


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy or allow-list from the machine's environment (import it into a test
    module to make it that module's autouse fixture)."""
    for name in ("UNERASED_ALLOW_HOSTS", "UNERASED_PROXY", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def add_alice(store: Store, base: str, clock: Clock) -> dict[str, Any]:
    """Watch ``mastodon:@alice@social.example`` served at ``base``."""
    ctx = RunContext(store, default_client_factory(), WatchConfig(), now=clock)
    return dict(asyncio.run(add_watch(ctx, parse_uri("mastodon:@alice@social.example"),
                                      service=base, tags={})))
