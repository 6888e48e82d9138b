"""The home's settings: ``HOME/config.toml`` (owner-only), read with :mod:`tomllib`.

Every key is declared in :data:`KEYS` (its kind, default and meaning); the file holds
only the keys that were set, so a default that changes in a later version reaches the
homes that never set it. ``budgets.HOST`` keys are open-ended (one per host). A value is
checked when it is set (``unerased config KEY VALUE``) and again when the file is read:
an unknown key or a bad value is a :class:`~unerased.errors.UsageError` naming the file
and the key, never a silent default. Alert rules are not here: they live in the
database, so that several collectors share them.

The file is written by :func:`save` (a small TOML writer: tables of scalar values, which
is all this file holds), atomically (a temporary file renamed over it), 0600.

Loads nothing heavy: the command line imports it.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from ._files import mkstemp_private, private_dir
from .errors import UsageError, one_line

__all__ = [
    "CONFIG_FILE",
    "KEYS",
    "Key",
    "Settings",
    "budget_rate",
    "config_path",
    "format_duration",
    "load",
    "parse_duration",
    "save",
    "set_value",
    "shown",
    "to_toml",
]

CONFIG_FILE = "config.toml"
BUDGET_PREFIX = "budgets."


@dataclass(frozen=True, slots=True)
class Key:
    """One setting: ``kind`` is ``duration`` (seconds, or ``90s``, ``15m``, ``2h``,
    ``1d``), ``int``, ``port``, ``bool``, ``str``, ``secret`` (shown masked), ``proxy``
    (a proxy URL or ``env``), ``url`` (http(s)/ws(s)) or ``budget`` (``N/DURATION``:
    at most N requests per DURATION)."""

    name: str
    kind: str
    default: Any
    doc: str


KEYS: dict[str, Key] = {k.name: k for k in (
    Key("schedule.adaptive", "bool", True,
        "adapt each account's interval to its posting rate, risk tag and fresh posts "
        "(docs/schedule.md); false: every account every schedule.interval"),
    Key("schedule.interval", "duration", 900.0,
        "how often a watched account is checked (adaptive: the interval of an account "
        "posting 4 times a day)"),
    Key("schedule.min_interval", "duration", 60.0, "the adaptive schedule's shortest interval"),
    Key("schedule.max_interval", "duration", 21600.0,
        "the adaptive schedule's longest interval"),
    Key("schedule.recheck_interval", "duration", 300.0,
        "how soon an account is checked again while something awaits confirmation"),
    Key("schedule.lease", "duration", 600.0,
        "a claim's life: another collector may take over an account after it"),
    Key("schedule.max_in_flight", "int", 200,
        "checks one collector runs at once (all hosts together)"),
    Key("schedule.per_host_concurrency", "int", 2,
        "checks one collector runs at once against one host"),
    Key("detect.confirmations", "int", 2,
        "GONE answers on separate checks needed to declare a deletion"),
    Key("detect.min_confirm_interval", "duration", 300.0,
        "how far apart two checks must be to count as separate confirmations"),
    Key("budgets.default", "budget", "300/5m",
        "requests per host when no budgets.HOST names the host (Mastodon's own limit)"),
    Key("proxy", "proxy", None,
        "the proxy of every request when no watch, --proxy or UNERASED_PROXY names one"),
    Key("smtp.host", "str", None, "SMTP server for mailto: alerts"),
    Key("smtp.port", "port", 587, "SMTP port"),
    Key("smtp.username", "str", None, "SMTP login"),
    Key("smtp.password", "secret", None, "SMTP password (shown masked)"),
    Key("smtp.sender", "str", None, "the From: address of alert e-mails"),
    Key("smtp.starttls", "bool", True, "upgrade the SMTP connection with STARTTLS"),
    Key("streams.firehose", "bool", False,
        "follow the AT Protocol firehose (reveals nothing, but receives every event of the "
        "relay or PDS)"),
    Key("streams.firehose_url", "url", None,
        "the relay or PDS whose subscribeRepos is followed"),
    Key("streams.jetstream", "bool", False,
        "follow Jetstream (its operator learns the watched DIDs: wantedDids)"),
    Key("streams.jetstream_url", "url", None, "the Jetstream instance"),
    Key("streams.mastodon", "bool", False,
        "follow Mastodon's streaming API (needs a token; the instance learns the follows)"),
    Key("heartbeat.interval", "duration", 60.0,
        "how often the collector records (and sends) its heartbeat"),
)}

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.I)
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_HOST = re.compile(r"^[A-Za-z0-9.\-\[\]:]{1,255}$")


def parse_duration(text: str | float, what: str = "duration") -> float:
    """Seconds from ``90``, ``90s``, ``15m``, ``2h``, ``1d``, ``1w`` (positive, finite);
    UsageError otherwise."""
    if isinstance(text, bool):
        raise UsageError(f"{what}: {text!r} is not a duration (e.g. 90s, 15m, 2h, 1d)")
    if isinstance(text, int | float):
        v = float(text)
    else:
        m = _DURATION.match(str(text))
        if not m:
            raise UsageError(one_line(
                f"{what}: {str(text)[:80]!r} is not a duration (e.g. 90s, 15m, 2h, 1d)"))
        v = float(m.group(1)) * _UNITS[(m.group(2) or "s").lower()]
    if not math.isfinite(v) or v <= 0:
        raise UsageError(f"{what}: a duration must be positive, not {text!r}")
    return v


def format_duration(seconds: float) -> str:
    """The shortest exact spelling: ``15m``, ``1h``, ``90s``, ``1.5s``."""
    for unit in ("w", "d", "h", "m"):
        n = seconds / _UNITS[unit]
        if n >= 1 and n == int(n):
            return f"{int(n)}{unit}"
    return f"{int(seconds)}s" if seconds == int(seconds) else f"{seconds:g}s"


def budget_rate(value: str) -> tuple[int, float]:
    """``"300/5m"`` → ``(300, 300.0)``: at most 300 requests per 300 seconds."""
    n, sep, per = str(value).partition("/")
    try:
        count = int(n.strip())
    except ValueError:
        count = -1
    if not sep or count < 1:
        raise UsageError(f"budget: {value!r} is not N/DURATION (e.g. 300/5m)")
    return count, parse_duration(per, "budget")


def _key(name: str) -> Key:
    k = KEYS.get(name)
    if k is not None:
        return k
    if name.startswith(BUDGET_PREFIX) and _HOST.match(name[len(BUDGET_PREFIX):]):
        return Key(name, "budget", None, f"requests to {name[len(BUDGET_PREFIX):]}")
    raise UsageError(one_line(f"unknown setting {name!r} (see `unerased config`)"))


def _check(k: Key, value: Any) -> Any:
    """``value`` (text from the command line, or what the file holds) as the key's type."""
    what = k.name
    if k.kind == "duration":
        return parse_duration(value, what)
    if k.kind in ("int", "port"):
        try:
            v = int(str(value).strip()) if not isinstance(value, bool) else -1
        except ValueError:
            v = -1
        lo, hi = (1, 65535) if k.kind == "port" else (1, 10**9)
        if not lo <= v <= hi:
            raise UsageError(f"{what}: {value!r} is not an integer in {lo}..{hi}")
        return v
    if k.kind == "bool":
        if isinstance(value, bool):
            return value
        t = str(value).strip().lower()
        if t in ("true", "yes", "on", "1"):
            return True
        if t in ("false", "no", "off", "0"):
            return False
        raise UsageError(f"{what}: {value!r} is not true or false")
    text = str(value).strip() if isinstance(value, str) else None
    if text is None or "\n" in text or not text:
        raise UsageError(f"{what}: {value!r} is not a non-empty line of text")
    if k.kind == "budget":
        budget_rate(text)
    elif k.kind == "proxy":
        if text.lower() != "env":
            from .net import check_proxy  # httpx: only when a proxy is set

            text = check_proxy(text, what)
    elif k.kind == "url" and not re.match(r"^(https?|wss?)://[^\s/]+", text):
        raise UsageError(f"{what}: {text[:80]!r} is not an http(s) or ws(s) URL")
    return text


