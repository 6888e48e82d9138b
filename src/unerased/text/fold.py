"""Folding of Chinese character variants for search: Traditional → Simplified.

Search folds what a reader would call "the same word written another way" on both sides,
the indexed text and the query, so ``删除`` finds ``刪除`` and ``刪除`` finds ``删除``.
Full-width Latin letters and digits need nothing here: :mod:`.tokenize` normalises every
character with NFKC (``ＡＢＣ`` → ``abc``). This module holds the Chinese part: a table
mapping each Traditional (and Hong Kong variant) character to its Simplified form, made
from the dictionaries of OpenCC, the maintained converter (``opencc`` on PyPI).

The folding is **per character**, never per phrase: OpenCC's phrase dictionaries convert
by context (``乾隆`` stays, ``乾燥`` → ``干燥``), and a context-dependent fold would break
the tokenizer's promise that every substring of a text is found (the query ``乾`` alone
could not know which context it is in). Each character goes through OpenCC's ``t2s``
configuration on its own (its character dictionaries: ``刪`` → ``删``, ``發``/``髮`` →
``发``), and when ``t2s`` leaves it alone, through ``hk2s`` (Hong Kong variants: ``衞`` →
``卫``, ``敍`` → ``叙``). The fold is idempotent (a chain ``薴`` → ``苧`` → ``苎`` is
followed to its end) and maps a Han character to one Han character, so a text keeps its
length and every offset into it (snippets mark the characters the author typed).

Folding is one way, so it merges what Simplified merged: ``发`` finds ``發`` and ``髮``.
Japanese shinjitai, Hiragana/Katakana and Korean are not folded.

OpenCC is asked lazily: ASCII text never loads it; the first distinct characters met
are converted one by one (~4 µs each: a search query or a page of snippets costs a few
ms), and past :data:`MEMO_LIMIT` of them or :data:`CALL_LIMIT` texts the process is
evidently folding in bulk (an import, a web server) and the whole table is made at once
(every Han character through each configuration in one call, ~100 ms), after which a
text with nothing to fold costs one regular-expression scan (~0.3 µs for a post). Both
ways compute the same function (a test checks every character of the table).

The table depends on OpenCC's dictionaries, and :attr:`Folder.source` names the version:
a later OpenCC whose character dictionaries differ may fold a few rare characters
differently from the terms an older one stored (a data migration rebuilds the stored
terms whenever ``tokenize.TERMS_VERSION`` changes: ``store._search.rebuild_terms``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..errors import UnerasedError

__all__ = ["CALL_LIMIT", "CONFIGS", "MEMO_LIMIT", "Folder", "Folding", "build_table", "fold_han", "folder"]

CONFIGS = ("t2s.json", "hk2s.json")
"""OpenCC configurations asked in turn for each character: the first that changes it wins."""

MEMO_LIMIT = 512
"""Distinct characters converted one by one before the whole table is made."""

CALL_LIMIT = 1000
"""Texts folded character by character before the whole table is made, however few
their distinct characters (an import of posts written with a small vocabulary)."""

# Han ideographs the tokenizer bigrams (CJK Unified Ideographs, Extension A, Extensions
# B and later); compatibility ideographs are left out: NFKC maps them to unified ones
# before the fold sees them.
_HAN_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0x20000, 0x323AF))


def _is_han(ch: str) -> bool:
    o = ord(ch)
    return any(a <= o <= b for a, b in _HAN_RANGES)


def _valid(a: str, b: str) -> bool:
    """Is OpenCC's ``b`` for ``a`` a fold we keep: a change into exactly one Han
    character (never a string of another length: offsets must not move)?"""
    return b != a and len(b) == 1 and _is_han(b)


def _settle(ch: str, step: Callable[[str], str]) -> str:
    """``ch`` folded by ``step`` (one character's conversion, ``c`` when none) until
    it no longer changes; on a cycle (none in OpenCC today), its smallest member."""
    path = [ch]
    v = step(ch)
    while v != path[-1] and v not in path:
        path.append(v)
        v = step(v)
    if v == path[-1]:
        return v
    return min(path[path.index(v):])


def build_table(steps: list[dict[str, str]]) -> dict[str, str]:
    """The fold from per-configuration conversions (``steps``: character → converted,
    the first that has a character wins), followed to a fixed point so that folding a
    folded text changes nothing."""
    base: dict[str, str] = {}
    for step in reversed(steps):
        base.update(step)
    out: dict[str, str] = {}
    for ch in base:
        v = _settle(ch, lambda c: base.get(c, c))
        if v != ch:
            out[ch] = v
    return out


@dataclass(frozen=True, slots=True)
class Folding:
    """The whole fold: ``text.translate(table)`` folds a text, and
    ``pattern.search(text)`` tells cheaply whether there is anything to fold."""

    table: Mapping[int, str]
    pattern: re.Pattern[str]

    def fold(self, text: str) -> str:
        return text.translate(self.table) if self.pattern.search(text) else text


class Folder:
    """Folds text with OpenCC's dictionaries (see the module doc); one per process
    (:func:`folder`), since it only caches what a pure function computes."""

    __slots__ = ("_converters", "_memo", "_calls", "_folding", "source")

    def __init__(self) -> None:
        try:
            import opencc  # a C extension and its dictionaries: loaded only when needed
        except ImportError:
            raise UnerasedError("searching Chinese text needs OpenCC, a dependency of "
                                "unerased that is missing: pip install 'opencc>=1.1'") from None
        self._converters = [opencc.OpenCC(c) for c in CONFIGS]
        self._memo: dict[str, str] = {}
        self._calls = 0
        self._folding: Folding | None = None
        version = getattr(opencc, "__version__", "?")
        self.source = f"OpenCC {version} ({'+'.join(c.removesuffix('.json') for c in CONFIGS)})"

    def _step(self, ch: str) -> str:
        for conv in self._converters:
            out: str = conv.convert(ch)
            if _valid(ch, out):
                return out
        return ch

    def char(self, ch: str) -> str:
        """One character folded (anything but a Han ideograph is returned as is)."""
        got = self._memo.get(ch)
        if got is None:
            got = _settle(ch, self._step) if _is_han(ch) else ch
            self._memo[ch] = got
        return got

    def fold(self, text: str) -> str:
        """``text`` folded: same length, every offset kept."""
        if text.isascii():
            return text
        if self._folding is None:
            self._calls += 1
            if len(self._memo) <= MEMO_LIMIT and self._calls <= CALL_LIMIT:
                return "".join([self.char(c) for c in text])
            self._folding = self.folding()
        return self._folding.fold(text)

    def folding(self) -> Folding:
        """The whole table: every Han character converted in one call per configuration
        (separated by newlines, which no phrase of OpenCC's dictionaries spans)."""
        if self._folding is not None:
            return self._folding
        chars = [chr(o) for a, b in _HAN_RANGES for o in range(a, b + 1)]
        steps = []
        for conv in self._converters:
            out = conv.convert("\n".join(chars)).split("\n")
            if len(out) != len(chars):
                raise RuntimeError(f"OpenCC: {len(out)} lines back for {len(chars)} characters")
            steps.append({a: b for a, b in zip(chars, out, strict=True) if _valid(a, b)})
        table = build_table(steps)
        # BMP characters in one class (sre makes it a bitmap: ~0.2 µs for a post); any
        # character beyond the BMP sends the text to translate (rare; translate is exact)
        cls = "".join(sorted(k for k in table if ord(k) < 0x10000))
        self._folding = Folding(
            table={ord(k): v for k, v in table.items()},
            pattern=re.compile("[" + re.escape(cls) + "]|[\U00020000-\U000323af]"),
        )
        return self._folding


@functools.cache
def folder() -> Folder:
    """The process's folder (made on first use; it only caches a pure function)."""
    return Folder()


def fold_han(text: str) -> str:
    """``text`` with Traditional Chinese characters folded to Simplified, character by
    character (``刪除`` → ``删除``, ``乾隆`` → ``干隆``). Same length; ASCII returns as is.

    >>> fold_han("刪除 Twitter")
    '删除 Twitter'
    """
    if text.isascii():
        return text
    return folder().fold(text)
