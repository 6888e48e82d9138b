"""A search result's snippet as pieces to show, its matches marked. Pure.

``unerased search`` (``text.tokenize.snippet``) marks every match inside a snippet as
``[…]``, found by the search's own tokenizer (so Chinese, folded case and accents are
marked exactly as they matched). :func:`snippet_pieces` turns those marks into
``("mark", text)`` pieces a template shows as ``<mark>``, the rest as ``("", text)``.
A bracketed word that was in the post itself is marked too: marking is a reading aid;
the post page shows the text as it is.
"""

from __future__ import annotations

import re

__all__ = ["snippet_pieces"]

_MARK = re.compile(r"\[([^\[\]]+)\]")


def snippet_pieces(snippet: str) -> list[tuple[str, str]]:
    """``snippet`` as ``(kind, piece)`` pairs: ``"mark"`` for a ``[…]`` match (its
    brackets removed), ``""`` for the text around."""
    out: list[tuple[str, str]] = []
    at = 0
    for m in _MARK.finditer(snippet):
        if m.start() > at:
            out.append(("", snippet[at:m.start()]))
        out.append(("mark", m.group(1)))
        at = m.end()
    if at < len(snippet):
        out.append(("", snippet[at:]))
    return out
