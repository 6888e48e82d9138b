"""Deletions a platform's stream announced (docs/detection.md, P29…): with a direct lookup
that answers GONE they are confirmed at once; on the announcement alone, never."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detect_cases import (
    AS,
    CFG,
    CHECK_ERROR,
    ET,
    PS,
    absent,
    account_check,
    account_gone,
    active,
    at,
    err,
    forbidden,
    gone,
    known,
    listing,
    present,
    snap,
    types,
)
from unerased.model import DeletionReason, PostLookup, PostSnapshot
from unerased.watch.detect import (
    Announcement,
    detect,
    plan_lookups,
)

ROOT = Path(__file__).resolve().parent.parent
ANN = {"p1": Announcement(capture_ids=("cap-ws-delete",), at=at(-0.1))}


def streamed(pid: str, text: str = "written, then erased") -> PostSnapshot:
    """What a stream's create showed of a post (observed when the message arrived)."""
    return PostSnapshot(platform="bluesky", account_id="did:plc:alice", post_id=pid, text=text,
                        created_at=at(-0.2), observed_at=at(-0.2))


@pytest.mark.parametrize("status", [PS.PRESENT, PS.MISSING, PS.UNAVAILABLE])
def test_P29_announced_and_gone_is_deleted_at_once(status: PS) -> None:
    was = known("p1", status=status)
    if status == PS.MISSING:  # one GONE a minute ago: not a separate check, still counts
        was = replace(was, gone_count=1, first_missing=at(-0.02), last_gone=at(-0.02),
                      evidence=("cap-gone-before",))
    d = detect(active(), {"p1": was}, account_check(), listing(snap("p2")),
               [gone("p1", DeletionReason.USER_DELETED)], at(0), CFG, announced=ANN)
    assert types(d) == [ET.POST_DELETED]
    e = d.events[0]
    assert e.post_id == "p1" and d.posts["p1"].status == PS.DELETED
    assert e.detail["announced"] is True and e.detail["announced_at"] == "2024-06-01T11:54:00Z"
    assert e.detail["reason"] == "user_deleted"
    assert e.detail["confirmations"] == (2 if status == PS.MISSING else 1)
    assert "cap-ws-delete" in e.evidence and "cap-gone-p1" in e.evidence
    assert e.evidence[0] == "cap-seen-p1"  # the last captures that showed it, first
    if status == PS.MISSING:
        assert e.detail["first_missing"] == "2024-06-01T11:58:48Z"  # the earlier GONE
    else:  # the stream said so before the lookup did
        assert e.detail["first_missing"] == "2024-06-01T11:54:00Z"
    # without the announcement the same answer is only a suspicion (P7) or not due (P15)
    d2 = detect(active(), {"p1": was}, account_check(), listing(snap("p2")),
                [gone("p1")], at(0), CFG)
    assert types(d2) == []


def test_P30_created_and_deleted_between_polls_is_archived_then_deleted() -> None:
    stream = listing(streamed("p9"), complete=False, cap="cap-ws-create")
    d = detect(active(), {}, account_check(), stream, [gone("p9")], at(0), CFG,
               announced={"p9": ("cap-ws-delete",)})
    assert [v.text for v in d.new_versions] == ["written, then erased"]
    assert d.new_versions[0].observed_at == at(-0.2)
    assert types(d) == [ET.POST_DELETED]
    e = d.events[0]
    assert e.detail["last_seen"] == "2024-06-01T11:48:00Z"  # when the stream showed it
    assert e.detail["first_missing"] == "2024-06-01T12:00:00Z"  # no time given: the lookup's
    assert e.detail["announced"] is True and e.detail["announced_at"] is None
    assert e.evidence == ("cap-ws-create", "cap-gone-p9", "cap-ws-delete")
    st = d.posts["p9"]
    assert st.status == PS.DELETED and st.content_hash == streamed("p9").content_hash()