@dataclass(frozen=True, slots=True)
class Settings:
    """What the file set (``values``, checked) over the defaults. ``settings[key]``
    gives the value in force; :meth:`budgets` every host's budget."""

    values: Mapping[str, Any]
    path: Path | None = None

    def __getitem__(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        return _key(name).default

    def get(self, name: str, default: Any = None) -> Any:
        v = self[name]
        return default if v is None else v

    def duration(self, name: str) -> timedelta:
        return timedelta(seconds=float(self[name]))

    def budgets(self) -> dict[str, tuple[int, float]]:
        """Host (``default`` for every other) → (requests, per seconds)."""
        out = {"default": budget_rate(self["budgets.default"])}
        for k, v in self.values.items():
            if k.startswith(BUDGET_PREFIX) and k != "budgets.default":
                out[k[len(BUDGET_PREFIX):].lower()] = budget_rate(v)
        return out

    def items(self) -> list[tuple[str, Any, bool]]:
        """Every key with its value in force and whether it was set (defaults too)."""
        names = list(KEYS) + sorted(k for k in self.values if k not in KEYS)
        return [(n, self[n], n in self.values) for n in names]

    def proxy_mapping(self) -> dict[str, Any]:
        """The mapping :func:`unerased.net.effective_proxy` reads the proxy from."""
        return {"proxy": self["proxy"]}


def config_path(home: Path) -> Path:
    return Path(home) / CONFIG_FILE


def _flatten(data: Mapping[str, Any], path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, v in data.items():
        if isinstance(v, dict):
            for sub, sv in v.items():
                if isinstance(sv, dict):
                    raise UsageError(one_line(f"{path}: {name}.{sub} is a table; a value "
                                              "was expected"))
                out[f"{name}.{sub}"] = sv
        else:
            out[name] = v
    return out


def load(home: Path) -> Settings:
    """The home's settings (the defaults when it has no config file). Reads only: never
    creates the home. UsageError (one line, naming the file) for a file that cannot be
    read or holds an unknown key or a bad value."""
    path = config_path(home)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return Settings({}, None)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(one_line(f"{path}: not valid TOML: {e}")) from None
    except OSError as e:
        raise UsageError(one_line(f"{path}: cannot be read: {e.strerror or e}")) from None
    values: dict[str, Any] = {}
    for name, v in _flatten(data, path).items():
        try:
            values[name] = _check(_key(name), v)
        except UsageError as e:
            raise UsageError(one_line(f"{path}: {e}")) from None
    return Settings(values, path)


def set_value(settings: Settings, name: str, value: str) -> Settings:
    """``settings`` with ``name`` set to ``value`` (checked; UsageError otherwise). The
    value ``default`` removes the key (its default is then in force)."""
    k = _key(name)
    values = dict(settings.values)
    if value.strip().lower() == "default":
        values.pop(name, None)
    else:
        values[name] = _check(k, value)
    return Settings(values, settings.path)


def _toml_key(name: str) -> str:
    if _BARE_KEY.match(name):
        return name
    return _toml_str(name)


def _toml_str(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(k: Key, v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if k.kind == "duration":
        return _toml_str(format_duration(float(v)))
    if isinstance(v, int):
        return str(v)
    return _toml_str(str(v))


def to_toml(values: Mapping[str, Any]) -> str:
    """The TOML text of ``values`` (dotted names → tables), keys in a stable order."""
    top: list[str] = []
    tables: dict[str, list[str]] = {}
    for name in sorted(values):
        section, dot, sub = name.partition(".")
        line_key = sub if dot else name
        line = f"{_toml_key(line_key)} = {_toml_value(_key(name), values[name])}"
        if dot:
            tables.setdefault(section, []).append(line)
        else:
            top.append(line)
    parts = ["# unerased settings (see docs/operating.md); `unerased config` shows and sets them"]
    parts += top
    for section in sorted(tables):
        parts += ["", f"[{_toml_key(section)}]", *tables[section]]
    return "\n".join(parts) + "\n"


def save(home: Path, settings: Settings) -> Path:
    """Write the settings to ``HOME/config.toml`` (0600, atomically; the home is made
    0700 when it does not exist). Returns the path."""
    path = config_path(home)
    private_dir(home)
    fd, tmp = mkstemp_private(home, ".config-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(to_toml(settings.values))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def shown(k: str, value: Any) -> Any:
    """A value as ``unerased config`` prints it: secrets masked, a proxy's password
    masked, durations spelt."""
    if value is None:
        return None
    kind = _key(k).kind
    if kind == "secret":
        return "***"
    if kind == "proxy":
        return re.sub(r"(//[^/@:\s]*:)[^/@\s]*@", r"\1***@", str(value))
    if kind == "duration":
        return format_duration(float(value))
    return value
