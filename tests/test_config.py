"""The settings file: what is written reads back the same (the small TOML writer, on
hostile text too), durations and budgets parse or are refused in one line."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unerased import config as cfg
from unerased.errors import UsageError


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40).filter(lambda t: t.strip() and "\n" not in t
                                               and "\r" not in t),
       st.sampled_from(["smtp.host", "smtp.username", "smtp.password", "smtp.sender"]))
def test_any_line_of_text_reads_back_as_written(text: str, key: str) -> None:
    s = cfg.set_value(cfg.Settings({}), key, text)
    back = tomllib.loads(cfg.to_toml(s.values))
    section, name = key.split(".")
    assert back[section][name] == text.strip()


def test_a_home_written_and_read_again(tmp_path: Path) -> None:
    home = tmp_path / "h"
    s = cfg.Settings({})
    for k, v in (("schedule.interval", "90s"), ("budgets.social.example:8443", "10/1m"),
                 ("streams.jetstream", "on"), ("detect.confirmations", "3"),
                 ("proxy", "socks5h://u:p@127.0.0.1:9050")):
        s = cfg.set_value(s, k, v)
    cfg.save(home, s)
    got = cfg.load(home)
    assert got.values == s.values
    assert got["schedule.interval"] == 90.0 and got["streams.jetstream"] is True
    assert got.budgets()["social.example:8443"] == (10, 60.0)
    assert got["heartbeat.interval"] == 60.0  # a default: not in the file
    assert "heartbeat" not in (home / "config.toml").read_text()


@pytest.mark.parametrize(("text", "seconds"), [("90", 90.0), ("90s", 90.0), ("15m", 900.0),
                                               ("2h", 7200.0), ("1d", 86400.0),
                                               ("1.5m", 90.0), (" 3 w ", 1814400.0)])
def test_durations(text: str, seconds: float) -> None:
    assert cfg.parse_duration(text) == seconds
    assert cfg.parse_duration(cfg.format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5m", "0", "1y", "nan", "inf", "5 minutes"])
def test_bad_durations_are_one_line(text: str) -> None:
    with pytest.raises(UsageError) as e:
        cfg.parse_duration(text, "schedule.interval")
    assert "\n" not in str(e.value) and "schedule.interval" in str(e.value)


@pytest.mark.parametrize("text", ["300", "0/5m", "x/5m", "300/", "300/often", "-1/1m"])
def test_bad_budgets(text: str) -> None:
    with pytest.raises(UsageError):
        cfg.budget_rate(text)
