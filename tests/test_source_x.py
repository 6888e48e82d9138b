"""XSource against real recorded X API v2 answers (tests/recorded.py).

Recordings: tweepy cassettes (with headers) and twarc-csv pages (bodies only, status 200
implied). Cases never recorded are built by hand — from a recorded error object where one
exists, else from the X docs — and say so where they are used.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from recorded import TESTDATA, Exchange, Replay, load, make, raising, truncated
from unerased.errors import SourceError
from unerased.model import (
    AccountStatus,
    DeletionReason,
    LookupResult,
    StatusBasis,
    canonical_json,
    parse_iso,
)
from unerased.sources._base import Recorder
from unerased.sources.x import XSource, parse_username, problems, snowflake_time

TOKEN = "AAAA-test-bearer-token-0123456789"
PROBLEM = "application/problem+json"


def go(
    replay: Replay, action: Callable[[XSource], Awaitable[Any]], **config: Any
) -> tuple[Any, Recorder, XSource]:
    config.setdefault("token", TOKEN)
    config.setdefault("service", "https://api.twitter.com")  # where the recordings were made

    async def main() -> tuple[Any, Recorder, XSource]:
        async with replay.client() as client:
            rec = Recorder(client)
            src = XSource(rec, **config)
            return await action(src), rec, src

    return asyncio.run(main())


def body_json(**body: Any) -> Exchange:
    return make(200, body, headers=[("content-type", "application/json; charset=utf-8")])


def recorded_error(name: str, index: int = 0, **changes: Any) -> dict[str, Any]:
    """A real error object from a recording, optionally re-aimed (parameter, detail…)."""
    data = json.loads(load(name).body)
    err: dict[str, Any] = copy.deepcopy(data["errors"][index])
    err.update(changes)
    return err


def excerpt_error(page: int) -> dict[str, Any]:
    data = json.loads((TESTDATA / "x/errors_suspended_protected_deleted_excerpt.json").read_text())
    err: dict[str, Any] = copy.deepcopy(data["pages"][page]["errors"][0])
    return err


# --- identities ---------------------------------------------------------------------


def test_parse_username() -> None:
    assert parse_username("x:TwitterDev") == "TwitterDev"
    assert parse_username("@jack") == "jack"
    assert parse_username("https://twitter.com/jack") == "jack"
    assert parse_username("https://x.com/jack/") == "jack"
    for bad in ("x:", "x:a b", "x:../users", "x:a/b", "https://evil.example/jack"):
        with pytest.raises(SourceError):
            parse_username(bad)


def test_snowflake_time_matches_recorded_created_at() -> None:
    latest = load("x/tweets_lookup_edited_latest_id.json").json()["data"][0]
    assert snowflake_time(latest["id"]) == parse_iso(latest["created_at"])
    assert snowflake_time("25712847277") is None  # 2010, before snowflake


# --- resolve ------------------------------------------------------------------------


def test_resolve_recorded_user() -> None:
    ex = load("x/users_by_username_200.json")
    replay = Replay()
    replay.add(ex)
    snap, rec, _ = go(replay, lambda s: s.resolve("x:Twitter"))
    assert snap.account_id == "783214" and snap.handle == "Twitter"
    assert snap.status is AccountStatus.ACTIVE and snap.url == "https://x.com/Twitter"
    req = replay.requests[0]
    assert "protected" in req.url.params["user.fields"]
    [cap] = rec.captures
    assert cap.status == 200 and cap.body == ex.body
    assert cap.request_headers["authorization"] == "[redacted]"
    assert TOKEN.encode() not in canonical_json(cap.record())
    assert req.headers["authorization"] == f"Bearer {TOKEN}"


def test_token_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNERASED_X_BEARER_TOKEN", "from-env")
    replay = Replay()
    replay.add(load("x/users_by_username_200.json"))
    go(replay, lambda s: s.resolve("Twitter"), token=None)
    assert replay.requests[0].headers["authorization"] == "Bearer from-env"


def test_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNERASED_X_BEARER_TOKEN", raising=False)
    replay = Replay()
    with pytest.raises(SourceError, match="no bearer token"):
        go(replay, lambda s: s.resolve("x:Twitter"), token=None)
    looks, rec, _ = go(replay, lambda s: s.lookup_posts("783214", ["1"]), token=None)
    assert looks[0].result is LookupResult.ERROR and rec.captures == []


def test_resolve_bad_token_is_one_clear_line() -> None:
    # no 401 was kept in the recordings; this is the body shape the X docs give
    replay = Replay()
    replay.add(make(401, {"title": "Unauthorized", "type": "about:blank", "status": 401,
                          "detail": "Unauthorized"}, headers=[("content-type", PROBLEM)]),
               method="GET", path="/2/users/by/username/Twitter")
    with pytest.raises(SourceError) as e:
        go(replay, lambda s: s.resolve("x:Twitter"))
    assert str(e.value).startswith("x: the bearer token was refused (401)")
    assert "\n" not in str(e.value)


def test_resolve_unknown_user_200_errors_and_404() -> None:
    # the recorded "Could not find user" object (users lookup), aimed at a username
    err = recorded_error("x/users_lookup_ids_partial_errors.json", 3, parameter="username",
                         value="nosuchuser", resource_id="nosuchuser",
                         detail="Could not find user with username: [nosuchuser].")
    for status in (200, 404):  # recordings: 200 + errors; today's docs: 404
        replay = Replay()
        replay.add(make(status, {"errors": [err]}), method="GET", path="/2/users/by/username/nosuchuser")
        with pytest.raises(SourceError) as e:
            go(replay, lambda s: s.resolve("x:nosuchuser"))
        assert str(e.value) == "x: no user @nosuchuser (X says: Could not find user with username: [nosuchuser].)"


def test_resolve_suspended_user() -> None:
    # recorded suspended-user error object (from an expansion), aimed at the username
    err = excerpt_error(0)
    err["parameter"] = "username"
    replay = Replay()
    replay.add(body_json(errors=[err]), method="GET", path="/2/users/by/username/leeseunggi")
    with pytest.raises(SourceError, match=r"@leeseunggi is suspended \(X says: User has been suspended"):
        go(replay, lambda s: s.resolve("x:leeseunggi"))


def test_resolve_wrong_service_and_unreachable() -> None:
    replay = Replay()
    replay.add(make(200, "<html><body>Welcome</body></html>", headers=[("content-type", "text/html")]),
               method="GET", path="/2/users/by/username/Twitter")
    with pytest.raises(SourceError, match="did not answer like the X API.*check --service"):
        go(replay, lambda s: s.resolve("x:Twitter"))
    replay = Replay()
    replay.add(raising(httpx.ConnectError, "[Errno 111] Connection refused"),
               method="GET", path="/2/users/by/username/Twitter")
    with pytest.raises(SourceError, match="^x: cannot reach https://api.twitter.com: ConnectError"):
        go(replay, lambda s: s.resolve("x:Twitter"))


# --- check_account ------------------------------------------------------------------


def _users_page() -> dict[str, Any]:
    return load("x/users_lookup_ids_partial_errors.json").json()  # type: ignore[no-any-return]


def test_check_account_protected_user() -> None:
    user = next(u for u in _users_page()["data"] if u.get("protected"))
    replay = Replay()
    replay.add(body_json(data=user), method="GET", path=f"/2/users/{user['id']}")
    check, _, _ = go(replay, lambda s: s.check_account(user["id"]))
    assert check.snapshot is not None and check.snapshot.status is AccountStatus.PROTECTED
    assert check.snapshot.basis is StatusBasis.EXPLICIT  # "protected": true
    assert check.snapshot.handle == "charredbrisket"


def test_check_account_deleted_and_suspended() -> None:
    gone = recorded_error("x/users_lookup_ids_partial_errors.json", 3)  # Could not find user with ids
    assert gone["resource_id"] == "93071130"
    for status in (200, 404):
        replay = Replay()
        replay.add(make(status, {"errors": [gone]}), method="GET", path="/2/users/93071130")
        check, rec, _ = go(replay, lambda s: s.check_account("93071130"))
        assert check.snapshot is not None and check.snapshot.status is AccountStatus.DELETED
        assert check.snapshot.basis is StatusBasis.ABSENCE  # "Could not find user"
        assert check.capture_ids == [rec.captures[0].id]

    susp = excerpt_error(0)
    susp.update(parameter="id", resource_id="1234", value="1234")
    replay = Replay()
    replay.add(body_json(errors=[susp]), method="GET", path="/2/users/1234")
    check, _, _ = go(replay, lambda s: s.check_account("1234"))
    assert check.snapshot is not None and check.snapshot.status is AccountStatus.SUSPENDED
    assert check.snapshot.basis is StatusBasis.EXPLICIT  # "User has been suspended"
    assert "suspended" in check.snapshot.profile["x_problem"]


def test_check_account_expansion_errors_do_not_count() -> None:
    # a real user answer whose pinned tweet is gone: the account is fine
    page = _users_page()
    pinned_err = page["errors"][0]
    user = next(u for u in page["data"] if u.get("pinned_tweet_id") == pinned_err["resource_id"])
    replay = Replay()
    replay.add(body_json(data=user, errors=[pinned_err]), method="GET", path=f"/2/users/{user['id']}")
    check, _, _ = go(replay, lambda s: s.check_account(user["id"]))
    assert check.snapshot is not None and check.snapshot.status is AccountStatus.ACTIVE


@pytest.mark.parametrize("answer", [
    make(503, "<html>Over capacity</html>"),
    raising(httpx.ReadTimeout),
    truncated(load("x/users_by_username_200.json")),
    make(404, "<html>not found</html>", headers=[("content-type", "text/html")]),
    make(403, {"title": "Client Forbidden", "type": "https://api.twitter.com/2/problems/client-forbidden",
               "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys "
                         "and tokens from a Twitter developer App that is attached to a Project.",
               "reason": "client-not-enrolled"}),
])
def test_check_account_without_usable_answer_is_error(answer: Any) -> None:
    replay = Replay()
    replay.add(answer, method="GET", path="/2/users/783214", query={})
    check, rec, _ = go(replay, lambda s: s.check_account("783214"))
    assert check.snapshot is None and check.error and "\n" not in check.error
    assert check.capture_ids == [rec.captures[0].id]


# --- list_posts ---------------------------------------------------------------------


def test_list_posts_paginates_with_next_token() -> None:
    page1 = load("x/users_tweets_200_next_token.json")
    token = page1.json()["meta"]["next_token"]
    replay = Replay()
    replay.add(page1)
    # the next page was not recorded; the end of a timeline is meta without next_token
    replay.add(body_json(meta={"result_count": 0}), method="GET", path="/2/users/783214/tweets",
               query={"pagination_token": token})
    listing, rec, _ = go(replay, lambda s: s.list_posts("783214"))
    assert [r.url.params.get("pagination_token") for r in replay.requests] == [None, token]
    assert replay.requests[0].url.params["max_results"] == "100"
    assert [p.post_id for p in listing.posts] == ["1577730467436138524", "1565318587736285184"]
    assert listing.complete and listing.window_start is None
    assert listing.capture_ids == [c.id for c in rec.captures]
    assert listing.posts[0].version_key == "1577730467436138524"


def test_list_posts_recorded_100_page() -> None:
    ex = load("x/users_tweets_page_100_next_previous_token.json")
    replay = Replay()
    replay.add(ex, query={})
    listing, _, _ = go(replay, lambda s: s.list_posts("2351222345", max_pages=1))
    assert len(listing.posts) == 100
    # the page's own error is about a referenced tweet, not the timeline
    assert listing.complete and listing.error is None
    assert listing.window_start == parse_iso("2020-04-14T16:22:07Z")
    kinds = {p.post_id: p.kind for p in listing.posts}
    assert kinds["1257786232978968578"] == "repost" and kinds["1257712972564180997"] == "reply"
    with_media = next(p for p in listing.posts if p.post_id == "1257123246484447232")
    assert with_media.media[0].kind == "video"
    assert with_media.media[0].url is not None and "amplify_video_thumb" in with_media.media[0].url


def test_list_posts_since_uses_start_time_and_bounds_window() -> None:
    page1 = load("x/users_tweets_200_next_token.json")
    since = datetime(2022, 9, 1, 12, 30, 15, 123456, tzinfo=UTC)
    replay = Replay()
    replay.add(page1.with_body(json.dumps({"data": page1.json()["data"],
                                           "meta": {"result_count": 2}}).encode()), query={})
    listing, _, _ = go(replay, lambda s: s.list_posts("783214", since=since))
    assert replay.requests[0].url.params["start_time"] == "2022-09-01T12:30:15Z"
    assert listing.complete and listing.window_start == since


def test_list_posts_protected_or_suspended_timeline_is_incomplete() -> None:
    # never recorded: the docs' authorization error for a protected user's timeline
    err = {"title": "Authorization Error", "resource_type": "user", "parameter": "id",
           "resource_id": "3288417496", "value": "3288417496",
           "detail": "Sorry, you are not authorized to see the user with id: [3288417496].",
           "type": "https://api.twitter.com/2/problems/not-authorized-for-resource"}
    replay = Replay()
    replay.add(body_json(errors=[err]), method="GET", path="/2/users/3288417496/tweets")
    listing, _, _ = go(replay, lambda s: s.list_posts("3288417496"))
    assert not listing.complete and listing.posts == []
    assert "not authorized" in (listing.error or "")


@pytest.mark.parametrize("failure", [
    make(500, {"title": "Internal Server Error"}), raising(httpx.ReadTimeout),
    truncated(load("x/users_tweets_200_next_token.json")),
])
def test_list_posts_second_page_failure(failure: Any) -> None:
    page1 = load("x/users_tweets_200_next_token.json")
    replay = Replay()
    replay.add(page1)
    replay.add(failure, method="GET", path="/2/users/783214/tweets",
               query={"pagination_token": page1.json()["meta"]["next_token"]})
    listing, rec, _ = go(replay, lambda s: s.list_posts("783214"))
    assert not listing.complete and len(listing.posts) == 2 and listing.error
    assert len(listing.capture_ids) == 2 == len(rec.captures)


# --- lookups ------------------------------------------------------------------------


def test_lookup_all_found() -> None:
    replay = Replay()
    replay.add(load("x/tweets_lookup_200_all_found.json"))
    looks, rec, _ = go(replay, lambda s: s.lookup_posts("783214", ["1293593516040269825", "1293595870563381249"]))
    assert [lk.result for lk in looks] == [LookupResult.PRESENT] * 2
    assert len(replay.requests) == 1 and looks[0].capture_ids == [rec.captures[0].id]
    assert looks[0].snapshot is not None and "new #TwitterAPI" in looks[0].snapshot.text


def test_lookup_withheld_is_present_and_kept_in_raw() -> None:
    replay = Replay()
    replay.add(load("x/tweets_lookup_withheld_in_IN.json"), query={"ids": "1388424788171841537"})
    replay.add(load("x/tweets_lookup_withheld_in_DE_FR.json"), query={"ids": "25712847277"})
    async def separately(s: XSource) -> list[Any]:  # as recorded: one request each
        return [*await s.lookup_posts("1", ["1388424788171841537"]),
                *await s.lookup_posts("1", ["25712847277"])]

    looks, _, _ = go(replay, separately)
    assert [lk.result for lk in looks] == [LookupResult.PRESENT] * 2
    assert looks[0].snapshot is not None and looks[0].snapshot.raw is not None
    assert looks[0].snapshot.raw["withheld"]["country_codes"] == ["IN"]
    assert looks[1].snapshot is not None and looks[1].snapshot.raw is not None
    assert looks[1].snapshot.raw["withheld"]["country_codes"] == ["DE", "FR"]


def test_lookup_referenced_tweet_gone_does_not_make_the_tweet_gone() -> None:
    replay = Replay()
    replay.add(load("x/tweets_lookup_referenced_tweet_deleted.json"), query={"ids": "506695756406095872"})
    [look], _, _ = go(replay, lambda s: s.lookup_posts("1", ["506695756406095872"]))
    assert look.result is LookupResult.PRESENT


def test_lookup_edit_chain_fetches_latest_version() -> None:
    replay = Replay()
    replay.add(load("x/tweets_lookup_edited_original_id.json"), query={"ids": "1576994746135764992"})
    replay.add(load("x/tweets_lookup_edited_latest_id.json"), query={"ids": "1576994789110992896"})
    [look], rec, _ = go(replay, lambda s: s.lookup_posts("337119125", ["1576994746135764992"]))
    assert look.result is LookupResult.PRESENT and look.snapshot is not None
    snap = look.snapshot
    assert snap.post_id == "1576994746135764992"
    assert snap.version_key == "1576994789110992896"
    assert snap.text == "hey :) https://t.co/rnwEIoNuqd"
    assert snap.edited_at == parse_iso("2022-10-03T17:57:11Z")
    assert snap.created_at == parse_iso("2022-10-03T17:57:01Z")
    assert look.capture_ids == [c.id for c in rec.captures] and len(rec.captures) == 2


def test_original_version_snapshot() -> None:
    replay = Replay()
    replay.add(load("x/tweets_lookup_edited_original_id.json"), query={"ids": "1576994746135764992"})
    replay.add(make(503, b""), method="GET", path="/2/tweets", query={"ids": "1576994789110992896"})
    [look], _, _ = go(replay, lambda s: s.lookup_posts("337119125", ["1576994746135764992"]))
    # the latest version could not be read: the original version still shows presence
    assert look.result is LookupResult.PRESENT and look.snapshot is not None
    assert look.snapshot.version_key == "1576994746135764992"
    assert look.snapshot.media[0].url == "https://pbs.twimg.com/media/FeKcHsVaUAEYpU_.jpg"
    assert look.snapshot.media[0].alt == "selfie of me with memoji"


def test_lookup_not_found_200_errors_and_404_both_gone() -> None:
    # "Could not find tweet" with parameter ids: the recorded object, aimed at the ids
    err = recorded_error("x/tweets_lookup_referenced_tweet_deleted.json", 0, parameter="ids",
                         detail="Could not find tweet with ids: [506694458445152256].")
    replay = Replay()
    replay.add(body_json(errors=[err]), method="GET", path="/2/tweets", query={"ids": "506694458445152256"})
    [look], rec, _ = go(replay, lambda s: s.lookup_posts("1", ["506694458445152256"]))
    assert look.result is LookupResult.GONE and look.reason is DeletionReason.UNKNOWN
    assert look.detail == "Could not find tweet with ids: [506694458445152256]."
    assert look.capture_ids == [rec.captures[0].id]

    # today's docs: 404 with a bare problem object
    replay = Replay()
    replay.add(make(404, {"title": "Not Found Error", "detail": "Could not find tweet with id: [42].",
                          "type": "https://api.x.com/2/problems/resource-not-found"},
                    headers=[("content-type", PROBLEM)]), method="GET", path="/2/tweets")
    [look], rec, _ = go(replay, lambda s: s.lookup_posts("1", ["42"]))
    assert look.result is LookupResult.GONE and rec.captures[0].status == 404


def test_lookup_mixed_batch_protected_and_suspended() -> None:
    found = load("x/tweets_lookup_200_all_found.json").json()["data"][0]
    forbidden = recorded_error("x/users_lookup_ids_partial_errors.json", 2, parameter="ids",
                               resource_id="111", value="111")
    forbidden.pop("section")
    susp = excerpt_error(0)
    susp.update(parameter="ids", resource_id="222", value="222", resource_type="tweet")
    replay = Replay()
    replay.add(body_json(data=[found], errors=[forbidden, susp]), method="GET", path="/2/tweets")
    looks, _, _ = go(replay, lambda s: s.lookup_posts("1", [found["id"], "111", "222", "333"]))
    assert [lk.result for lk in looks] == [LookupResult.PRESENT, LookupResult.FORBIDDEN,
                                           LookupResult.ACCOUNT_GONE, LookupResult.ERROR]


def test_lookup_batches_of_100() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        ids = request.url.params["ids"].split(",")
        return httpx.Response(200, json={"errors": [
            {"resource_id": i, "parameter": "ids", "title": "Not Found Error",
             "detail": f"Could not find tweet with ids: [{i}].",
             "type": "https://api.twitter.com/2/problems/resource-not-found"} for i in ids]})

    replay = Replay()
    replay.add(answer, method="GET", path="/2/tweets")
    wanted = [str(10_000 + i) for i in range(150)]
    looks, rec, _ = go(replay, lambda s: s.lookup_posts("1", wanted))
    assert [len(r.url.params["ids"].split(",")) for r in replay.requests] == [100, 50]
    assert all(lk.result is LookupResult.GONE for lk in looks) and len(looks) == 150
    assert looks[120].capture_ids == [rec.captures[1].id]


@pytest.mark.parametrize("answer", [
    make(500, b""), make(502, "<html>bad gateway</html>"), raising(httpx.ReadTimeout),
    raising(httpx.RemoteProtocolError, "peer closed connection"),
    truncated(load("x/tweets_lookup_200_all_found.json")),
    make(200, {"meta": {}}),
])
def test_lookup_without_usable_answer_is_error_never_gone(answer: Any) -> None:
    replay = Replay()
    replay.add(answer, method="GET", path="/2/tweets", query={})
    looks, rec, _ = go(replay, lambda s: s.lookup_posts("1", ["1293593516040269825", "7"]))
    assert [lk.result for lk in looks] == [LookupResult.ERROR] * 2
    [cap] = rec.captures
    assert all(lk.capture_ids == [cap.id] for lk in looks)


# --- rate limits --------------------------------------------------------------------


def test_remaining_zero_blocks_until_reset() -> None:
    # the recorded answer with x-rate-limit-remaining changed from "299" to "0"
    ex = load("x/users_by_username_200.json").with_headers(x_rate_limit_remaining="0")
    reset = datetime.fromtimestamp(int(ex.header("x-rate-limit-reset") or 0), UTC)
    clock = [datetime(2021, 4, 13, 3, 53, 58, tzinfo=UTC)]  # the recording's Date header
    replay = Replay()
    replay.add(ex)

    async def calls(s: XSource) -> list[Any]:
        first = await s.resolve("x:Twitter")
        try:
            await s.resolve("x:Twitter")
            second: Any = None
        except SourceError as e:
            second = e
        blocked_until = s.retry_after
        clock[0] = reset
        third = await s.resolve("x:Twitter")
        return [first, second, blocked_until, third]

    (first, second, until, third), rec, _ = go(replay, calls, clock=lambda: clock[0])
    assert first.account_id == "783214" and third.account_id == "783214"
    assert isinstance(second, SourceError) and "rate limited" in str(second)
    assert until == reset == datetime(2021, 4, 13, 4, 8, 58, tzinfo=UTC)
    assert len(rec.captures) == 2  # the blocked call was never sent


def test_rate_limit_is_per_endpoint() -> None:
    ex = load("x/users_by_username_200.json").with_headers(x_rate_limit_remaining="0")
    now = datetime(2021, 4, 13, 3, 54, tzinfo=UTC)
    replay = Replay()
    replay.add(ex)
    replay.add(load("x/tweets_lookup_200_all_found.json"))

    async def calls(s: XSource) -> Any:
        await s.resolve("x:Twitter")
        return await s.lookup_posts("783214", ["1293593516040269825", "1293595870563381249"])

    looks, _, src = go(replay, calls, clock=lambda: now)
    assert all(lk.result is LookupResult.PRESENT for lk in looks)
    assert set(src.rate_limits) == {"users/by/username"}


def test_429_is_error_and_backs_off() -> None:
    ex = load("x/rate_limited_429.json")
    now = datetime(2022, 10, 7, 22, 43, tzinfo=UTC)
    replay = Replay()
    replay.add(ex, method="GET", path="/2/tweets", query={})
    looks, rec, src = go(replay, lambda s: s.lookup_posts("1", ["5"]), clock=lambda: now)
    assert looks[0].result is LookupResult.ERROR and "rate limited" in (looks[0].detail or "")
    # the recorded 429 names no reset: the default 15-minute window applies
    assert src.retry_after == datetime(2022, 10, 7, 22, 58, tzinfo=UTC)
    assert rec.captures[0].status == 429 and rec.captures[0].body == ex.body

    # with the headers the X docs say a 429 carries (never recorded)
    ex2 = ex.with_headers(x_rate_limit_limit="300", x_rate_limit_remaining="0",
                          x_rate_limit_reset="1665183228")
    replay = Replay()
    replay.add(ex2, method="GET", path="/2/tweets", query={})

    async def twice(s: XSource) -> Any:
        await s.lookup_posts("1", ["5"])
        return await s.lookup_posts("1", ["6"])

    [look], rec, src = go(replay, twice, clock=lambda: now)
    assert look.result is LookupResult.ERROR and look.capture_ids == []
    assert len(rec.captures) == 1
    assert src.retry_after == datetime.fromtimestamp(1665183228, UTC)


def test_media_fetch_never_sends_the_token() -> None:
    replay = Replay()
    replay.add(make(200, b"\xff\xd8jpeg"), method="GET", path="/media/FeKcHsVaUAEYpU_.jpg")
    data, rec, _ = go(replay, lambda s: s.fetch_media("https://pbs.twimg.com/media/FeKcHsVaUAEYpU_.jpg"))
    assert data == b"\xff\xd8jpeg"
    assert "authorization" not in replay.requests[0].headers
    assert rec.captures[0].body == b"\xff\xd8jpeg"


def test_problems_reader_is_defensive() -> None:
    assert problems(None) == [] and problems([1, 2]) == [] and problems({"errors": "x"}) == []
    ps = problems({"errors": [{"detail": 5, "resource_id": 12}, "junk"]})
    assert len(ps) == 1 and ps[0].resource_id == "12" and ps[0].kind == "other"
