"""The one-line helpers: text.hostile.first_line (what sources put into their error
messages) and errors.exception_line (a library's exception inside one)."""

from __future__ import annotations

from unerased.errors import exception_line
from unerased.text.hostile import first_line


def test_first_line_collapses_every_whitespace_run() -> None:
    assert first_line(" a\n\tb  c\r\n\u2028d ") == "a b c d"
    assert first_line("x" * 5000) == "x" * 5000  # no limit unless asked


def test_first_line_with_a_limit_cuts_with_an_ellipsis() -> None:
    assert first_line("x" * 10, 10) == "x" * 10
    assert first_line("x" * 11, 10) == "x" * 9 + "…"
    line = first_line("word\n" * 100, 300)
    assert len(line) == 300 and line.endswith("…") and "\n" not in line


def test_exception_line_is_the_first_line_or_the_type() -> None:
    assert exception_line(ValueError("  bad header\n  at byte 7\n")) == "bad header"
    assert exception_line(EOFError()) == "EOFError"
    assert exception_line(ValueError("\n \n")) == "ValueError"
    assert exception_line(ValueError("x" * 500)) == "x" * 200
    assert exception_line(ValueError("x" * 500), 10) == "x" * 10
