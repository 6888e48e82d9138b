"""``/accounts/{id}``: one account (its row id, or any reference ``posts`` takes) and
its latest events."""

from __future__ import annotations

from typing import Any

from ...errors import UnerasedError
from .._registry import Problem, View, ViewRequest
from ._schemas import ACCOUNT, EVENT, obj

__all__ = ["VIEWS", "find_account"]


def find_account(r: ViewRequest, ref: str) -> dict[str, Any]:
    """The account row ``ref`` names (a row id, or a reference of ``unerased posts``);
    404 when none, 400 when it names several or cannot be read."""
    if ref.isascii() and ref.isdigit():  # a row id: 0 or past the last names nothing
        if not 0 < int(ref) < 2**63:
            raise Problem(404, "no account by that id")
        ref = f"row:{ref}"
    try:
        found = r.store.find_accounts(ref)
    except UnerasedError as e:
        raise Problem(400, str(e)) from None
    if not found:
        raise Problem(404, "no account by that id")
    if len(found) > 1:
        raise Problem(400, "that names several accounts: use its row id")
    return found[0]


def account(r: ViewRequest) -> dict[str, Any]:
    row = find_account(r, r.path["id"])
    return {"account": r.store.account_json(row),
            "events": r.store.events_page(before=None, limit=50, account_pk=row["id"])}


VIEWS = [View(
    "/accounts/{id}", "account", account, "account.html", summary="An account",
    schema=obj(("account", "events"), account=ACCOUNT,
               events={"type": "array", "items": EVENT}),
)]
