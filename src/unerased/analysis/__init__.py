"""Analysis (deletion rates, time to deletion, mass closures): not built yet."""

from __future__ import annotations

__all__: list[str] = []
