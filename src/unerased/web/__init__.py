"""The web UI and JSON API (``unerased serve``): not built yet; its routes are planned
in docs/architecture.md."""

from __future__ import annotations

__all__: list[str] = []
