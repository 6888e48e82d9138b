"""A post's evidence as downloads: ``/posts/{id}/receipt.zip`` (the receipt
``unerased receipt`` writes; ``?published=true``: the published variant, only what
concerns the post) and ``/posts/{id}/captures.warc.gz`` (the raw captures of that post
alone, as ``unerased export warc`` writes them).

A receipt needs a checkpoint covering the post's leaves. When none does yet, an editor's
request signs one first (as ``unerased receipt`` does); a viewer's request writes
nothing and is answered 409 (ask an editor, or wait for the collector's next
checkpoint)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...errors import ReceiptError
from .._app import require_role, web_of
from .._downloads import download_response, safe_filename
from .._registry import N_, ROLE_RANK, Problem, ViewRequest
from .post import find_post

__all__ = ["ROUTES", "receipt_bytes", "warc_bytes"]


def receipt_bytes(r: ViewRequest, pk: int, *, published: bool) -> bytes:
    """The receipt zip of the post row ``pk``."""
    from ...ledger.receipt import write_receipt

    may_sign = ROLE_RANK.get(r.user["role"], 0) >= ROLE_RANK["editor"]
    with tempfile.TemporaryDirectory(prefix="unerased-receipt-") as tmp:
        out = Path(tmp) / "receipt.zip"
        try:
            write_receipt(r.store, f"row:{pk}", out, checkpoint=may_sign, published=published)
        except ReceiptError as e:
            raise Problem(409, str(e)) from None
        return out.read_bytes()


def warc_bytes(r: ViewRequest, post: dict[str, Any]) -> bytes:
    """The post's raw captures as a WARC file (gzipped records)."""
    from ...export.warc import write_warc
    from ...ledger.receipt import ledger_status

    ids = [x["ref"] for x in ledger_status(r.store, post["id"])["leaves"]
           if x["kind"] == "captures"]
    buf = io.BytesIO()
    write_warc(buf, r.store.capture_pairs(ids), filename=_name(post, "warc.gz"))
    return buf.getvalue()


def _name(post: dict[str, Any], ext: str) -> str:
    return safe_filename(f"{post['platform']}-{post['post_id']}.{ext}")


def _request(request: Request, published: bool = False) -> ViewRequest:
    require_role(request, "viewer")
    return web_of(request).view_request(request, {"published": published})


async def receipt(request: Request) -> Response:
    raw = request.query_params.get("published", "false").lower()
    if raw not in ("true", "false", "1", "0", ""):
        raise Problem(400, N_("published: not a boolean"))
    published = raw in ("true", "1")
    vr = _request(request, published)
    post = await run_in_threadpool(find_post, vr, vr.path["id"])
    body = await run_in_threadpool(receipt_bytes, vr, post["id"], published=published)
    kind = "published-receipt" if published else "receipt"
    return download_response(body, _name(post, kind + ".zip"), "application/zip")


async def warc(request: Request) -> Response:
    vr = _request(request)
    post = await run_in_threadpool(find_post, vr, vr.path["id"])
    body = await run_in_threadpool(warc_bytes, vr, post)
    return download_response(body, _name(post, "warc.gz"))


ROUTES = [Route("/posts/{id}/receipt.zip", receipt, methods=["GET"], name="post_receipt"),
          Route("/posts/{id}/captures.warc.gz", warc, methods=["GET"], name="post_warc")]
