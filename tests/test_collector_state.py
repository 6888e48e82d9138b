"""The collector's key/value state (store/_state.py) and migration 0005's columns, on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from unerased.model import AccountSnapshot
from unerased.store import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_state_round_trips_json_values(store: Any) -> None:
    st: Store = store
    assert st.get_state("alerts.event_cursor") is None
    st.set_state("alerts.event_cursor", 17, T0)
    st.set_state("stream:jetstream", {"cursor": "1725911162329308", "n": [1, 2]}, T0)
    assert st.get_state("alerts.event_cursor") == 17
    assert st.get_state("stream:jetstream") == {"cursor": "1725911162329308", "n": [1, 2]}
    st.set_state("alerts.event_cursor", 42, T0 + timedelta(seconds=1))  # replaced, not added
    assert st.get_state("alerts.event_cursor") == 42


def test_state_items_by_prefix(store: Any) -> None:
    st: Store = store
    st.set_state("heartbeat:a", "2026-03-01T12:00:00Z", T0)
    st.set_state("heartbeat:b", "2026-03-01T12:01:00Z", T0)
    st.set_state("heartbeatX", 1, T0)
    st.set_state("heart_beat:c", 1, T0)  # "_" is not a wildcard
    assert st.state_items("heartbeat:") == {"heartbeat:a": "2026-03-01T12:00:00Z",
                                            "heartbeat:b": "2026-03-01T12:01:00Z"}
    assert st.state_items("heart_") == {"heart_beat:c": 1}
    assert len(st.state_items("")) == 4


def test_writer_state_commits_with_the_transaction(store: Any) -> None:
    st: Store = store
    with st.writer() as w:
        w.set_state("alerts.event_cursor", 5, T0)
        assert w.get_state("alerts.event_cursor") == 5
    assert st.get_state("alerts.event_cursor") == 5

    class Boom(Exception):
        pass

    with pytest.raises(Boom), st.writer() as w:
        w.set_state("alerts.event_cursor", 9, T0)
        raise Boom
    assert st.get_state("alerts.event_cursor") == 5  # rolled back with the rest


def test_schedule_json_is_written_with_update_account(store: Any) -> None:
    st: Store = store
    with st.writer() as w:
        row = w.upsert_account(AccountSnapshot(platform="bluesky", account_id="did:plc:x",
                                               handle="x.test"), source="test")
        w.update_account(row["id"], schedule_json='{"interval_s": 60}')
    with st.reader() as conn:
        got = conn.exec_driver_sql("SELECT schedule_json FROM accounts").scalar()
    assert got == '{"interval_s": 60}'
