"""The web UI's languages, as shipped: every marked string (extracted afresh from the
templates and the Python code, as ``scripts/i18n`` does) is translated in both Chinese
catalogs with the same placeholders; no template shows unmarked English; macros are
imported with the context (dates need the reader's zone); Python code raises
:class:`Problem` with marked messages; the negotiation of ``Accept-Language``."""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from unerased.web import _i18n
from unerased.web._i18n import LABELS, LOCALES, I18n, format_when, match_language, negotiate
from unerased.web.views import all_views

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "src" / "unerased" / "web"
TEMPLATES = WEB / "templates"
CHINESE = ("zh_Hans", "zh_Hant")


def catalog(lang: str) -> Any:
    with (WEB / "locale" / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)


def extracted() -> set[str]:
    """The msgids the code marks today (babel.cfg's map, keyword N_ as scripts/i18n)."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    ids: set[str] = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
            str(WEB), method_map, options_map, keywords={"_": None, "gettext": None,
                                                          "ngettext": (1, 2), "N_": None}):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_every_marked_string_is_translated_in_both_chinese_catalogs() -> None:
    marked = extracted()
    assert len(marked) > 80  # the extraction found the templates and the Python code
    for lang in CHINESE:
        cat = catalog(lang)
        translated = {}
        for m in cat:
            if not m.id:
                continue
            key = m.id if isinstance(m.id, str) else m.id[0]
            strings = m.string if isinstance(m.string, tuple) else (m.string,)
            if all(strings) and not m.fuzzy:
                translated[key] = strings
        missing = sorted(marked - set(translated))
        assert not missing, f"{lang}: not translated (run scripts/i18n, then translate): {missing}"
        for key, strings in translated.items():
            english = re.search(r"[A-Za-z]{2,}", re.sub(r"%\(\w+\)[sr]", "", key))
            for s in strings:  # Chinese UI text: no English sentence left as it was
                assert not english or re.search(r"[\u4e00-\u9fff]", s), (lang, key, s)
        problems = [(m.id, errs) for m, errs in cat.check()]
        assert not problems, f"{lang}: placeholders differ: {problems}"


def test_placeholders_match_their_msgid() -> None:
    for lang in CHINESE:
        for m in catalog(lang):
            if m.id and isinstance(m.id, str):
                assert sorted(re.findall(r"%\(\w+\)s", m.id)) == \
                    sorted(re.findall(r"%\(\w+\)s", m.string)), (lang, m.id)


def test_the_two_scripts_differ_where_chinese_does() -> None:
    """Traditional is not Simplified copied: the common words are in their own script."""
    t = I18n.load()
    for msgid, hans, hant in (("Deleted posts", "已删除的帖子", "已刪除的貼文"),
                              ("Account", "账号", "帳號"), ("suspended", "已封禁", "已停權"),
                              ("Log in", "登录", "登入"), ("Search", "搜索", "搜尋")):
        assert t.gettext("zh-Hans", msgid) == hans
        assert t.gettext("zh-Hant", msgid) == hant
        assert t.gettext("en", msgid) == msgid


def test_labels_and_view_summaries_are_translated() -> None:
    t = I18n.load()
    words = [*LABELS.values(), *(v.summary for v in all_views() if v.summary)]
    for word in words:
        for lang in ("zh-Hans", "zh-Hant"):
            assert t.gettext(lang, word) != word, (lang, word)


class _Text(HTMLParser):
    """Text nodes and shown attributes of a template with its Jinja2 code taken out."""

    SHOWN = {"placeholder", "title", "aria-label", "alt", "label"}
    SKIP = {"script", "style", "id", "code"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        for name, value in attrs:
            if name in self.SHOWN and value:
                self.found.append(value)
            if tag == "input" and name == "value" and value and \
                    ("type", "submit") in attrs:
                self.found.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping and data.strip():
            self.found.append(data.strip())


JINJA = re.compile(r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}|{{.*?}}|{%.*?%}|{#.*?#}", re.S)
NOT_PROSE = {"unerased", "JSON", "bluesky:alice.example.com", "region=fujian",
             "province=fujian"}  # the brand, and examples in placeholders
LITERAL = re.compile(r"""(?P<q>['"])(?P<s>[^'"]*[A-Za-z][^'"]*)(?P=q)""")
GETTEXT = {"_", "gettext", "ngettext"}
NOT_SHOWN_CALLS = {"url_with", "when"}  # a path, a date format
NOT_SHOWN_LITERALS = {"plain"}  # base.html: the body's class when a page names no view


def enclosing_call(expr: str, pos: int) -> str:
    """The name of the call whose parentheses hold ``expr[pos]`` ("" when none)."""
    depth = 0
    for i in range(pos - 1, -1, -1):
        if expr[i] == ")":
            depth += 1
        elif expr[i] == "(":
            if depth == 0:
                m = re.search(r"([\w.]*)\s*$", expr[:i])
                return m.group(1).rsplit(".", 1)[-1] if m else ""
            depth -= 1
    return ""


def templates() -> list[Path]:
    return sorted(p for p in TEMPLATES.iterdir() if p.suffix in (".html", ".atom"))


def test_no_template_shows_unmarked_english() -> None:
    bad: list[tuple[str, str]] = []
    for path in templates():
        source = path.read_text()
        parser = _Text()
        parser.feed(JINJA.sub(" ", source))
        parser.close()
        for text in parser.found:
            words = [w for w in re.split(r"[\s·→—,()]+", text) if w]
            prose = [w for w in words if re.search(r"[A-Za-z]{2,}", w) and w not in NOT_PROSE]
            if prose:
                bad.append((path.name, text))
        for expr in re.findall(r"{{(.*?)}}", source, re.S):
            for m in LITERAL.finditer(expr):
                s = m.group("s")
                after = expr[m.end():].lstrip(") ")
                call = enclosing_call(expr, m.start("q"))
                marked = call in GETTEXT or after.startswith("|label")
                if not marked and call not in NOT_SHOWN_CALLS and s not in NOT_SHOWN_LITERALS:
                    bad.append((path.name, s))
    assert not bad, f"unmarked text (wrap it in _() or {{% trans %}}): {bad}"


def test_the_heuristic_finds_unmarked_text() -> None:
    parser = _Text()
    parser.feed(JINJA.sub(" ", "<p>{{ _('Marked') }} Not marked</p><input placeholder='Type here'>"))
    assert parser.found == ["Not marked", "Type here"]
    expr = " _('a') ~ x or 'none' ~ ngettext('b', 'c', n) ~ url_with('/p', {}) ~ f(_('d')) "
    calls = {m.group("s"): enclosing_call(expr, m.start("q")) for m in LITERAL.finditer(expr)}
    assert calls == {"a": "_", "none": "", "b": "ngettext", "c": "ngettext", "/p": "url_with",
                     "d": "_"}


def test_macros_are_imported_with_the_context() -> None:
    for path in templates():
        for stmt in re.findall(r"{%-?\s*(?:from|import)\b(.*?)-?%}", path.read_text(), re.S):
            assert stmt.strip().endswith("with context"), (path.name, stmt)


def test_python_problems_carry_marked_messages() -> None:
    """``Problem(status, "literal")`` or an f-string would show English on a Chinese
    page: a message is ``N_("…")`` (values as arguments), or text from elsewhere."""
    bad = []
    for path in WEB.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Problem" \
                    and len(node.args) >= 2:
                msg = node.args[1]
                if isinstance(msg, (ast.Constant, ast.JoinedStr, ast.BinOp)):
                    bad.append(f"{path.name}:{node.lineno}")
    assert not bad, bad


@pytest.mark.parametrize(("header", "lang"), [
    ("zh-CN", "zh-Hans"), ("zh-SG", "zh-Hans"), ("zh", "zh-Hans"), ("zh-Hans-CN", "zh-Hans"),
    ("zh-TW", "zh-Hant"), ("zh-HK", "zh-Hant"), ("zh-MO", "zh-Hant"), ("zh-Hant", "zh-Hant"),
    ("zh-hant-hk", "zh-Hant"), ("zh_TW", "zh-Hant"),
    ("en-US,en;q=0.9", "en"), ("fr-FR,fr;q=0.9", "en"), ("", "en"), (None, "en"),
    ("fr;q=1, zh-TW;q=0.8, zh-CN;q=0.5", "zh-Hant"), ("en;q=0.3, zh-CN;q=0.9", "zh-Hans"),
    ("zh-CN;q=0, en", "en"), ("*", "en"), ("zh-CN;q=abc, zh-TW", "zh-Hant"),
    ("x" * 5000, "en"), (",,;;q=;", "en"),
])
def test_accept_language_negotiation(header: str | None, lang: str) -> None:
    assert negotiate(header) == lang


def test_explicit_language_tags() -> None:
    assert [match_language(t) for t in ("zh-Hant", "zh-hans", "EN", "en-GB", "de", "", None,
                                         "zh-Hant" + "x" * 40)] == \
        ["zh-Hant", "zh-Hans", "en", "en", None, None, None, None]
    assert set(LOCALES) == {"en", "zh-Hans", "zh-Hant"}


def test_dates_in_the_readers_zone_and_language() -> None:
    at = "2026-03-01T13:00:00Z"
    utc = format_when(at, "en", "UTC")
    assert utc.startswith('<time datetime="2026-03-01T13:00:00Z"')
    assert "1:00:00" in utc and "PM" in utc and "UTC" in utc
    shanghai = format_when(at, "en", "Asia/Shanghai")
    assert "9:00:00" in shanghai and 'datetime="2026-03-01T13:00:00Z"' in shanghai
    assert "2026年3月1日" in format_when(at, "zh-Hans", "Asia/Shanghai")
    assert "21:00:00" in format_when(at, "zh-Hans", "Asia/Shanghai")
    assert "下午" in format_when(at, "zh-Hant", "UTC")  # Traditional writes the 12-hour clock
    # +08:00 offsets and naive times are understood; the attribute is always UTC
    assert 'datetime="2026-03-01T13:00:00Z"' in format_when("2026-03-01T21:00:00+08:00", "en",
                                                           "UTC")
    assert 'datetime="2026-03-01T13:00:00Z"' in format_when("2026-03-01T13:00:00", "en", "UTC")
    assert format_when(None, "en", "UTC") == ""
    assert format_when("<b>not a date</b>", "en", "UTC") == "&lt;b&gt;not a date&lt;/b&gt;"
    assert "UTC" in format_when(at, "en", "Not/AZone")  # an unknown zone: UTC


def test_translated_format_strings_escape_their_arguments() -> None:
    """The translation is trusted, the value is not: newstyle gettext escapes it."""
    hostile = '<script>alert(1)</script>"'
    t = I18n.load()
    for lang, word in (("zh-Hans", "帖子"), ("zh-Hant", "貼文"), ("en", "Post")):
        html = t.env(lang).from_string("{{ _('Post %(id)s', id=x) }}").render(x=hostile)
        assert html == f"{word} &lt;script&gt;alert(1)&lt;/script&gt;&#34;"


def test_a_broken_translation_falls_back_to_english() -> None:
    class Broken:
        def gettext(self, message: str) -> str:
            return "%(nom)s：不是整数"

    t = I18n.load()
    t.translations["zh-Hans"] = Broken()  # type: ignore[assignment]
    assert t.gettext("zh-Hans", "%(name)s: not an integer", name="limit") == \
        "limit: not an integer"
    assert t.gettext("zh-Hans", "%(name)s: not an integer") == "%(nom)s：不是整数"


def test_catalogs_are_read_from_po_at_start() -> None:
    """No compiled .mo ships: the .po files are the only source."""
    assert not list((WEB / "locale").rglob("*.mo"))
    t = _i18n.load_translations("zh-Hant")
    assert t.gettext("Log out") == "登出"
    assert _i18n.load_translations("en").gettext("Log out") == "Log out"
