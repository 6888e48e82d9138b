"""Public names of a package, loaded when first used (PEP 562).

A package's ``__init__`` names what other packages may use in ``__all__`` (as httpx
does) but must stay cheap and acyclic: ``unerased.ledger.records`` is imported by the
store's writer, which ``unerased.ledger.log`` imports in turn; ``unerased.watch.detect``
is pure and must not pull the collector (httpx, SQLAlchemy) in; and the command line
starts without SQLAlchemy. So such an ``__init__`` imports its names for type checkers
only and resolves them at first use through :func:`exports`::

    if TYPE_CHECKING:
        from .log import make_checkpoint
    __all__ = ["make_checkpoint"]
    __getattr__ = exports(__name__, {"make_checkpoint": "log"})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def exports(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: name -> the submodule that defines it
    (a name equal to its submodule's is the submodule itself)."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        mod = importlib.import_module(f"{package}.{module}")
        return mod if name == module else getattr(mod, name)

    return __getattr__
