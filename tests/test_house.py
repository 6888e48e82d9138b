"""The rules of the house, checked on the source (see docs/architecture.md):

- SQL lives only in ``store/``: no other module imports SQLAlchemy or Alembic;
- no module imports another package's ``_private`` module;
- nothing imports upward (bottom: pure; middle: store, net, sources, importers; top: the
  rest, watch and streams among them);
- every package's ``__init__`` names what others may use in ``__all__``, and every name
  there resolves; importing the pure modules or the command line loads neither
  SQLAlchemy nor httpx.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "unerased"

BOTTOM = ("unerased.errors", "unerased.model", "unerased._lazy", "unerased._prepare",
          "unerased._files", "unerased.refs",
          "unerased.ledger", "unerased.ledger.merkle", "unerased.ledger.records",
          "unerased.ledger.note", "unerased.ledger.timestamp", "unerased.ledger.published",
          "unerased.text",
          "unerased.alerts.rules")
MIDDLE = ("unerased.store", "unerased.net", "unerased.sources", "unerased.importers")


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(PKG.rglob("*.py")):
        parts = list(p.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = p
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _imports(name: str) -> Iterator[tuple[str, bool]]:
    """(imported module, under ``if TYPE_CHECKING``) for every import in a module,
    function-level ones included."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    package = name if _is_package(name) else name.rsplit(".", 1)[0]
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only |= {id(n) for b in node.body for n in ast.walk(b)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, id(node) in typing_only
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for a in node.names:
                full = f"{base}.{a.name}"
                yield (full if full in MODULES else base), id(node) in typing_only


def _layer(name: str) -> int:
    def within(prefixes: tuple[str, ...]) -> bool:
        return any(name == p or name.startswith(p + ".") and p != "unerased.ledger"
                   for p in prefixes)
    if within(BOTTOM):
        return 0
    if within(MIDDLE):
        return 1
    return 2


def test_the_scan_sees_the_code() -> None:
    assert {"unerased.store._writer", "unerased.cli", "unerased.ledger.verify"} <= set(MODULES)
    got = set(_imports("unerased.ledger.verify"))
    assert {("unerased.store", False), ("unerased.store", True),
            ("unerased.ledger.records", False)} <= got
    assert _layer("unerased.ledger.merkle") == 0 and _layer("unerased.ledger.log") == 2
    assert _layer("unerased.text.hostile") == 0 and _layer("unerased.store._ledger") == 1
    assert _layer("unerased._files") == 0
    # streams are top layer, beside watch: above net (ws_connect) and sources (parsers)
    assert _layer("unerased.streams.firehose") == _layer("unerased.watch.detect") == 2
    assert _layer("unerased.alerts.rules") == 0 and _layer("unerased.alerts.deliver") == 2
    # the web UI is top layer: it reads the store, adds watches through watch
    assert _layer("unerased.web") == _layer("unerased.web.views.accounts") == 2
    assert "unerased.web._app" in MODULES


def test_sql_lives_only_in_the_store() -> None:
    bad = [(m, t) for m in MODULES for t, _ in _imports(m)
           if t.split(".")[0] in ("sqlalchemy", "alembic")
           and not (m == "unerased.store" or m.startswith("unerased.store."))]
    assert bad == []


def test_no_module_imports_another_packages_private_module() -> None:
    bad = []
    for m in MODULES:
        for t, _ in _imports(m):
            if not t.startswith("unerased."):
                continue
            parts = t.split(".")
            for k, part in enumerate(parts):
                if part.startswith("_") and not part.startswith("__"):
                    owner = ".".join(parts[:k])
                    if not (m == owner or m.startswith(owner + ".")):
                        bad.append((m, t))
                    break
    assert bad == []


def test_nothing_imports_upward() -> None:
    bad = [(m, t) for m in MODULES for t, typing_only in _imports(m)
           if t.startswith("unerased.") and not typing_only and _layer(t) > _layer(m)]
    assert bad == []


PACKAGES = sorted(m for m in MODULES if _is_package(m) and m != "unerased"
                  and ".migrations" not in m)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_names_its_public_interface(package: str) -> None:
    mod = importlib.import_module(package)
    names = getattr(mod, "__all__", None)
    assert isinstance(names, list), f"{package} has no __all__"
    assert len(set(names)) == len(names)
    for n in names:
        assert getattr(mod, n) is not None, f"{package}.{n}"


def test_pure_modules_the_cli_and_ingest_load_neither_sqlalchemy_nor_httpx() -> None:
    code = (
        "import sys, json\n"
        "import unerased.model, unerased.errors, unerased.text, unerased.ledger.merkle\n"
        "import unerased.ledger.records, unerased.ledger.note, unerased.watch.detect\n"
        "import unerased.alerts.rules\n"
        "import unerased.cli, unerased.ingest  # `import` forks its reader before the store\n"
        "print(json.dumps(sorted(m for m in ('sqlalchemy', 'httpx', 'alembic')"
        " if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(SRC)}, check=True).stdout
    assert json.loads(out) == []