def test_P30_an_edit_the_stream_showed_before_the_delete_is_kept() -> None:
    stream = listing(streamed("p1", "hello, edited"), complete=False, cap="cap-ws-update")
    d = detect(active(), {"p1": known("p1")}, account_check(), stream, [gone("p1")], at(0), CFG,
               announced=ANN)
    assert types(d) == [ET.POST_EDITED, ET.POST_DELETED]
    assert [v.text for v in d.new_versions] == ["hello, edited"]


@pytest.mark.parametrize("held", [None, PS.PRESENT, PS.MISSING])
def test_P31_announced_but_present_is_a_false_alarm(held: PS | None) -> None:
    posts = {} if held is None else {"p1": known("p1", status=held)}
    d = detect(active(), posts, account_check(), None, [present("p1")], at(0), CFG,
               announced=ANN)
    assert d.events == []
    assert d.posts["p1"].status == PS.PRESENT and d.posts["p1"].gone_count == 0
    # a PRESENT lookup beside a GONE one in the same check: PRESENT wins, as ever
    d = detect(active(), posts, account_check(), None, [gone("p1"), present("p1")], at(0), CFG,
               announced=ANN)
    assert [e for e in d.events if e.type == ET.POST_DELETED] == []


def test_P32_announced_but_not_confirmed_is_never_deleted() -> None:
    posts = {"p1": known("p1"), "p2": known("p2"), "p3": known("p3")}
    ann = {pid: ("cap-ws",) for pid in ("p1", "p2", "p3", "p4")}
    stream = listing(streamed("p4"), complete=False, cap="cap-ws-create")
    d = detect(active(), posts, account_check(), stream,
               [err("p1"), forbidden("p2"), err("p4")], at(0), CFG, announced=ann)
    assert d.events == []
    assert "p1" not in d.posts  # unchanged (P8), p3 not looked up at all
    assert d.posts["p2"].status == PS.PRESENT and (d.posts["p2"].note or "").startswith("forb")
    assert d.posts["p4"].status == PS.PRESENT  # what the stream showed, kept (P1)


def test_P33_announced_but_the_lookup_answers_about_the_account() -> None:
    d = detect(active(), {"p1": known("p1")}, account_check(), None, [account_gone("p1")],
               at(0), CFG, announced=ANN)
    assert d.events == [] and d.account_recheck and "p1" not in d.posts


@pytest.mark.parametrize("case", ["hidden", "pending", "failed"])
def test_P34_announced_while_the_account_is_not_visible_deletes_nothing(case: str) -> None:
    check = {"hidden": account_check(AS.SUSPENDED, words="Account suspended"),
             "pending": absent(), "failed": CHECK_ERROR}[case]
    d = detect(active(), {"p1": known("p1")}, check, None, [gone("p1")], at(0), CFG,
               announced=ANN)
    assert [e for e in d.events if e.post_id] == []
    if case == "hidden":  # the account's own event, at once (explicit), posts unavailable
        assert types(d) == [ET.ACCOUNT_SUSPENDED]
        assert d.posts["p1"].status == PS.UNAVAILABLE
    else:
        assert "p1" not in d.posts


def test_P35_announced_and_gone_but_never_seen_creates_nothing() -> None:
    d = detect(active(), {}, account_check(), None, [gone("x1")], at(0), CFG,
               announced={"x1": ("cap-ws",)})
    assert d.posts == {} and d.events == [] and d.new_versions == []


def test_P36_announced_again_after_the_deletion_is_not_a_second_event() -> None:
    was = known("p1", status=PS.DELETED, deleted_at=at(-1))
    stream = listing(streamed("p1"), complete=False)
    d = detect(active(), {"p1": was}, account_check(), stream, [gone("p1")], at(0), CFG,
               announced=ANN)
    assert d.events == [] and d.posts == {}


def test_announced_as_a_frozenset_of_ids_works_too() -> None:
    d = detect(active(), {"p1": known("p1")}, account_check(), None, [gone("p1")], at(0), CFG,
               announced=frozenset({"p1"}))
    assert types(d) == [ET.POST_DELETED]
    assert d.events[0].evidence == ("cap-seen-p1", "cap-gone-p1")


