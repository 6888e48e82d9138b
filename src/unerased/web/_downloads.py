"""Serving what the archive captured without letting it act on the app's origin.

A raw captured body, and any media that can carry script (SVG, HTML, XML, PDF, anything
not on the allow-list of plain image, video and audio types), is only ever a download:
``Content-Disposition: attachment``, ``X-Content-Type-Options: nosniff`` and
``Content-Security-Policy: sandbox`` (a browser that renders it anyway runs it in an
opaque origin with no script). Only the allow-listed media types are served inline,
with the same headers but ``inline``.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

__all__ = ["INLINE_MEDIA", "download_response", "media_response", "routes", "safe_filename"]

INLINE_MEDIA = frozenset({
    "image/jpeg", "image/png", "image/gif", "image/webp", "image/avif",
    "video/mp4", "video/webm", "video/ogg", "video/quicktime",
    "audio/mpeg", "audio/ogg", "audio/mp4", "audio/aac", "audio/wav", "audio/webm",
    "audio/flac",
})
_SANDBOX = "sandbox; default-src 'none'"


def safe_filename(name: str, fallback: str = "download.bin") -> str:
    """A file name for Content-Disposition: ASCII letters, digits, ``.-_`` only."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:120]
    return clean or fallback


def download_response(body: bytes, filename: str,
                      media_type: str = "application/octet-stream") -> Response:
    """``body`` as a download, never rendered: attachment, nosniff, a sandbox CSP. The
    media type is sent as ``application/octet-stream`` unless it is an allow-listed
    one (a browser told ``text/html`` might still render it)."""
    kind = media_type if media_type in INLINE_MEDIA else "application/octet-stream"
    return Response(body, media_type=kind, headers={
        "Content-Disposition": f'attachment; filename="{safe_filename(filename)}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": _SANDBOX,
    })


def media_response(body: bytes, media_type: str, filename: str) -> Response:
    """A media file: inline when its type is an allow-listed image, video or audio
    type, a download (:func:`download_response`) otherwise."""
    kind = media_type.split(";")[0].strip().lower()
    if kind not in INLINE_MEDIA:
        return download_response(body, filename)
    return Response(body, media_type=kind, headers={
        "Content-Disposition": f'inline; filename="{safe_filename(filename)}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": _SANDBOX,
    })


_SHA256 = re.compile(r"[0-9a-f]{64}")


def _blob_of(request: Any, digest: str) -> bytes:
    """The stored blob ``digest`` (404 when there is none)."""
    from ._registry import N_, Problem

    web = request.app.state.web
    if not _SHA256.fullmatch(digest) or not web.store.blobs.exists(digest):
        raise Problem(404, N_("no stored file by that digest"))
    data: bytes = web.store.blobs.read(digest)
    return data


async def blob_download(request: Any) -> Response:
    """``/blobs/{sha256}``: any stored blob (a raw captured body, a media file), always
    as a download."""
    from starlette.concurrency import run_in_threadpool

    from ._app import require_role

    require_role(request, "viewer")
    digest = request.path_params["sha256"]
    data = await run_in_threadpool(_blob_of, request, digest)
    return download_response(data, f"{digest}.bin")


async def media_file(request: Any) -> Response:
    """``/media/{sha256}``: a media file, inline only for the allow-listed types."""
    from starlette.concurrency import run_in_threadpool

    from ._app import require_role

    require_role(request, "viewer")
    digest = request.path_params["sha256"]
    web = request.app.state.web
    data = await run_in_threadpool(_blob_of, request, digest)
    info = await run_in_threadpool(web.store.media_info, digest) or {}
    return media_response(data, info.get("mime") or "application/octet-stream",
                          info.get("filename") or f"{digest}.bin")


def routes() -> list[Any]:
    from starlette.routing import Route

    return [Route("/blobs/{sha256}", blob_download, methods=["GET"], name="blob"),
            Route("/media/{sha256}", media_file, methods=["GET"], name="media")]
