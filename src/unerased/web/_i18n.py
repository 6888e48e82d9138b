"""The UI's languages (English, Simplified and Traditional Chinese) and the reader's
time zone (docs/web.md#languages-and-time-zones).

- **Catalogs**: ``web/locale/{en,zh_Hans,zh_Hant}/LC_MESSAGES/messages.po``, read at
  start with Babel's ``read_po`` (no compiled ``.mo`` is shipped: nothing to build,
  nothing to drift from its source) and turned into gettext translations in memory.
- **One Jinja2 environment per language** (:class:`I18n`), each with
  ``jinja2.ext.i18n`` installed with its translations (``newstyle``: ``_('… %(x)s',
  x=value)`` escapes ``value``, so hostile text stays inert inside a translated
  sentence), so that macros imported from another template translate too.
- **The language of a request** (:class:`Preferences`, a middleware): ``?lang=TAG`` on
  a GET (the switch links of every page; it also sets the ``lang`` cookie), else the
  ``lang`` cookie, else ``Accept-Language`` negotiated with ``babel.negotiate_locale``
  (``zh-CN``/``zh-SG``/``zh`` → Simplified, ``zh-TW``/``zh-HK``/``zh-MO`` →
  Traditional), else English.
- **The time zone**: the ``tz`` cookie (an IANA name, set on ``/settings/display``),
  else UTC. Templates show every date with ``|when`` (Babel's ``format_datetime`` in
  the page's language and zone, inside ``<time datetime="ISO in UTC">``).
- Python code marks text with :func:`N_` (for ``pybabel extract``) and translates it
  when it is shown (:meth:`I18n.gettext`); the JSON twins stay English and ISO UTC.
"""

from __future__ import annotations

import io
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from babel import Locale, negotiate_locale
from babel.dates import format_datetime, get_timezone_location
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._registry import N_
from ._render import environment

__all__ = ["DEFAULT_TZ", "LABELS", "LANGUAGE_NAMES", "LANG_COOKIE", "LOCALES", "PREFS_KEY",
           "TZ_COOKIE", "I18n", "N_", "Preferences", "Prefs", "babel_locale",
           "cookie_header", "format_when", "install_language", "load_translations", "match_language",
           "negotiate", "parse_when", "prefs_of"]

LOCALES = ("en", "zh-Hans", "zh-Hant")  # BCP 47: <html lang>, ?lang=, the lang cookie
LANGUAGE_NAMES = {"en": "English", "zh-Hans": "简体中文", "zh-Hant": "繁體中文"}
DEFAULT_TZ = "UTC"
LANG_COOKIE = "lang"
TZ_COOKIE = "tz"
PREFS_KEY = "unerased.prefs"
COOKIE_AGE = 400 * 24 * 3600  # the longest browsers keep a cookie
_TRADITIONAL_REGIONS = {"tw", "hk", "mo"}
_MAX_TAGS = 16  # of an Accept-Language header: more are ignored


# Values of the archive shown as words: event types, account and post statuses,
# deletion reasons, post and media kinds, collector states, ledger leaf kinds, roles, import
# stages (``|label`` in templates; other values are shown as they are).
LABELS: dict[str, str] = {
    "post_deleted": N_("post deleted"),
    "post_edited": N_("post edited"),
    "post_restored": N_("post restored"),
    "account_deleted": N_("account deleted"),
    "account_suspended": N_("account suspended"),
    "account_deactivated": N_("account deactivated"),
    "account_protected": N_("account protected"),
    "account_renamed": N_("account renamed"),
    "account_restored": N_("account restored"),
    "active": N_("active"),
    "deleted": N_("deleted"),
    "suspended": N_("suspended"),
    "deactivated": N_("deactivated"),
    "protected": N_("protected"),
    "limited": N_("limited"),
    "unknown": N_("unknown"),
    "present": N_("present"),
    "missing": N_("missing"),
    "unavailable": N_("unavailable"),
    "user_deleted": N_("deleted by its author"),
    "platform_removed": N_("removed by the platform"),
    "post": N_("post"),
    "reply": N_("reply"),
    "repost": N_("repost"),
    "quote": N_("quote"),
    "image": N_("image"),
    "video": N_("video"),
    "gif": N_("GIF"),
    "audio": N_("audio"),
    "other": N_("other"),
    "file": N_("file"),
    "alive": N_("running"),
    "stale": N_("silent"),
    "stopped": N_("stopped"),
    "account_status": N_("account status"),
    "post_versions": N_("post version"),
    "captures": N_("raw capture"),
    "imports": N_("import"),
    "events": N_("event"),
    "media_completions": N_("media download"),
    "viewer": N_("viewer"),
    "editor": N_("editor"),
    "admin": N_("admin"),
    "receiving": N_("receiving"),
    "detecting": N_("detecting"),
    "reading": N_("reading"),
    "finishing": N_("finishing"),
    "done": N_("done"),
    "failed": N_("failed"),
}


