"""``/import``: an editor uploads their own X, Mastodon or Bluesky export; it is imported
in the background (``_jobs``: the code of ``unerased import …``) and ``/import/{job}``
shows its progress (a page that refreshes itself, no JavaScript), then its summary or
its one-line error. ``POST /import`` (the form) and ``POST /api/import`` (scripts, with a
bearer token) take the upload (``_upload``: streamed to an owner-only file, capped)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from .._jobs import KINDS, Busy, jobs_of, max_upload
from .._registry import N_, Problem, View, ViewRequest
from .._render import json_body
from .._upload import receive_upload
from ._schemas import NULLABLE_STRING, obj

__all__ = ["FILE_FIELD", "REFRESH_SECONDS", "ROUTES", "VIEWS"]

FILE_FIELD = "archive"
REFRESH_SECONDS = 2
KIND_CHOICES = ("auto", *KINDS)


def import_page(r: ViewRequest) -> dict[str, Any]:
    jobs = jobs_of(r.config)
    recent = [j.to_json() for j in jobs.recent()]
    busy = next((j["id"] for j in recent if j["active"]), None)
    return {"max_bytes": max_upload(r.config), "kinds": list(KIND_CHOICES),
            "busy": busy, "jobs": recent}


def import_job(r: ViewRequest) -> dict[str, Any]:
    job = jobs_of(r.config).get(r.path["job"])
    if job is None:
        raise Problem(404, N_("no such import (the jobs of a server are forgotten when it "
                              "restarts)"))
    data = job.to_json()
    data["refresh"] = REFRESH_SECONDS if job.active else None
    return data


async def upload(request: Request) -> Response:
    """The form's POST: reserve the one import slot, stream the file in, start the job."""
    from .._app import is_api, require_role, web_of

    web = web_of(request)
    user = require_role(request, "editor")
    jobs = jobs_of(web.config)
    try:
        job = jobs.reserve(str(user["name"]), None)
    except Busy as e:
        raise Problem(409, N_("busy: another import is running (job %(job)s); try again "
                              "when it has ended"), job=e.job) from None
    try:
        got = await receive_upload(request, FILE_FIELD, max_upload(web.config),
                                   lambda name: jobs.open_upload(job, name))
        kind = got.fields.get("kind") or "auto"
        if kind not in KIND_CHOICES:
            raise Problem(400, N_("kind: one of %(choices)s"), choices=", ".join(KIND_CHOICES))
        assert got.path is not None
        job.kind = None if kind == "auto" else kind
        jobs.start(job, got.path, web.store)
    except BaseException:
        jobs.abandon(job)
        raise
    if is_api(request):
        where = f"/api/import/{job.id}"
        return Response(json_body({"id": job.id, "url": where}), 202,
                        media_type="application/json", headers={"Location": where})
    return RedirectResponse(f"/import/{job.id}", 303)


JOB = obj(("id", "stage", "active", "posts", "summary", "error"),
          id={"type": "string"}, user={"type": "string"}, kind=NULLABLE_STRING,
          name={"type": "string"}, size={"type": "integer"},
          stage={"type": "string", "enum": ["receiving", "detecting", "reading", "finishing",
                                            "done", "failed"]},
          active={"type": "boolean"}, bytes_done={"type": "integer"},
          bytes_total={"type": ["integer", "null"]}, percent={"type": ["integer", "null"]},
          posts={"type": "integer"}, summary={"type": ["object", "null"]},
          error=NULLABLE_STRING, refresh={"type": ["integer", "null"]})

VIEWS = [
    View("/import", "import", import_page, "import.html", summary=N_("Import an archive"),
         role="editor",
         schema=obj(("max_bytes", "kinds", "busy", "jobs"), max_bytes={"type": "integer"},
                    kinds={"type": "array", "items": {"type": "string"}},
                    busy=NULLABLE_STRING, jobs={"type": "array", "items": JOB})),
    View("/import/{job}", "import_job", import_job, "import_job.html",
         summary=N_("An import's progress"), role="editor", schema=JOB),
]

ROUTES: list[BaseRoute] = [
    Route("/import", upload, methods=["POST"], name="import_upload"),
    Route("/api/import", upload, methods=["POST"], name="api:import_upload"),
]
