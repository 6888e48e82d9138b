"""What an importer tells the import summary besides snapshots."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ImportNotice"]


@dataclass(frozen=True, slots=True)
class ImportNotice:
    """Something the user must hear about an import that is not an error: the import
    goes on, and the summary names it (e.g. ``note_ambiguous``: a long tweet whose full
    text could not be told apart from another's, kept with the text its tweet shows).

    ``code`` is a stable identifier, ``post_id`` the post concerned (or None),
    ``message`` one line for people."""

    code: str
    message: str
    post_id: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"code": self.code, "post_id": self.post_id, "message": self.message}