def test_plan_lookups_puts_announced_ids_first_even_when_not_due() -> None:
    posts = {
        "old": known("old", status=PS.MISSING, gone_count=1, first_missing=at(-2),
                     last_gone=at(-1)),
        "just": known("just", status=PS.MISSING, gone_count=1, first_missing=at(-0.01),
                      last_gone=at(-0.01)),
        "done": known("done", status=PS.DELETED, deleted_at=at(-1)),
        "listed": known("listed"),
    }
    ann = frozenset({"just", "new", "done", "listed"})
    plan = plan_lookups(posts, listing(snap("listed")), active(), at(0), CFG, announced=ann)
    assert sorted(plan[:3]) == ["just", "listed", "new"] and plan[3:] == ["old"]
    assert plan_lookups(posts, listing(snap("listed")), active(), at(0), CFG) == ["old"]
    hidden = active(status=AS.SUSPENDED)
    assert plan_lookups(posts, None, hidden, at(0), CFG, announced=ann) == []


def test_every_row_of_docs_detection_has_a_test() -> None:
    """Each row of the state machines (A1…, P1…) names a test ``test_<row>_…`` (or a range
    ``test_A4_to_A7_…``) in tests/test_detect_*.py."""
    rows = re.findall(r"^\| ([AP]\d+) \|", (ROOT / "docs" / "detection.md").read_text(),
                      re.MULTILINE)
    assert len(rows) >= 31 + 36 and "P36" in rows
    covered: set[str] = set()
    for f in (ROOT / "tests").glob("test_detect_*.py"):
        for name in re.findall(r"^def test_((?:[AP]\d+_(?:to_)?)+)", f.read_text(), re.MULTILINE):
            ids = re.findall(r"([AP])(\d+)", name)
            covered |= {k + n for k, n in ids}
            if "_to_" in name and len(ids) == 2 and ids[0][0] == ids[1][0]:
                covered |= {ids[0][0] + str(i) for i in range(int(ids[0][1]), int(ids[1][1]))}
    assert [r for r in rows if r not in covered] == []


_ANSWERS = st.lists(st.sampled_from(["gone", "present", "error", "forbidden", "account_gone"]),
                    max_size=3)


@settings(max_examples=300, deadline=None)
@given(answers=_ANSWERS, held=st.sampled_from([None, PS.PRESENT, PS.MISSING, PS.UNAVAILABLE,
                                               PS.DELETED]),
       check=st.sampled_from(["active", "hidden", "pending", "failed"]),
       streamed_first=st.booleans())
def test_an_announcement_deletes_only_with_an_uncontradicted_gone(
        answers: list[str], held: PS | None, check: str, streamed_first: bool) -> None:
    """Whatever the stream says, ``post_deleted`` comes only from a GONE that nothing in
    the check contradicts, while the account is visible, for a post we have seen."""
    make: dict[str, Callable[[str], PostLookup]] = {"gone": gone, "present": present, "error": err, "forbidden": forbidden,
            "account_gone": account_gone}
    lookups = [make[a]("p1") for a in answers]
    posts = {} if held is None else {"p1": known("p1", status=held, deleted_at=at(-1))}
    acct_check = {"active": account_check(), "hidden": account_check(AS.DEACTIVATED),
                  "pending": absent(), "failed": CHECK_ERROR}[check]
    stream = listing(streamed("p1"), complete=False) if streamed_first else None
    d = detect(active(), posts, acct_check, stream, lookups, at(0), CFG, announced=ANN)
    deleted_events = [e for e in d.events if e.type == ET.POST_DELETED]
    expect = (check == "active" and set(answers) & {"gone"} == {"gone"}
              and not set(answers) & {"present", "forbidden", "account_gone"}
              and held != PS.DELETED and (held is not None or streamed_first))
    assert len(deleted_events) == (1 if expect else 0)
    if expect:
        assert d.posts["p1"].status == PS.DELETED and deleted_events[0].detail["announced"]
