"""The account state machine (docs/detection.md, rows A1…): from the account state and
one account check to the new state and the account events. Pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from ..errors import DetectError
from ..model import AccountCheck, AccountStatus, Event, EventType, StatusBasis, iso
from ._detect_base import (
    _STATUS_EVENT,
    HIDDEN_STATUSES,
    VISIBLE_STATUSES,
    AccountState,
    DetectConfig,
    PendingStatus,
    _dedup,
    _enum,
    _separate,
    _status_words,
)

__all__: list[str] = []  # private to watch.detect: _account_step and its helpers


def _account_step(old: AccountState | None, check: AccountCheck, now: datetime,
                  cfg: DetectConfig) -> tuple[AccountState | None, list[Event]]:
    """The account state after ``check`` and the account events it yields."""
    snap = check.snapshot
    if snap is None:
        return old, []
    status = _enum(snap.status, AccountStatus, AccountStatus.UNKNOWN)
    if status == AccountStatus.UNKNOWN:
        return old, []
    if old is not None and (snap.account_id != old.account_id or snap.platform != old.platform):
        raise DetectError(
            f"account check is for {snap.platform}:{snap.account_id}, "
            f"not {old.platform}:{old.account_id}")
    words = _status_words(snap.profile) if status != AccountStatus.ACTIVE else None
    caps = tuple(check.capture_ids)
    was = old or AccountState(account_id=snap.account_id, handle=None,
                              status=AccountStatus.UNKNOWN, display_name=None,
                              platform=snap.platform)
    base = replace(
        was, handle=snap.handle or was.handle,
        display_name=snap.display_name if snap.display_name is not None else was.display_name,
        last_checked=now)
    current, p = was.status, was.pending
    explicit = isinstance(snap.basis, str) and snap.basis == StatusBasis.EXPLICIT
    announce: dict[str, Any] | None = None  # how a hidden status announced now was established

    if status in HIDDEN_STATUSES and status != current and not explicit:
        # inferred from an absence: confirmed on separate checks, like a post's deletion
        if p is None:
            p = PendingStatus(status=status, count=1, first_missing=now, last_counted=now,
                              last_seen=was.last_checked, words=words, evidence=caps)
        elif _separate(p.last_counted, now, cfg):
            p = replace(p, status=status, count=p.count + 1, last_counted=now,
                        words=words if words is not None else p.words,
                        evidence=_dedup(p.evidence + caps))
        else:  # not a separate check: counts for nothing
            return replace(base, pending=p), _renamed(old, base, caps, now)
        if p.count < cfg.confirmations:
            return replace(base, pending=p), _renamed(old, base, caps, now)
        new = replace(base, status=p.status, status_detail=p.words, status_since=p.first_missing,
                      pending=None)
        announce = {"basis": str(StatusBasis.ABSENCE), "confirmations": p.count,
                    "first_missing": iso(p.first_missing), "last_seen": iso(p.last_seen)}
        evidence = p.evidence
    elif status in HIDDEN_STATUSES and status != current:
        # the platform said so: at once (a pending absence only tells since when)
        new = replace(base, status=status, status_detail=words, status_since=now, pending=None)
        announce = {"basis": str(StatusBasis.EXPLICIT), "confirmations": 1,
                    "first_missing": iso(p.first_missing if p else now),
                    "last_seen": iso(p.last_seen if p else was.last_checked)}
        evidence = _dedup((p.evidence if p else ()) + caps)
    else:
        # the account seen as it is (visible, or its current hidden status): a pending
        # disappearance ends silently, since it was never announced
        new = replace(base, status=status, status_detail=words, pending=None,
                      status_since=was.status_since if status == current else now)
        evidence = caps

    events: list[Event] = []
    change = {"from": None if current == AccountStatus.UNKNOWN else str(current),
              "to": str(new.status), "platform_detail": new.status_detail}
    if announce is not None:
        events.append(_account_event(_STATUS_EVENT[new.status], new, {**change, **announce},
                                     evidence, now))
    elif current in HIDDEN_STATUSES and new.status in VISIBLE_STATUSES:
        events.append(_account_event(EventType.ACCOUNT_RESTORED, new, change, evidence, now))
    return new, events + _renamed(old, new, caps, now)


def _renamed(old: AccountState | None, new: AccountState, caps: tuple[str, ...],
             now: datetime) -> list[Event]:
    if (old is not None and old.handle and new.handle
            and old.handle.casefold() != new.handle.casefold()):
        return [_account_event(EventType.ACCOUNT_RENAMED, new,
                               {"from": old.handle, "to": new.handle}, caps, now)]
    return []


def _account_event(kind: EventType, account: AccountState, detail: dict[str, Any],
                   evidence: tuple[str, ...], now: datetime) -> Event:
    return Event(type=kind, at=now, platform=account.platform, account=account.handle,
                 account_id=account.account_id, detail=detail, evidence=evidence)

