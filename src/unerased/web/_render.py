"""The two renderers of a view's data: HTML (Jinja2, autoescape on everywhere) and
JSON; and the template filters that make archive content safe to show.

Text from the archive (posts, names, profile fields, alt text) is hostile. Templates
show it with ``{{ value }}`` (escaped by autoescape) or ``|text`` (escaped, newlines
kept); post HTML only through ``|post_html`` (nh3: an allow-list of tags and
attributes, ``http``/``https``/``mailto`` links only, every link ``rel="noopener
noreferrer nofollow"``); a URL into ``href`` only through ``|href`` (``http``/``https``
only, anything else becomes ``#``). Links to other sites carry ``rel="noopener
noreferrer"`` (the ``ext_link`` macro of ``_macros.html``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

import nh3
import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from ._charts import bar_chart, line_chart
from ._diff import diff_html

__all__ = ["HTML_TAGS", "environment", "json_body", "post_html", "safe_href", "text_html",
           "url_with"]

HTML_TAGS = {"a", "p", "br", "span", "em", "strong", "b", "i", "u", "s", "del", "ins",
             "blockquote", "code", "pre", "ul", "ol", "li"}
_ATTRS = {"a": {"href", "title"}, "span": set()}


def post_html(value: Any) -> Markup:
    """A post's HTML, sanitised (nh3, an allow-list): safe to put in a page."""
    if value is None:
        return Markup("")
    clean = nh3.clean(str(value), tags=HTML_TAGS, attributes=_ATTRS,
                      url_schemes={"http", "https", "mailto"},
                      link_rel="noopener noreferrer nofollow", strip_comments=True)
    return Markup(clean)  # noqa: S704 - nh3's output


def text_html(value: Any) -> Markup:
    """Plain text, escaped, its line breaks kept as ``<br>``."""
    if value is None:
        return Markup("")
    return Markup("<br>\n").join(escape(str(value)).split("\n"))


def safe_href(value: Any) -> str:
    """A URL that may go into ``href``: http(s) only (``javascript:``, ``data:`` and
    the rest become ``#``)."""
    if not isinstance(value, str):
        return "#"
    v = value.strip()
    try:
        parts = urlsplit(v)
    except ValueError:
        return "#"
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return "#"
    if any(ord(c) < 0x20 or c in "\\" for c in v):
        return "#"
    return v


def url_with(path: str, params: dict[str, Any], **changes: Any) -> str:
    """``path`` with the query ``params`` updated by ``changes`` (None and "" dropped):
    for pagination and filter links."""
    merged = {**params, **changes}
    query = {k: ("true" if v is True else "false" if v is False else v)
             for k, v in merged.items() if v is not None and v != ""}
    return path + ("?" + urlencode(query) if query else "")


def environment(globals_: dict[str, Any] | None = None) -> Environment:
    """The Jinja2 environment of the package's templates: autoescape for every template
    (``.html``, ``.atom``, ``.xml`` and any other), the safety filters, and ``_``
    (gettext), ``|when``, ``|label`` and ``|number``: English (``_i18n.I18n`` makes
    one environment per language)."""
    env = Environment(
        loader=PackageLoader("unerased.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["post_html"] = post_html
    env.filters["text"] = text_html
    env.filters["href"] = safe_href
    env.globals["url_with"] = url_with
    env.globals["bar_chart"] = bar_chart
    env.globals["line_chart"] = line_chart
    env.globals["diff_html"] = diff_html
    from babel.support import NullTranslations

    from ._i18n import install_language  # (it imports this module)

    install_language(env, "en", NullTranslations())
    env.globals.update(globals_ or {})
    return env


def json_body(data: Any) -> bytes:
    """A view's data as JSON (UTF-8, non-string keys and datetimes handled by orjson)."""
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)


