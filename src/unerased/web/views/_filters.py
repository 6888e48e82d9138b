"""Filter parameters the list pages share: an account, a tag, a time."""

from __future__ import annotations

from typing import Any

from ...model import iso, parse_iso
from .._registry import N_, Param, Problem, ViewRequest

__all__ = ["ACCOUNT_PARAM", "SINCE_PARAM", "TAG_PARAM", "UNTIL_PARAM", "account_pks",
           "iso_param", "key_of"]

ACCOUNT_PARAM = Param("account", description="Only this account: its row id or any "
                      "reference `unerased posts` takes.", max_length=500)
TAG_PATTERN = r"^(?:[^=\x00]*[^=\s\x00][^=\x00]*=[^\x00]*)?$"  # KEY=VALUE, KEY not blank
TAG_PARAM = Param("tag", description="Only accounts with this tag, `KEY=VALUE`.",
                  max_length=200, pattern=TAG_PATTERN)
SINCE_PARAM = Param("since", description="At or after this ISO 8601 date or time (UTC "
                    "when no zone is given).", max_length=40)
UNTIL_PARAM = Param("until", description="Before this ISO 8601 date or time.",
                    max_length=40)


def iso_param(r: ViewRequest, name: str) -> str | None:
    """Parameter ``name`` as the ISO 8601 UTC text the archive stores; 400 when it is
    not a date."""
    raw = r.params.get(name)
    if not raw:
        return None
    try:
        got = iso(parse_iso(str(raw)))
    except (ValueError, OverflowError):
        got = None
    if not got:
        raise Problem(400, N_("%(name)s: not an ISO 8601 date (e.g. 2024-05-01)"), name=name)
    return got


def account_pks(r: ViewRequest) -> list[int] | None:
    """The accounts the ``account`` and ``tag`` parameters leave (both: the accounts
    that are both); None when neither is given."""
    from .account import find_account

    out: list[int] | None = None
    if r.params.get("account"):
        out = [int(find_account(r, r.params["account"])["id"])]
    tag = r.params.get("tag")
    if tag:
        key, sep, value = tag.partition("=")
        if not sep or not key.strip():
            raise Problem(400, N_("tag: KEY=VALUE"))
        pks = r.store.accounts_tagged(key.strip(), value.strip())
        out = pks if out is None else [pk for pk in out if pk in set(pks)]
    return out


def key_of(cursor: list[Any] | None) -> tuple[str, int] | None:
    """A ``[text, id]`` cursor's key; 400 for any other."""
    if cursor is None:
        return None
    if len(cursor) != 2 or not isinstance(cursor[0], str) or not isinstance(cursor[1], int):
        raise Problem(400, N_("cursor: not a cursor of this page"))
    return cursor[0], cursor[1]