def babel_locale(lang: str) -> str:
    """Babel's name of a BCP 47 tag of :data:`LOCALES` (``zh-Hans`` → ``zh_Hans``)."""
    return lang.replace("-", "_")


def match_language(tag: str | None) -> str | None:
    """The UI language a language tag asks for, or None: ``zh-TW``, ``zh-HK``,
    ``zh-MO`` and any ``zh-Hant…`` are Traditional; any other ``zh…`` Simplified;
    ``en…`` English."""
    if not tag or len(tag) > 35:
        return None
    parts = tag.strip().lower().replace("_", "-").split("-")
    if parts[0] == "zh":
        rest = set(parts[1:])
        if "hant" in rest or (rest & _TRADITIONAL_REGIONS and "hans" not in rest):
            return "zh-Hant"
        return "zh-Hans"
    if parts[0] == "en":
        return "en"
    return None


def _ranked(header: str) -> list[str]:
    """An Accept-Language header's tags, best first (q=0 and ``*`` dropped)."""
    weighted: list[tuple[float, int, str]] = []
    for i, item in enumerate(header.split(",")[:_MAX_TAGS]):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k.strip().lower() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        tag = tag.strip()
        if tag and tag != "*" and q > 0:
            weighted.append((-q, i, tag))
    return [t for _, _, t in sorted(weighted)]


def negotiate(accept_language: str | None) -> str:
    """The UI language for an ``Accept-Language`` header (English when none fits):
    each tag is first mapped to the language it asks for (:func:`match_language`:
    the script is implied by the region), then ``babel.negotiate_locale`` picks the
    first one available."""
    if not accept_language:
        return "en"
    wanted = [m for m in (match_language(t) for t in _ranked(accept_language)) if m]
    got = negotiate_locale(wanted, LOCALES, sep="-")
    return match_language(got) or "en"


@dataclass(frozen=True)
class Prefs:
    """A request's language (a tag of :data:`LOCALES`) and IANA time zone; ``chosen``:
    the language the request's ``?lang=`` asked for (its cookie is set)."""

    lang: str = "en"
    tz: str = DEFAULT_TZ
    chosen: str | None = None


def prefs_of(scope_or_request: Any) -> Prefs:
    scope = getattr(scope_or_request, "scope", scope_or_request)
    prefs = scope.get(PREFS_KEY)
    return prefs if isinstance(prefs, Prefs) else Prefs()


def cookie_header(name: str, value: str, scope: Scope) -> str:
    """A preference cookie: a year, the whole site, not for scripts nor other sites."""
    flags = f"; Max-Age={COOKIE_AGE}; Path=/; HttpOnly; SameSite=Lax"
    if scope.get("scheme") == "https":
        flags += "; Secure"
    return f"{name}={value}{flags}"


