"""Platform text made safe to print on a terminal. Pure: no I/O.

Anyone can post text holding terminal escape sequences (set the window title, clear the
screen, rewrite a line), a carriage return that overwrites what came before it, bidi
overrides that show ``exe.txt`` for ``txt.exe`` or reorder a line of a listing, or
invisible characters that make two names look the same. :func:`for_terminal` shows
every such character as a visible escape (``\\u202e``, ``\\x1b``) and leaves all the
rest — every script, emoji with their joiners, variation selectors and flag tags — as it
is. Print everything a platform, an archive or a hostile file controls through it.

Escaped:

* C0 controls (U+0000–U+001F) except a newline and a tab (kept unless asked), DEL
  (U+007F) and C1 controls (U+0080–U+009F, CSI U+009B and NEL U+0085 included): so no
  ESC sequence reaches the terminal; a lone carriage return too (``\\r\\n`` is a line
  break and becomes ``\\n`` while newlines are kept);
* bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), the marks
  U+200E, U+200F and U+061C;
* the other invisible format characters (Unicode category Cf): zero-width space,
  word joiner, invisible operators, byte order mark, soft hyphen, Mongolian vowel
  separator, interlinear annotation, Egyptian/shorthand/musical format controls, and
  tag characters (U+E0000–U+E007F, invisible ASCII) except inside an emoji tag sequence
  (🏴 + tags + CANCEL TAG: the flags of Scotland, Wales…);
* line and paragraph separators (U+2028, U+2029), which some terminals take as a break;
* the invisible Hangul fillers (U+115F, U+1160, U+3164, U+FFA0) and the deprecated
  Khmer inherent vowels (U+17B4, U+17B5), which make a name look blank or like another;
* lone surrogates (a half emoji), which cannot even be encoded for the terminal.

Kept: the zero-width joiner and non-joiner (emoji sequences, Indic and Persian
scripts) and the visible Arabic number signs (U+0600–U+0605…), which are format
characters too. A backslash is not escaped: ``\\u202e`` typed as text looks like an
escape, which shows nothing hidden.

:func:`json_for_terminal` does the same to JSON text without changing its value (the
characters become JSON ``\\u`` escapes), for ``--json`` output.
"""

from __future__ import annotations

import re

__all__ = ["for_terminal", "json_for_terminal"]

_TAG_SEQUENCE = "\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f"
_UNSAFE = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 but tab and newline (added below), DEL, C1
    "\u00ad\u061c\u115f\u1160\u17b4\u17b5\u180e"
    "\u200b\u200e\u200f\u2028-\u202e\u2060-\u206f"  # U+2065 is unassigned, reserved there
    "\u3164\ufeff\uffa0\ufff9-\ufffb"
    "\ud800-\udfff"  # lone surrogates
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e007f"
)
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _pattern(keep_newlines: bool, keep_tabs: bool) -> re.Pattern[str]:
    extra = ("" if keep_newlines else "\n") + ("" if keep_tabs else "\t")
    crlf = "|(\r\n)" if keep_newlines else ""
    return re.compile(f"({_TAG_SEQUENCE}){crlf}|[{_UNSAFE}{extra}]")


_PATTERNS = {(nl, tab): _pattern(nl, tab) for nl in (True, False) for tab in (True, False)}
_JSON_PATTERN = re.compile(f"({_TAG_SEQUENCE})|[{_UNSAFE}]")


def _escape(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    cp = ord(ch)
    if cp < 0x100:
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def _replace(m: re.Match[str]) -> str:
    if m.group(1) is not None:  # an emoji tag sequence: a flag
        return m.group(1)
    if m.lastindex == 2:  # \r\n while newlines are kept
        return "\n"
    return _escape(m.group(0))


def for_terminal(text: str, *, keep_newlines: bool = True, keep_tabs: bool = True) -> str:
    """``text`` with every control, bidi and invisible format character shown as an
    escape (see the module's documentation); unchanged when it holds none. With
    ``keep_newlines`` False a newline is shown as ``\\n`` (for one-line output)."""
    pattern = _PATTERNS[(keep_newlines, keep_tabs)]
    if pattern.search(text) is None:
        return text
    return pattern.sub(_replace, text)


def _json_replace(m: re.Match[str]) -> str:
    if m.group(1) is not None:
        return m.group(1)
    cp = ord(m.group(0))
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    cp -= 0x10000
    return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"


def json_for_terminal(json_text: str) -> str:
    """JSON text (as ``json.dumps`` writes it, with ``ensure_ascii=False``) with every
    character :func:`for_terminal` would escape written as a JSON ``\\u`` escape: the
    same JSON value — a program reading it gets the exact text — and nothing a terminal
    would act on. (``json.dumps`` already escapes C0 controls, not DEL, C1, bidi or
    format characters.) Unchanged when there is none."""
    if _JSON_PATTERN.search(json_text) is None:
        return json_text
    return _JSON_PATTERN.sub(_json_replace, json_text)
