"""Word-level differences between two versions of a post, Chinese included. Pure.

Text is cut into tokens: Latin (and other space-separated scripts') words, every CJK
character on its own (Han, kana, Hangul: they are written without spaces, so a
character is the smallest unit an edit changes), runs of white space, and every other
character (punctuation, symbols, emoji) alone. :mod:`difflib` aligns the token lists;
:func:`diff_html` shows the result as escaped text with ``<del>`` for what the newer
version removed and ``<ins>`` for what it added.
"""

from __future__ import annotations

import difflib
import re
from typing import Literal

from markupsafe import Markup, escape

__all__ = ["Op", "diff_html", "diff_ops", "tokens"]

_CJK = ("\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3038-\u303b\u3040-\u30ff\u3100-\u312f"
        "\u3131-\u318e\u31a0-\u31bf\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f"
        "\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f")
_TOKEN = re.compile(f"[{_CJK}]|\\s+|(?:(?![{_CJK}])\\w)+|.", re.S)

Op = tuple[Literal["same", "del", "ins"], str]

MAX_TOKENS = 20_000
"""Beyond this many tokens on either side the versions are shown as one removal and
one addition (difflib's alignment grows with the square of the length)."""


def tokens(text: str) -> list[str]:
    """``text`` as tokens; joined back they are ``text`` exactly."""
    return _TOKEN.findall(text)


def diff_ops(old: str, new: str) -> list[Op]:
    """From ``old`` to ``new``: runs of text kept (``same``), removed (``del``) and
    added (``ins``), in reading order (a replacement: its ``del`` then its ``ins``)."""
    a, b = tokens(old), tokens(new)
    out: list[Op] = []
    if max(len(a), len(b)) > MAX_TOKENS:
        if old:
            out.append(("del", old))
        if new:
            out.append(("ins", new))
        return out
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.append(("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("del", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("ins", "".join(b[j1:j2])))
    return out


def diff_html(old: str, new: str) -> Markup:
    """The difference as HTML: kept text escaped, removed text in ``<del>``, added
    text in ``<ins>``; line breaks as ``<br>``."""
    parts: list[str] = []
    for op, text in diff_ops(old, new):
        shown = str(Markup("<br>\n").join(escape(text).split("\n")))
        parts.append(shown if op == "same" else f"<{op}>{shown}</{op}>")
    return Markup("".join(parts))  # noqa: S704 - every piece escaped
