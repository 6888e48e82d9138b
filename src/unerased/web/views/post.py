"""``/posts/{id}``: one post (row id or platform id): every version with a word-level
diff from the one before (Chinese character by character), its media, the raw
captures that show it, its ledger status (its leaves, and whether the latest
checkpoint includes them) and the links of its evidence downloads (``evidence.py``)."""

from __future__ import annotations

from typing import Any

from ...ledger.receipt import ledger_status
from .._diff import diff_ops
from .._downloads import INLINE_MEDIA
from .._registry import N_, Problem, View, ViewRequest
from ._schemas import NULLABLE_STRING, POST, obj

__all__ = ["VIEWS", "find_post"]


def find_post(r: ViewRequest, ref: str) -> dict[str, Any]:
    """The post ``ref`` names (a row id or a platform post id); 404 when none."""
    got = r.store.get_post(ref)
    if got is None:
        raise Problem(404, N_("no post by that id"))
    return got


def post(r: ViewRequest) -> dict[str, Any]:
    got = find_post(r, r.path["id"])
    before = ""
    for i, v in enumerate(got["versions"]):
        v["diff"] = [list(op) for op in diff_ops(before, v["text"])] if i else []
        before = v["text"]
    for m in got["media"]:
        mime = (m.get("mime") or "").split(";")[0].strip().lower()
        m["inline"] = bool(m.get("sha256")) and mime.startswith("image/") \
            and mime in INLINE_MEDIA
    ledger = ledger_status(r.store, got["id"])
    capture_ids = [x["ref"] for x in ledger["leaves"] if x["kind"] == "captures"]
    base = f"/posts/{got['id']}"
    return {"post": got, "edited": len(got["versions"]) > 1,
            "captures": r.store.captures_by_id(capture_ids), "ledger": ledger,
            "evidence": {"receipt": base + "/receipt.zip",
                         "published_receipt": base + "/receipt.zip?published=true",
                         "warc": base + "/captures.warc.gz"}}


_STR, _INT, _BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
_NULLABLE_INT = {"type": ["integer", "null"]}
VERSION = obj(("seq", "text", "observed_at", "diff"), seq=_INT, version_key=_STR, text=_STR,
              edited_at=NULLABLE_STRING, observed_at=_STR,
              diff={"type": "array", "description": "From the version before: "
                    "[op, text] pairs, op `same`, `del` or `ins` (empty for the first)",
                    "items": {"type": "array", "items": _STR}})
MEDIA = obj(("kind", "inline"), url=NULLABLE_STRING, filename=NULLABLE_STRING,
            mime=NULLABLE_STRING, kind=NULLABLE_STRING, alt=NULLABLE_STRING,
            sha256=NULLABLE_STRING, size=_NULLABLE_INT, inline=_BOOL)
CAPTURE = obj(("id", "started_at", "method", "url", "body_sha256"), id=_STR, seq=_INT,
              started_at=_STR, method=_STR, url=_STR, status=_NULLABLE_INT,
              error=NULLABLE_STRING, body_sha256=_STR, request_body_sha256=_STR,
              body_size=_NULLABLE_INT)
LEDGER = obj(("leaves", "checkpoint", "all_included"),
             leaves={"type": "array", "items": obj(
                 ("kind", "ref", "index", "included"), kind=_STR, ref=_STR,
                 index=_NULLABLE_INT, included=_BOOL)},
             checkpoint={"type": ["object", "null"], "properties": {"size": _INT,
                                                                    "at": _STR}},
             all_included=_BOOL)
_POST = obj(tuple(POST["required"]), **POST["properties"])
_POST["properties"].update(versions={"type": "array", "items": VERSION},
                           media={"type": "array", "items": MEDIA},
                           first_seen=_STR, last_seen=NULLABLE_STRING,
                           deleted_at=NULLABLE_STRING, deleted_reason=NULLABLE_STRING)

VIEWS = [View("/posts/{id}", "post", post, "post.html", summary=N_("A post"),
              schema=obj(("post", "edited", "captures", "ledger", "evidence"), post=_POST,
                         edited=_BOOL, captures={"type": "array", "items": CAPTURE},
                         ledger=LEDGER,
                         evidence=obj(("receipt", "published_receipt", "warc"),
                                      receipt=_STR, published_receipt=_STR, warc=_STR)))]
