"""Watching accounts: detection (pure), the collector, watch URIs.

:mod:`~unerased.watch.detect` — pure state machines from (what we knew, what we now
observe) to events; :mod:`~unerased.watch.runner` — the collector: it claims the due
accounts, checks each through a platform source and persists each check in one store
transaction;
:mod:`~unerased.watch.streamcheck` — a check made from a platform's stream events;
:mod:`~unerased.watch.uri` — ``bluesky:…``, ``mastodon:@user@host``, ``rss:URL``,
``x:USERNAME``.

Names load at first use (see :mod:`unerased._lazy`): the pure detector never loads the
collector's network and database code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import exports

if TYPE_CHECKING:
    from . import detect, runner, streamcheck, uri
    from .detect import (
        AccountState,
        Announcement,
        DetectConfig,
        Detection,
        PostState,
        initial_post_state,
        next_account_state,
        plan_lookups,
    )
    from .runner import (
        CheckOutcome,
        Clients,
        RunContext,
        WatchConfig,
        add_watch,
        check_account,
        default_client_factory,
        due_accounts,
        observe,
        persist,
        poll,
        remove_watch,
        run_forever,
    )
    from .streamcheck import check_from_stream
    from .uri import WatchUri, parse_uri

__all__ = [
    "AccountState",
    "Announcement",
    "CheckOutcome",
    "Clients",
    "DetectConfig",
    "Detection",
    "PostState",
    "RunContext",
    "WatchConfig",
    "WatchUri",
    "add_watch",
    "check_account",
    "check_from_stream",
    "default_client_factory",
    "detect",
    "due_accounts",
    "initial_post_state",
    "next_account_state",
    "observe",
    "parse_uri",
    "persist",
    "plan_lookups",
    "poll",
    "remove_watch",
    "run_forever",
    "runner",
    "streamcheck",
    "uri",
]

_WHERE = {name: "detect" for name in (
    "AccountState", "Announcement", "DetectConfig", "Detection", "PostState", "initial_post_state",
    "next_account_state", "plan_lookups")}
_WHERE |= {name: "runner" for name in (
    "CheckOutcome", "Clients", "RunContext", "WatchConfig", "add_watch", "check_account",
    "default_client_factory", "due_accounts", "observe", "persist", "poll", "remove_watch",
    "run_forever")}
_WHERE |= {"WatchUri": "uri", "parse_uri": "uri", "check_from_stream": "streamcheck"}
_WHERE |= {m: m for m in ("detect", "runner", "streamcheck", "uri")}
__getattr__ = exports(__name__, _WHERE)
