"""Exports: ``jsonl`` and ``csv`` (posts with versions), ``warc`` (raw HTTP captures).

:func:`run_export` writes any of them atomically; :mod:`~unerased.export.warc` (its
:func:`write_warc` loads at first use: warcio is imported only for a WARC).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .._lazy import exports
from ..errors import ExportError

if TYPE_CHECKING:
    from ..store import Store
    from .warc import WarcExportError, write_warc

__all__ = ["FORMATS", "ProgressFn", "WarcExportError", "run_export", "write_warc"]

ProgressFn = Callable[[int, int], None]
FORMATS = ("jsonl", "csv", "warc")


def run_export(
    store: Store, fmt: str, out: Path, *, progress: ProgressFn | None = None
) -> int:
    """Write the export atomically (temp file, then rename); returns the record count."""
    from . import _tabular

    if fmt not in FORMATS:
        raise ExportError(f"export format {fmt!r} is not available yet (have: {', '.join(FORMATS)})")
    tmp = out.with_name(out.name + ".part")
    try:
        with tmp.open("wb") as f:
            if fmt == "jsonl":
                n = _tabular.write_jsonl(store, f, progress)
            elif fmt == "csv":
                n = _tabular.write_csv(store, f, progress)
            else:
                from .warc import write_warc

                n = write_warc(f, store.iter_captures())
        tmp.replace(out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"{out}: {e.strerror}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n


__getattr__ = exports(__name__, {"WarcExportError": "warc", "write_warc": "warc"})
