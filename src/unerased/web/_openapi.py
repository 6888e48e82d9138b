"""``/api/openapi.json``: an OpenAPI 3.1 document made from the registered views (their
paths, path and query parameters, and the JSON schema of their data)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._registry import View, path_params

__all__ = ["openapi_document"]

_ERROR = {"type": "object", "properties": {"error": {"type": "string"}},
          "required": ["error"]}


def _response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_document(views: Iterable[View], version: str = "0.1.0") -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for v in views:
        if not v.api:
            continue
        parameters: list[dict[str, Any]] = [
            {"name": n, "in": "path", "required": True,
             # as the app checks them (_app.WebApp.view_request): no control character
             "schema": {"type": "string", "minLength": 1, "maxLength": 200,
                        "pattern": "^[^\\x00-\\x1f\\x7f]+$"}}
            for n in path_params(v.path)]
        parameters += [{"name": p.name, "in": "query", "required": False,
                        "description": p.description, "schema": p.schema()} for p in v.params]
        op: dict[str, Any] = {
            "operationId": v.name,
            "summary": v.summary or v.name,
            "parameters": parameters,
            "responses": {
                "200": _response("The page's data.", v.schema),
                "400": _response("A parameter that cannot be used.",
                                 {"$ref": "#/components/schemas/Error"}),
                "401": _response("No session and no (or an unknown) bearer token.",
                                 {"$ref": "#/components/schemas/Error"}),
                "403": _response("The user's role does not allow it.",
                                 {"$ref": "#/components/schemas/Error"}),
                "404": _response("Nothing by that id.",
                                 {"$ref": "#/components/schemas/Error"}),
            },
        }
        if v.role != "viewer":
            op["description"] = f"Needs the {v.role} role."
        paths["/api" + v.path] = {"get": op}
    return {
        "openapi": "3.1.0",
        "info": {"title": "unerased", "version": version,
                 "description": "The JSON twin of every page of the web UI (docs/web.md)."},
        "paths": paths,
        "components": {
            "schemas": {"Error": _ERROR},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "A token of `unerased user token NAME`."},
                "session": {"type": "apiKey", "in": "cookie", "name": "unerased_session"},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
    }
