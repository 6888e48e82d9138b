"""text.hostile's one-line helper: what sources put into their error messages."""

from __future__ import annotations

from unerased.text.hostile import first_line


def test_first_line_collapses_every_whitespace_run() -> None:
    assert first_line(" a\n\tb  c\r\n\u2028d ") == "a b c d"
    assert first_line("x" * 5000) == "x" * 5000  # no limit unless asked


def test_first_line_with_a_limit_cuts_with_an_ellipsis() -> None:
    assert first_line("x" * 10, 10) == "x" * 10
    assert first_line("x" * 11, 10) == "x" * 9 + "…"
    line = first_line("word\n" * 100, 300)
    assert len(line) == 300 and line.endswith("…") and "\n" not in line
