"""Every account false alarm seen so far, from the sources' own classification of the
platforms' recorded answers through the detector: a disappearance inferred from an
absence (404/410, "Could not find user", RepoNotFound, a DID that no longer resolves) is
announced only after a confirming check; a status the platform states counts at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from detect_cases import CFG, at
from recorded import Exchange, Replay, load, make
from test_source_bluesky_recorded import BOB, CAROL, DAVE, Server, answer
from test_source_bluesky_recorded import run as run_bluesky
from test_source_mastodon import docs
from test_source_mastodon import go as go_mastodon
from test_source_rss import FEED
from test_source_rss import go as go_rss
from test_source_x import body_json, excerpt_error, recorded_error
from test_source_x import go as go_x
from unerased.model import AccountCheck, AccountStatus, Event, StatusBasis
from unerased.sources.bluesky import BlueskySource
from unerased.watch.detect import AccountState, detect

FEED_PATH = "/api/statuses/user_timeline/7477.atom"
MASTODON_ID = "117020457910412882"  # the recorded local account (account_get_200_local.json)
X_ID = "93071130"  # the user X "could not find" in users_lookup_ids_partial_errors.json
SEPARATE = 0.5  # hours: well past min_confirm_interval (5 minutes)
TOO_SOON = 1 / 60  # one minute


def judge(checks: Sequence[AccountCheck], hours: Sequence[float]) -> tuple[list[Event],
                                                                          AccountState | None]:
    """The detector's verdicts on ``checks`` made at ``hours``, of an account last seen
    active an hour before the first."""
    snap = next(c.snapshot for c in checks if c.snapshot is not None)
    account: AccountState | None = AccountState(
        account_id=snap.account_id, handle=snap.handle, status=AccountStatus.ACTIVE,
        display_name=None, platform=snap.platform, status_since=at(-100), last_checked=at(-1))
    events: list[Event] = []
    for check, h in zip(checks, hours, strict=True):
        d = detect(account, {}, check, None, [], at(h), CFG)
        account = d.account
        events.extend(d.events)
    return events, account


def types(events: Sequence[Event]) -> list[str]:
    return [str(e.type) for e in events]


# --- RSS: the feed itself answers 404/410 ---------------------------------------------


def rss_checks(*answers: Exchange) -> list[AccountCheck]:
    replay = Replay()
    replay.add(*answers, method="GET", path=FEED_PATH)

    async def checks(src: Any) -> list[AccountCheck]:
        return [await src.check_account(FEED) for _ in answers]

    out: list[AccountCheck] = go_rss(replay, checks)[0]
    return out


def feed() -> Exchange:
    return load("rss/gnusocial_quitter.no_user_timeline.atom")


def test_single_feed_404_is_no_event() -> None:
    (check,) = rss_checks(make(404, b"Not Found"))
    assert check.snapshot is not None and check.snapshot.status == AccountStatus.DELETED
    events, account = judge([check], [0])
    assert events == [] and account is not None and account.pending is not None


@pytest.mark.parametrize("status", [404, 410])
def test_feed_404_once_then_200_is_no_event(status: int) -> None:
    checks = rss_checks(make(status, b"Gone"), feed())
    events, account = judge(checks, [0, SEPARATE])
    assert events == [] and account is not None
    assert account.status == AccountStatus.ACTIVE and account.pending is None


def test_feed_404_twice_too_soon_is_no_event() -> None:
    checks = rss_checks(make(404, b"Not Found"), make(404, b"Not Found"))
    assert judge(checks, [0, TOO_SOON])[0] == []


def test_feed_404_error_404_on_separate_checks_is_one_event() -> None:
    checks = rss_checks(make(404, b"Not Found"), make(503, b"busy"), make(404, b"Not Found"))
    assert checks[1].snapshot is None  # the 503 is no answer
    events, _ = judge(checks, [0, SEPARATE, 2 * SEPARATE])
    assert types(events) == ["account_deleted"]
    e = events[0]
    assert e.detail["basis"] == "absence" and e.detail["confirmations"] == 2
    assert list(e.evidence) == [*checks[0].capture_ids, *checks[2].capture_ids]
    assert len(set(e.evidence)) == 2


# --- Mastodon --------------------------------------------------------------------------


def mastodon_checks(account_id: str, path: str, *answers: Exchange,
                    **config: Any) -> list[AccountCheck]:
    replay = Replay()
    replay.add(*answers, method="GET", path=path)

    async def checks(src: Any) -> list[AccountCheck]:
        return [await src.check_account(account_id) for _ in answers]

    out: list[AccountCheck] = go_mastodon(replay, checks, **config)[0]
    return out


def test_mastodon_404_then_200_is_no_event_and_404_404_is_one() -> None:
    gone, _ = docs("account_get_404.json", "")
    live = load("mastodon/account_get_200_local.json")
    path, aid = f"/api/v1/accounts/{MASTODON_ID}", f"{MASTODON_ID}@localhost:3000"
    events, account = judge(mastodon_checks(aid, path, gone, live), [0, SEPARATE])
    assert events == [] and account is not None and account.status == AccountStatus.ACTIVE
    events, _ = judge(mastodon_checks(aid, path, gone, gone), [0, SEPARATE])
    assert types(events) == ["account_deleted"]


def test_mastodon_old_410_suspension_is_inferred_and_confirmed() -> None:
    """Mastodon 2.4-3.2 answered a suspended account with a bare 410 Gone: suspended, as
    far as it tells, but only an absence; a later check confirms it."""
    gone410 = make(410, b"")
    (one,) = mastodon_checks("9@old.example", "/api/v1/accounts/9", gone410)
    assert one.snapshot is not None and one.snapshot.status == AccountStatus.SUSPENDED
    assert judge([one], [0])[0] == []
    two = mastodon_checks("9@old.example", "/api/v1/accounts/9", gone410, gone410)
    events, _ = judge(two, [0, SEPARATE])
    assert types(events) == ["account_suspended"] and events[0].detail["basis"] == "absence"


def test_mastodon_suspended_true_counts_at_once() -> None:
    ex, _ = docs("account_get_200_suspended_user.json", "")
    (check,) = mastodon_checks("14@mastodon.social", "/api/v1/accounts/14", ex,
                               service="https://mastodon.social")
    events, account = judge([check], [0])
    assert types(events) == ["account_suspended"]
    assert events[0].detail["basis"] == "explicit" and events[0].detail["confirmations"] == 1
    assert account is not None and account.status == AccountStatus.SUSPENDED


# --- Bluesky ---------------------------------------------------------------------------


def bluesky_check(did: str, server: Server) -> AccountCheck:
    async def check(src: BlueskySource) -> AccountCheck:
        return await src.check_account(did)

    return run_bluesky(server, check)[0]


NOT_IMPLEMENTED = (501, {"error": "MethodNotImplemented", "message": "Method Not Implemented"})


def test_bluesky_repo_takendown_counts_at_once() -> None:
    check = bluesky_check(CAROL, Server({
        "com.atproto.sync.getRepoStatus": NOT_IMPLEMENTED,  # an older PDS: describeRepo says
        "com.atproto.repo.describeRepo": answer("carol takendown: describeRepo"),
    }))
    events, _ = judge([check], [0])
    assert types(events) == ["account_suspended"]
    assert events[0].detail["basis"] == "explicit"
    assert "RepoTakendown" in events[0].detail["platform_detail"]


def test_bluesky_repo_not_found_needs_confirmation() -> None:
    def dave() -> AccountCheck:
        return bluesky_check(DAVE, Server(
            {"com.atproto.sync.getRepoStatus": answer("dave deleted: sync.getRepoStatus")}))

    assert judge([dave()], [0])[0] == []
    events, _ = judge([dave(), dave()], [0, SEPARATE])
    assert types(events) == ["account_deleted"] and events[0].detail["basis"] == "absence"


def test_bluesky_did_gone_then_back_is_no_event() -> None:
    tombstoned = (410, {"message": f"DID not available: {BOB}"})
    gone = bluesky_check(BOB, Server({}, plc={BOB: tombstoned}))
    back = bluesky_check(BOB, Server({
        "com.atproto.sync.getRepoStatus": answer("bob reactivated: sync.getRepoStatus"),
        "com.atproto.repo.describeRepo": answer("bob reactivated: describeRepo"),
    }))
    assert gone.snapshot is not None and gone.snapshot.basis == StatusBasis.ABSENCE
    assert back.snapshot is not None and back.snapshot.status == AccountStatus.ACTIVE
    assert judge([gone, back], [0, SEPARATE])[0] == []


# --- X ---------------------------------------------------------------------------------


def x_checks(account_id: str, *answers: Exchange) -> list[AccountCheck]:
    replay = Replay()
    replay.add(*answers, method="GET", path=f"/2/users/{account_id}")

    async def checks(src: Any) -> list[AccountCheck]:
        return [await src.check_account(account_id) for _ in answers]

    out: list[AccountCheck] = go_x(replay, checks)[0]
    return out


def test_x_could_not_find_user_needs_confirmation() -> None:
    not_found = make(200, {"errors": [recorded_error("x/users_lookup_ids_partial_errors.json", 3)]})
    live = body_json(data={"id": X_ID, "name": "Someone", "username": "someone"})
    events, account = judge(x_checks(X_ID, not_found, live), [0, SEPARATE])
    assert events == [] and account is not None and account.status == AccountStatus.ACTIVE
    events, _ = judge(x_checks(X_ID, not_found, not_found.with_status(404)), [0, SEPARATE])
    assert types(events) == ["account_deleted"]
    assert events[0].detail["platform_detail"].startswith("Could not find user")


def test_x_user_has_been_suspended_counts_at_once() -> None:
    susp = excerpt_error(0)
    susp.update(parameter="id", resource_id="1234", value="1234")
    (check,) = x_checks("1234", body_json(errors=[susp]))
    events, _ = judge([check], [0])
    assert types(events) == ["account_suspended"] and events[0].detail["basis"] == "explicit"


def test_every_platforms_absence_alone_is_silent() -> None:
    """One absence from each platform, each judged alone: not one event."""
    gone, _ = docs("account_get_404.json", "")
    absences = [
        *rss_checks(make(410, b"Gone")),
        *mastodon_checks("9@localhost:3000", "/api/v1/accounts/9", gone),
        bluesky_check(DAVE, Server({"com.atproto.sync.getRepoStatus":
                                    answer("dave deleted: sync.getRepoStatus")})),
        *x_checks(X_ID, make(404, {"errors": [recorded_error(
            "x/users_lookup_ids_partial_errors.json", 3)]})),
    ]
    for check in absences:
        assert check.snapshot is not None and check.snapshot.basis == StatusBasis.ABSENCE
        assert judge([check], [0])[0] == [], check
