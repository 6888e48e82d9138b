"""Search terms for full-text search, Chinese included. Pure: no I/O.

The store keeps, for every post version, a *term string* made by :func:`index_terms`
(space-separated terms; SQLite FTS5 ``unicode61 remove_diacritics 2`` and PostgreSQL
``to_tsvector('simple', …)`` both split it back on the spaces) and searches it with an
expression built by :func:`fts5_match` or :func:`pg_tsquery` from the user's query. Both
sides go through the same tokenizer below, so what the query asks for is exactly what
the index holds.

How text becomes terms:

* Latin and other space-separated scripts: words (maximal runs of letters, digits and
  their combining marks), NFKC-normalised, case-folded, and with the generic combining
  diacritics (U+0300–U+036F) removed, so ``Café`` → ``cafe`` in SQLite and PostgreSQL alike.
  Punctuation, symbols and emoji separate words and are not indexed.
* CJK (Han incl. extensions and compatibility ideographs, Hiragana, Katakana, Hangul):
  every run of such characters becomes its overlapping bigrams, as Lucene's
  CJKBigramAnalyzer does (``我们删除了推特`` → ``我们 们删 删除 除了 了推 推特``), followed
  by the run's last character as a unigram (``… 推特 特``). A single isolated character is
  just that unigram. The trailing unigram is what makes one-character queries complete:
  every character of a run is the first character of exactly one term, so a query for
  ``删`` is the prefix query ``删*``. It costs one term per run (see docs/search.md).
* Traditional Chinese characters are folded to Simplified ones, character by character,
  through OpenCC's tables (:mod:`.fold`): ``刪除`` and ``删除`` make the same terms, so
  each finds the other. Only the terms fold: offsets (snippets, highlighting) point
  into the text as the author typed it.

A query is split on whitespace into phrases (``"…"`` and “…” keep spaces inside one
phrase; a leading ``-`` excludes a phrase). Each phrase is matched as an adjacent
sequence of terms, and all phrases must match.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from ..errors import SearchQueryError
from .fold import folder

__all__ = [
    "matches",
    "MAX_QUERY_TERMS",
    "TERMS_VERSION",
    "Phrase",
    "Query",
    "SearchQueryError",
    "fts5_match",
    "index_terms",
    "parse_query",
    "pg_tsquery",
    "query_terms",
    "snippet",
]


MAX_QUERY_TERMS = 256
"""A query with more terms than this is refused (SearchQueryError): a search box must
not be able to make the database chew on megabyte-sized expressions."""

TERMS_VERSION = 2
"""Bumped whenever :func:`index_terms` changes its output: stored term strings made by
an older version must then be rebuilt, or queries will not find them (a data migration
does it: 0007 rebuilt them for version 2, which folds Traditional to Simplified)."""


# --- character classes ---------------------------------------------------------------

_WORD = 1
_CJK = 2
_MARK = 3
_IGNORE = 4  # variation selectors, enclosing marks, ZWJ/ZWNJ, BOM: neither split nor kept
_SEP = 5


def _is_cjk(o: int) -> bool:
    """Code points (already NFKC-normalised, category L* or N*) that form bigrams."""
    if 0x4E00 <= o <= 0x9FFF or 0xAC00 <= o <= 0xD7FF:  # unified ideographs, Hangul
        return True
    if 0x3040 <= o <= 0x30FF:  # Hiragana, Katakana (incl. the prolonged sound mark ー)
        return True
    if 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x3FFFF:  # Ext A; Ext B… and compat supp.
        return True
    if 0xF900 <= o <= 0xFAFF:  # compatibility ideographs that NFKC leaves alone
        return True
    if 0x3005 <= o <= 0x3007 or 0x3021 <= o <= 0x3029 or 0x3031 <= o <= 0x3035:
        return True  # 々 〆 〇, Hangzhou numerals, kana repeat marks
    if 0x3038 <= o <= 0x303C or 0x31F0 <= o <= 0x31FF:
        return True
    if 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F or 0xA960 <= o <= 0xA97F:
        return True  # Hangul jamo
    return 0xFF66 <= o <= 0xFFDC or 0x1B000 <= o <= 0x1B16F  # halfwidth kana/jamo, kana sup.


def _is_ignorable(o: int) -> bool:
    return (
        0xFE00 <= o <= 0xFE0F
        or 0xE0100 <= o <= 0xE01EF
        or o in (0x200C, 0x200D, 0xFEFF)
        or 0x1F3FB <= o <= 0x1F3FF  # emoji skin tones (So): keep them from splitting runs
    )


def _classify(ch: str) -> int:
    o = ord(ch)
    if _is_ignorable(o):
        return _IGNORE
    cat = unicodedata.category(ch)
    c0 = cat[0]
    if c0 == "L" or c0 == "N":
        return _CJK if _is_cjk(o) else _WORD
    if c0 == "M":
        return _IGNORE if cat == "Me" else _MARK
    if cat == "Co":
        return _WORD
    return _SEP


_DIACRITICS = re.compile("[\u0300-\u036f]+")


def _fold(word: str) -> str:
    """NFKC + case folding + removal of generic combining diacritics."""
    if word.isascii():
        return word.lower()
    w = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", word).casefold())
    d = unicodedata.normalize("NFD", w)
    if _DIACRITICS.search(d):
        w = unicodedata.normalize("NFC", _DIACRITICS.sub("", d))
    return w


# --- segmentation ---------------------------------------------------------------------


@dataclass(slots=True)
class _Word:
    term: str
    start: int
    end: int


@dataclass(slots=True)
class _Run:
    chars: list[str]
    spans: list[tuple[int, int]]


_Segment = _Word | _Run


class _Scanner:
    """Splits text into words and CJK runs, keeping offsets into the original text."""

    __slots__ = ("out", "state", "buf", "start", "end", "chars", "spans")

    def __init__(self) -> None:
        self.out: list[_Segment] = []
        self.state = _SEP
        self.buf: list[str] = []
        self.start = 0
        self.end = 0
        self.chars: list[str] = []
        self.spans: list[tuple[int, int]] = []

    def flush(self) -> None:
        if self.state == _WORD:
            term = _fold("".join(self.buf))
            if term:
                self.out.append(_Word(term, self.start, self.end))
            self.buf = []
        elif self.state == _CJK:
            self.out.append(_Run(self.chars, self.spans))
            self.chars = []
            self.spans = []
        self.state = _SEP

    def feed(self, kind: int, ch: str, i: int, j: int) -> None:
        if kind == _WORD:
            if self.state != _WORD:
                self.flush()
                self.state = _WORD
                self.start = i
            self.buf.append(ch)
            self.end = j
        elif kind == _CJK:
            if self.state != _CJK:
                self.flush()
                self.state = _CJK
            elif 0x1160 <= ord(ch) <= 0x11FF and self._compose(ch, j):
                return  # a conjoining Hangul vowel/final joined the syllable before it
            self.chars.append(ch)
            self.spans.append((i, j))
        elif kind == _MARK:
            if self.state == _WORD:
                self.buf.append(ch)
                self.end = j
            elif self.state == _CJK:
                self._compose(ch, j)  # e.g. か + U+3099 → が; anything else is dropped
        elif kind == _SEP:
            self.flush()

    def _compose(self, ch: str, j: int) -> bool:
        joined = unicodedata.normalize("NFC", self.chars[-1] + ch)
        if len(joined) != 1:
            return False
        self.chars[-1] = joined
        self.spans[-1] = (self.spans[-1][0], j)
        return True


def _segments(text: str, fold_variants: bool = True) -> list[_Segment]:
    sc = _Scanner()
    is_normalized = unicodedata.is_normalized
    normalize = unicodedata.normalize
    fold = None
    if fold_variants and not text.isascii():
        fold = folder()
        text = fold.fold(text)  # 刪 → 删; one character for one: offsets stay
    for i, ch in enumerate(text):
        if ch < "\x80":
            sc.feed(_WORD if ch.isalnum() else _SEP, ch, i, i + 1)
            continue
        if is_normalized("NFKC", ch):
            sc.feed(_classify(ch), ch, i, i + 1)
        else:
            for d in normalize("NFKC", ch):  # ㍿ → 株式会社, ｶ → カ, Ａ → A, ① → 1
                kind = _classify(d)
                if kind == _CJK and fold is not None:
                    d = fold.char(d)  # a compatibility ideograph: 豈 (U+F900) → 豈 → 岂
                sc.feed(kind, d, i, i + 1)
    sc.flush()
    return sc.out


def _run_terms(chars: list[str]) -> list[str]:
    terms = [chars[k] + chars[k + 1] for k in range(len(chars) - 1)]
    terms.append(chars[-1])
    return terms


def _terms_with_spans(text: str) -> list[tuple[str, int, int, int]]:
    """(term, start, end, end of its first character) for every term of ``text``."""
    out: list[tuple[str, int, int, int]] = []
    for seg in _segments(text):
        if isinstance(seg, _Word):
            out.append((seg.term, seg.start, seg.end, seg.end))
            continue
        c, s = seg.chars, seg.spans
        for k in range(len(c) - 1):
            out.append((c[k] + c[k + 1], s[k][0], s[k + 1][1], s[k][1]))
        out.append((c[-1], s[-1][0], s[-1][1], s[-1][1]))
    return out


# Fast path: most posts are ASCII, common Han ideographs and common punctuation only.
# For such text the general scanner below reduces to two regular expressions; a property
# test (tests/test_tokenize_fast.py) checks both give identical terms on that alphabet.
_FAST_PUNCT = "，。！？、；：“”‘’《》（）【】「」『』…—·～\u3000"
_FAST_HAN = "\u3400-\u4dbf\u4e00-\u9fef"
_FAST_OK = re.compile("[\x00-\x7f" + _FAST_HAN + re.escape(_FAST_PUNCT) + "]*")
_FAST_TOKEN = re.compile("[A-Za-z0-9]+|[" + _FAST_HAN + "]+")


def index_terms(text: str, *, fold: bool = True) -> str:
    """The term string to index for ``text``: space-separated terms, see module doc.
    ``fold=False`` leaves Traditional characters alone: the terms of ``TERMS_VERSION``
    1 (what migration 0007's downgrade restores; tests make old archives with it).

    >>> index_terms("我們刪除了推特 Twitter!")
    '我们 们删 删除 除了 了推 推特 特 twitter'
    """
    if fold and not text.isascii():
        text = folder().fold(text)  # Traditional → Simplified, one character for one
    if _FAST_OK.fullmatch(text):
        out: list[str] = []
        for m in _FAST_TOKEN.finditer(text):
            t = m.group()
            if t[0] < "\x80":
                out.append(t.lower())
            else:
                out.extend([t[k : k + 2] for k in range(len(t) - 1)])
                out.append(t[-1])
        return " ".join(out)
    return _index_terms_general(text, fold)


def _index_terms_general(text: str, fold: bool = True) -> str:
    out: list[str] = []
    for seg in _segments(text, fold):
        if isinstance(seg, _Word):
            out.append(seg.term)
        else:
            out.extend(_run_terms(seg.chars))
    return " ".join(out)


# --- queries --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Phrase:
    """Terms that must appear adjacent and in order. When ``prefix`` is set the last
    term is a single CJK character matched as a prefix (it may be the first half of a
    bigram in the index)."""

    terms: tuple[str, ...]
    prefix: bool = False
    exclude: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    phrases: tuple[Phrase, ...]

    @property
    def included(self) -> tuple[Phrase, ...]:
        return tuple(p for p in self.phrases if not p.exclude)

    @property
    def excluded(self) -> tuple[Phrase, ...]:
        return tuple(p for p in self.phrases if p.exclude)


_OPEN_QUOTES = {'"': '"', "\uff02": "\uff02", "\u201c": "\u201d", "\u300c": "\u300d",
                "\u300e": "\u300f"}  # " ＂ “” 「」 『』


def _phrase(text: str, exclude: bool) -> Phrase | None:
    segs = _segments(text)
    terms: list[str] = []
    for n, seg in enumerate(segs):
        if isinstance(seg, _Word):
            terms.append(seg.term)
        elif n == len(segs) - 1 and len(seg.chars) > 1:
            # a run that ends the phrase may continue in the document: bigrams only
            terms.extend(seg.chars[k] + seg.chars[k + 1] for k in range(len(seg.chars) - 1))
        else:
            terms.extend(_run_terms(seg.chars))
    if not terms:
        return None
    prefix = isinstance(segs[-1], _Run) and len(segs[-1].chars) == 1
    return Phrase(tuple(terms), prefix=prefix, exclude=exclude)


def parse_query(q: str) -> Query:
    """Split a user query into phrases. Never raises; a query may come out empty."""
    phrases: list[Phrase] = []
    i, n = 0, len(q)
    while i < n:
        if q[i].isspace():
            i += 1
            continue
        exclude = False
        if q[i] == "-" and i + 1 < n and not q[i + 1].isspace():
            exclude = True
            i += 1
        close = _OPEN_QUOTES.get(q[i])
        if close is not None:
            end = q.find(close, i + 1)
            if end < 0:
                end = n
            body = q[i + 1 : end]
            i = end + 1
        else:
            j = i
            while j < n and not q[j].isspace() and (j == i or q[j] not in _OPEN_QUOTES):
                j += 1
            body = q[i:j]
            i = j
        p = _phrase(body, exclude)
        if p is not None:
            phrases.append(p)
    return Query(tuple(phrases))


def query_terms(q: str) -> list[list[str]]:
    """The term list of every phrase the query asks for (excluded phrases left out).

    >>> query_terms("推特删除 审查")
    [['推特', '特删', '删除'], ['审查']]
    """
    return [list(p.terms) for p in parse_query(q).included]


def _searchable(q: str) -> Query:
    query = parse_query(q)
    if not query.included:
        raise SearchQueryError(f"nothing to search for in {q[:80]!r}: no word or character")
    count = sum(len(p.terms) for p in query.phrases)
    if count > MAX_QUERY_TERMS:
        raise SearchQueryError(f"query too long: {count} terms, at most {MAX_QUERY_TERMS}")
    return query


def _fts5_string(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _fts5_phrase(p: Phrase) -> str:
    s = " + ".join(_fts5_string(t) for t in p.terms)
    return s + " *" if p.prefix else s


def fts5_match(q: str) -> str:
    """An FTS5 MATCH expression for ``q``; every term is a double-quoted string, so
    nothing the user types acts as FTS5 syntax. Raises :class:`SearchQueryError` when
    the query has nothing to search for."""
    query = _searchable(q)
    expr = " AND ".join(_fts5_phrase(p) for p in query.included)
    if query.excluded:
        if len(query.included) > 1:
            expr = f"({expr})"
        expr += "".join(f" NOT ({_fts5_phrase(p)})" for p in query.excluded)
    return expr


def _pg_lexeme(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def _pg_phrase(p: Phrase) -> str:
    s = " <-> ".join(_pg_lexeme(t) for t in p.terms)
    s = s + ":*" if p.prefix else s
    return f"({s})" if len(p.terms) > 1 else s


def pg_tsquery(q: str) -> str:
    """Text for ``to_tsquery('simple', …)``: ``<->`` within a phrase, ``&`` between
    phrases, ``!`` for excluded ones; lexemes single-quoted and escaped. Raises
    :class:`SearchQueryError` when the query has nothing to search for."""
    query = _searchable(q)
    parts = [_pg_phrase(p) for p in query.included]
    parts += [f"!{_pg_phrase(p)}" for p in query.excluded]
    return " & ".join(parts)


# --- snippets -------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")
# C0/C1 controls (ANSI escapes) become spaces; bidi embeddings/overrides/isolates go.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def _matches(text: str, query: Query) -> list[tuple[int, int]]:
    terms = _terms_with_spans(text)
    found: list[tuple[int, int]] = []
    for p in query.included:
        k = len(p.terms)
        last = p.terms[-1]
        for i in range(len(terms) - k + 1):
            if any(terms[i + m][0] != p.terms[m] for m in range(k - 1)):
                continue
            t = terms[i + k - 1][0]
            if t == last or (p.prefix and t.startswith(last)):
                start = terms[i][1]
                end = terms[i + k - 1][3] if p.prefix else terms[i + k - 1][2]
                found.append((start, end))
    found.sort()
    kept: list[tuple[int, int]] = []
    for s, e in found:
        if not kept or s >= kept[-1][1]:
            kept.append((s, e))
    return kept


def matches(text: str, q: str) -> bool:
    """Does ``text`` hold every included phrase of ``q`` (and no excluded one), by the
    same terms the index uses? (Which version of a post a search hit came from.)"""
    query = parse_query(q)
    if not query.included:
        return False
    return all(_matches(text, Query((p,))) for p in query.included) and not any(
        _matches(text, Query((replace(p, exclude=False),))) for p in query.excluded
    )


def _clean(piece: str) -> str:
    return _SPACES.sub(" ", _BIDI.sub("", _UNSAFE.sub(" ", piece)))


def snippet(text: str, q: str, width: int = 80) -> str:
    """A one-line plain-text excerpt of about ``width`` characters around the first
    match of ``q`` in ``text``, every match inside it marked ``[…]``; ``…`` shows cuts.
    Control and bidi-override characters are removed. With no match, the start of the
    text. The result is plain text: escape it before putting it in HTML."""
    width = max(width, 1)
    matches = _matches(text, parse_query(q))
    if matches:
        s, e = matches[0]
        if s > 0 and unicodedata.category(text[s - 1])[0] == "M":
            s -= 1  # never start inside a combining sequence (rare: marks after CJK)
        room = max(0, width - (e - s))
        ws = max(0, s - room // 3)
        we = min(len(text), max(ws + width, e))
        ws = max(0, min(ws, we - width))
    else:
        ws, we = 0, min(len(text), width)
    out: list[str] = []
    pos = ws
    for ms, me in matches:
        if ms < ws or me > we:
            continue
        out.append(_clean(text[pos:ms]))
        out.append("[" + _clean(text[ms:me]) + "]")
        pos = me
    out.append(_clean(text[pos:we]))
    body = "".join(out).strip()
    return ("\u2026" if ws > 0 else "") + body + ("\u2026" if we < len(text) else "")
