"""How a page is declared: :class:`View` (one data function, an HTML template, a JSON
twin under ``/api``), its query parameters (:class:`Param`), what the data function
gets (:class:`ViewRequest`), and :class:`Problem` (an HTTP error a view raises).

A view declares its parameters and the JSON schema of its data: the app parses and
checks parameters before the data function runs (a bad value is a 400, never a 500)
and the OpenAPI document is made from the same declarations.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ..store import Store
    from ._config import WebConfig

__all__ = ["ROLE_RANK", "Action", "N_", "Param", "Problem", "View", "ViewRequest", "parse_params",
           "path_params"]

ROLE_RANK = {"viewer": 1, "editor": 2, "admin": 3}

Kind = Literal["string", "integer", "boolean"]


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark, translate later"
    """Marks ``message`` for ``pybabel extract`` without translating it: it is
    translated where it is shown (a Problem's message on the HTML error page, a View's
    summary in the menu)."""
    return message


class Problem(Exception):
    """An HTTP error a view raises: ``status`` and a one-line message (shown on the HTML
    page in the reader's language, and as ``{"error": …}`` in JSON, in English). Mark
    the message with ``N_`` and give the values it names as ``args``:
    ``Problem(400, N_("%(name)s: not an integer"), name=name)``."""

    def __init__(self, status: int, message: str, **args: Any) -> None:
        text = message % args if args else message
        super().__init__(text)
        self.status = status
        self.message = text  # English: the JSON's "error"
        self.template = message  # marked with N_: the HTML page shows it translated
        self.args_ = args  # the template's %(name)s values (hostile text: escaped)


@dataclass(frozen=True)
class Param:
    """A query parameter: its name, type, and limits (checked before the view runs)."""

    name: str
    kind: Kind = "string"
    description: str = ""
    default: Any = None
    enum: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int = 1000
    pattern: str | None = None  # what the view accepts, for the OpenAPI document

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        if self.enum is not None:
            out["enum"] = list(self.enum)
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.kind == "string" and self.enum is None:
            out["maxLength"] = self.max_length
            out["pattern"] = self.pattern or "^[^\\x00]*$"  # a NUL is refused (parse)
        if self.default is not None:
            out["default"] = self.default
        return out

    def parse(self, raw: str) -> Any:
        if self.kind == "integer":
            if not re.fullmatch(r"[+-]?\d{1,18}", raw.strip()):
                raise Problem(400, N_("%(name)s: not an integer"), name=self.name)
            value: Any = int(raw)
            if self.minimum is not None and value < self.minimum:
                raise Problem(400, N_("%(name)s: at least %(n)s"), name=self.name,
                              n=self.minimum)
            if self.maximum is not None and value > self.maximum:
                raise Problem(400, N_("%(name)s: at most %(n)s"), name=self.name,
                              n=self.maximum)
            return value
        if self.kind == "boolean":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off", ""):
                return False
            raise Problem(400, N_("%(name)s: not a boolean"), name=self.name)
        if len(raw) > self.max_length:
            raise Problem(400, N_("%(name)s: longer than %(n)s characters"),
                          name=self.name, n=self.max_length)
        if "\x00" in raw:
            raise Problem(400, N_("%(name)s: a NUL character"), name=self.name)
        if self.enum is not None and raw not in self.enum:
            raise Problem(400, N_("%(name)s: one of %(choices)s"), name=self.name,
                          choices=", ".join(self.enum))
        return raw


def parse_params(params: tuple[Param, ...], query: Mapping[str, str]) -> dict[str, Any]:
    """Every declared parameter: its parsed value, or its default when absent or empty."""
    out: dict[str, Any] = {}
    for p in params:
        raw = query.get(p.name)
        out[p.name] = p.default if raw is None or (raw == "" and p.kind != "string") \
            else p.parse(raw)
    return out


def path_params(path: str) -> list[str]:
    """The ``{names}`` of a route path."""
    return re.findall(r"{(\w+)(?::\w+)?}", path)


@dataclass
class ViewRequest:
    """What a data function gets: the store, the parsed query and path parameters, the
    signed-in user (a dict with ``name`` and ``role``), the config, and ``now`` (from
    the app's clock). A data function runs in a worker thread: it may read the store."""

    store: Store
    params: dict[str, Any]
    path: dict[str, str]
    user: dict[str, Any]
    config: WebConfig
    now: datetime
    lang: str = "en"


DataFn = Callable[[ViewRequest], dict[str, Any]]


@dataclass(frozen=True)
class View:
    """One page: ``path`` (``/accounts/{id}``), a unique ``name``, the data function,
    its Jinja2 ``template`` (under ``web/templates/``), its ``params``, the JSON
    ``schema`` of the data, and the ``role`` it needs. ``api`` False: no JSON twin (a
    feed). ``media_type``: of the rendered template (``application/atom+xml`` for a
    feed)."""

    path: str
    name: str
    data: DataFn
    template: str
    summary: str = ""
    params: tuple[Param, ...] = ()
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    role: str = "viewer"
    api: bool = True
    media_type: str = "text/html; charset=utf-8"


ActionFn = Callable[[ViewRequest, dict[str, str]], "str | dict[str, Any]"]


@dataclass(frozen=True)
class Action:
    """A form's POST handler at ``path``: ``handle(request, form)`` runs in a worker
    thread and returns where to redirect (303), or a data dict that ``template``
    renders (a result shown once: a new user's login link). The CSRF token is checked
    before it runs; ``role`` is the role it needs."""

    path: str
    name: str
    handle: ActionFn
    role: str = "editor"
    fields: tuple[str, ...] = ()
    template: str | None = None