class Preferences:
    """Finds a request's :class:`Prefs` (``scope["unerased.prefs"]``); a GET with a
    usable ``?lang=`` sets the ``lang`` cookie on its response."""

    def __init__(self, app: ASGIApp, zones: frozenset[str]) -> None:
        self.app = app
        self.zones = zones

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        chosen = None
        if scope["method"] in ("GET", "HEAD"):
            chosen = match_language(conn.query_params.get("lang"))
        lang = (chosen or match_language(conn.cookies.get(LANG_COOKIE))
                or negotiate(Headers(scope=scope).get("accept-language")))
        tz = conn.cookies.get(TZ_COOKIE, "")
        scope[PREFS_KEY] = Prefs(lang, tz if tz in self.zones else DEFAULT_TZ, chosen)
        if chosen is None:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(
                    "Set-Cookie", cookie_header(LANG_COOKIE, chosen, scope))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def parse_when(value: Any) -> datetime | None:
    """An aware datetime from a datetime or an ISO 8601 string (naive: UTC); None when
    it is neither."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and 10 <= len(value) <= 40:
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def format_when(value: Any, lang: str | Locale, tz: str, fmt: str = "long") -> Markup:
    """``<time datetime="ISO in UTC">`` with the date as the reader's language writes
    it, in the reader's zone (Babel's ``format_datetime``; ``long`` names the zone). A
    value that is not a date is shown as text; None as nothing. ``lang``: a tag of
    :data:`LOCALES` or its Babel ``Locale`` (parsed once: faster)."""
    if value is None or value == "":
        return Markup("")
    dt = parse_when(value)
    if dt is None:
        return escape(str(value))
    utc = dt.astimezone(UTC)
    iso = utc.isoformat().replace("+00:00", "Z")  # digits, "-", ":", ".", "T", "Z" only
    try:
        zone = zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo(DEFAULT_TZ)
    loc = lang if isinstance(lang, Locale) else babel_locale(lang)
    shown = escape(format_datetime(utc, fmt, tzinfo=zone, locale=loc))
    return Markup(f'<time datetime="{iso}" title="{iso}">{shown}</time>')  # noqa: S704


def load_translations(lang: str) -> Translations:
    """The gettext translations of ``lang``, from its ``.po`` (fuzzy entries unused)."""
    path = (resources.files("unerased.web") / "locale" / babel_locale(lang)
            / "LC_MESSAGES" / "messages.po")
    with path.open("rb") as f:
        catalog = read_po(f, locale=babel_locale(lang))
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain="messages")


def _zone_names() -> list[str]:
    return sorted(z for z in zoneinfo.available_timezones()
                  if z == "UTC" or (z.split("/")[0] in _REGIONS and "/" in z))


_REGIONS = {"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia",
            "Europe", "Indian", "Pacific"}


@dataclass
class I18n:
    """The app's languages: a translations object and a Jinja2 environment for each,
    and the time zones a reader may choose."""

    translations: dict[str, Translations]
    envs: dict[str, Environment]
    zones: frozenset[str] = field(default_factory=lambda: frozenset(zoneinfo.available_timezones()))
    _labels: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    @classmethod
    def load(cls, globals_: dict[str, Any] | None = None) -> I18n:
        translations = {lang: load_translations(lang) for lang in LOCALES}
        envs = {}
        for lang, t in translations.items():
            envs[lang] = environment(globals_)
            install_language(envs[lang], lang, t)
        return cls(translations, envs)

    def env(self, lang: str) -> Environment:
        return self.envs.get(lang, self.envs["en"])

    def gettext(self, lang: str, message: str, **args: Any) -> str:
        """``message`` in ``lang``, ``%(name)s`` filled from ``args`` (plain text: the
        template escapes all of it). A broken translation falls back to English."""
        t = self.translations.get(lang, self.translations["en"])
        text = t.gettext(message)
        if not args:
            return text
        for candidate in (text, message):
            try:
                return candidate % args
            except (KeyError, ValueError, TypeError):
                continue
        return message

    def zone_options(self, lang: str) -> list[dict[str, str]]:
        """The zones a reader may choose (``Region/City`` and UTC), each with its place
        as ``lang`` names it; computed once per language."""
        if lang not in self._labels:
            self._labels[lang] = [
                {"id": z, "region": z.split("/")[0], "label": z if z == "UTC" else get_timezone_location(
                    zoneinfo.ZoneInfo(z), locale=babel_locale(lang))}
                for z in _zone_names()]
        return self._labels[lang]


def install_language(env: Environment, lang: str,
                     translations: Translations | NullTranslations) -> None:
    """Makes ``env`` speak ``lang``: gettext (newstyle: values escaped) with
    ``translations``, and the filters ``|when``, ``|label``, ``|label_keys``,
    ``|number``."""
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]

    loc = Locale.parse(babel_locale(lang))

    @pass_context
    def when(context: Context, value: Any, fmt: str = "long") -> Markup:
        tz = context.get("tz")
        return format_when(value, loc, tz if isinstance(tz, str) else DEFAULT_TZ, fmt)

    def label(value: Any) -> str:
        """A word of :data:`LABELS` in the page's language; any other value as is."""
        if isinstance(value, str) and value in LABELS:
            return translations.gettext(LABELS[value])
        return "" if value is None else str(value)

    def label_keys(value: Any) -> dict[str, Any]:
        """A mapping with its keys as :func:`label` shows them (a chart's series)."""
        return {label(k): v for k, v in value.items()} if isinstance(value, dict) else {}

    def number(value: Any) -> str:
        """A count as the page's language writes it (``12,345``)."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return format_decimal(value, locale=babel_locale(lang))
        return "" if value is None else str(value)

    env.filters["when"] = when
    env.filters["number"] = number
    env.filters["label"] = label
    env.filters["label_keys"] = label_keys
    env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES

