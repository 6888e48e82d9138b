"""Text from platforms shown on a terminal: controls, escape sequences, bidi overrides
and invisible format characters become visible escapes; every script and emoji stays."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unerased.text.terminal import for_terminal, json_for_terminal

ZWJ, ZWNJ = "\u200d", "\u200c"
# visible "prepended concatenation marks" (Arabic number signs…): format characters
# that print a glyph
PREPENDED = frozenset("\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2"
                      "\U000110bd\U000110cd")
FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u17b4\u17b5")  # invisible "letters"
FLAG_TAGS = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")


def unsafe(ch: str, *, newline: bool = True, tab: bool = True) -> bool:
    """Judged independently of the code under test, from the Unicode database."""
    if (ch == "\n" and newline) or (ch == "\t" and tab):
        return False
    cat = unicodedata.category(ch)
    if cat in ("Cc", "Cs", "Zl", "Zp"):
        return True
    if cat == "Cf":
        return ch not in (ZWJ, ZWNJ) and ch not in PREPENDED
    return ch in FILLERS or "\U000e0000" <= ch <= "\U000e007f" or ch == "\u2065"


def no_unsafe(out: str, **kw: bool) -> bool:
    return not any(unsafe(c, **kw) for c in FLAG_TAGS.sub("", out))


@pytest.mark.parametrize("raw,shown", [
    ("evil\u202etxt.exe", "evil\\u202etxt.exe"),  # right-to-left override
    ("\u2066a\u2067b\u2068c\u2069", "\\u2066a\\u2067b\\u2068c\\u2069"),  # isolates
    ("\u202a\u202b\u202c\u202d", "\\u202a\\u202b\\u202c\\u202d"),  # embeddings
    ("\u200e\u200f\u061c", "\\u200e\\u200f\\u061c"),  # marks
    ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),  # ESC sequence
    ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),  # OSC: set the window title
    ("\x9b2J", "\\x9b2J"),  # C1 CSI: clear the screen
    ("\x85\x80\x9f", "\\x85\\x80\\x9f"),
    ("a\x7fb\x08c\x00d", "a\\x7fb\\x08c\\x00d"),
    ("safe\rEVIL", "safe\\rEVIL"),  # CR would overwrite the line
    ("one\r\ntwo", "one\ntwo"),
    ("one\ntwo\tthree", "one\ntwo\tthree"),
    ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),
    ("al\u200bice", "al\\u200bice"),  # zero-width space hides in a name
    ("\ufeffx\u2060y\u00adz", "\\ufeffx\\u2060y\\xadz"),  # as Python writes it
    ("\u3164", "\\u3164"),  # Hangul filler: a "blank" name
    ("x\U000e0041\U000e0042", "x\\U000e0041\\U000e0042"),  # tags: invisible ASCII
    ("\ud83d", "\\ud83d"),  # a lone surrogate cannot even be encoded
    ("\\u202e stays a backslash", "\\u202e stays a backslash"),
])
def test_examples(raw: str, shown: str) -> None:
    assert for_terminal(raw) == shown


def test_newlines_and_tabs_on_request() -> None:
    assert for_terminal("a\nb\tc", keep_newlines=False) == "a\\nb\tc"
    assert for_terminal("a\r\nb", keep_newlines=False) == "a\\r\\nb"
    assert for_terminal("a\nb\tc", keep_tabs=False) == "a\nb\\tc"
    assert for_terminal("a\nb\tc", keep_newlines=False, keep_tabs=False) == "a\\nb\\tc"


@pytest.mark.parametrize("text", [
    "我们删除了推特，审查无处不在。",
    "日本語のテキスト、カタカナ、ひらがな",
    "한국어 텍스트",
    "مرحبا بالعالم",  # Arabic (right-to-left by itself: no control needed)
    "שלום עולם",
    "می\u200cخواهم",  # Persian with a zero-width non-joiner
    "क्\u200dष",  # Devanagari with a zero-width joiner
    "\u0600\u0661\u0662",  # Arabic number sign
    "👨\u200d👩\u200d👧\u200d👦 family",  # ZWJ sequence
    "❤\ufe0f ✌\ufe0e",  # variation selectors
    "🏳\ufe0f\u200d🌈 👍🏽 1\ufe0f\u20e3",  # flag, skin tone, keycap
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f Scotland",  # tag sequence
    "e\u0301 Z\u0351\u0352",  # combining marks
    "\u00a0\u3000 spaces",
    "",
    "plain ASCII, with punctuation: ~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./",
])
def test_scripts_and_emoji_are_kept(text: str) -> None:
    assert for_terminal(text) == text


def test_a_broken_tag_sequence_is_escaped() -> None:
    # tags not closed by CANCEL TAG, or not after the black flag, are invisible text
    assert for_terminal("🏴\U000e0067\U000e0062") == "🏴\\U000e0067\\U000e0062"
    assert for_terminal("x\U000e0067\U000e007f") == "x\\U000e0067\\U000e007f"
    assert for_terminal("🏴\U000e007f") == "🏴\\U000e007f"


def test_every_format_character_of_this_unicode_is_decided() -> None:
    """Catches a Python whose Unicode database knows format characters this code does
    not: each one is either escaped or on the short list of visible/needed ones."""
    undecided = []
    for cp in range(0x110000):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if cat not in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            continue
        out = for_terminal(ch)
        if unsafe(ch) and (out == ch or not out.startswith("\\")):
            undecided.append(f"U+{cp:04X}")
        if not unsafe(ch) and out != ch:
            undecided.append(f"U+{cp:04X} (escaped but allowed)")
    assert undecided == []


_ANY = st.text(st.characters(codec=None, exclude_categories=()), max_size=80)
_PIECES = st.lists(st.one_of(
    _ANY,
    st.sampled_from(["\x1b[", "\u202e", "\r\n", "\r", "\n", "\t", "🏴", "\U000e007f",
                     "\U000e0061", ZWJ, "\ud800", "\x9b", "\ufeff", "\u200b", "\u2066",
                     "\x85", "\u2028", "\u3164"]),
), max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(_PIECES, st.booleans(), st.booleans())
def test_property_nothing_unsafe_gets_through(text: str, nl: bool, tab: bool) -> None:
    out = for_terminal(text, keep_newlines=nl, keep_tabs=tab)
    assert no_unsafe(out, newline=nl, tab=tab)
    out.encode("utf-8")  # printable on a UTF-8 terminal: no lone surrogate left
    assert for_terminal(out, keep_newlines=nl, keep_tabs=tab) == out  # idempotent
    if "\r" not in text:  # escaping only adds: every kept character is still there
        assert len(out) >= len(text)


_SAFE_CHARS = st.characters(codec="utf-8").filter(lambda c: not unsafe(c))


@settings(max_examples=300, deadline=None)
@given(st.text(_SAFE_CHARS, max_size=120))
def test_property_safe_text_is_unchanged(text: str) -> None:
    assert for_terminal(text) == text


def test_cost_is_linear() -> None:
    """One pass, no backtracking blow-up on long runs of what the pattern looks at."""
    import tracemalloc

    for text in ("\U0001f3f4" + "\U000e0061" * 200_000, "\x1b" * 200_000, "a" * 200_000):
        tracemalloc.start()
        out = for_terminal(text)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert len(out) <= 10 * len(text)
        assert peak < 40 * len(out) + (1 << 20)


# --------------------------------------------------------------------------- JSON


def test_json_examples() -> None:
    import json

    value = {"text": "evil\u202etxt\x9b2J\x7f \U000e0041 ok 删除 👨\u200d👩 🏴\U000e0067"
                     "\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f \x1b[31m\r\n\ud83d"}
    raw = json.dumps(value, ensure_ascii=False)
    out = json_for_terminal(raw)
    assert out == ('{"text": "evil\\u202etxt\\u009b2J\\u007f \\udb40\\udc41 ok 删除 👨\u200d👩 '
                   '🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f '
                   '\\u001b[31m\\r\\n\\ud83d"}')
    assert json.loads(out) == value
    plain = json.dumps({"a": "删除 😀", "n": [1, 2.5, None]}, ensure_ascii=False)
    assert json_for_terminal(plain) is plain


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | _PIECES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_PIECES, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_JSON_VALUES, st.sampled_from([None, 2]))
def test_property_json_keeps_the_value_and_hides_nothing(value: object,
                                                         indent: int | None) -> None:
    import json

    raw = json.dumps(value, ensure_ascii=False, indent=indent)
    out = json_for_terminal(raw)
    assert json.loads(out) == value
    assert no_unsafe(out)
    out.encode("utf-8")
