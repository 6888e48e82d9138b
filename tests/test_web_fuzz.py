"""The JSON API fuzzed against its own OpenAPI document (schemathesis, in process over
ASGI, authenticated with an API token): for every operation of ``/api/openapi.json``, a
bounded, derandomized run of schema-valid and schema-invalid requests; no answer is a
500, every answer conforms to the document (status, content type, JSON schema), a
schema-valid request is refused (400) only for what the document cannot describe (an
opaque cursor, an id naming nothing readable, a calendar date), and a request without the token is
refused (schemathesis's ignored_auth)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from web_world import Web, make_web

try:
    import schemathesis
    from schemathesis import GenerationMode
    from schemathesis.checks import negative_data_rejection, positive_data_acceptance
except ImportError:  # pragma: no cover - the test extra has it
    pytest.fail("schemathesis is missing: pip install -e '.[test]' (or scripts/test)",
                pytrace=False)

from hypothesis import HealthCheck, Phase, given, settings

EXAMPLES = 25  # per operation and mode: the whole run stays within seconds
# what the document cannot describe: an opaque cursor, an id naming nothing readable, a
# date that must exist in the calendar
OPAQUE = ("cursor:", "id:", "'row:", "since:", "until:")


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    # schemathesis's ASGI client sends Host: testserver
    w = make_web(tmp_path / "home", allow_hosts=("testserver",))
    yield w
    w.close()


def _token(web: Web, role: str = "admin") -> str:
    from unerased.web import issue_api_token

    user = web.store.add_user(f"fuzzer-{role}", role, web.clock())
    return issue_api_token(web.store, user["id"], web.clock())


def _fuzz_operation(op: Any, label: str, mode: GenerationMode, headers: dict[str, str],
                    seen: dict[str, int], examples: int = EXAMPLES) -> None:
    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        # schemathesis's checks: no 5xx, status/content type/headers/body conform to the
        # document, the token not ignored (a repeated scalar parameter, ?limit=1&limit=2,
        # is read as its last value, not refused: hence negative_data_rejection off)
        response = case.call_and_validate(headers=headers, excluded_checks=[
            positive_data_acceptance, negative_data_rejection])
        seen[label] = seen.get(label, 0) + 1
        assert response.status_code < 500, (label, response.text)
        if mode is GenerationMode.POSITIVE and response.status_code == 400:
            error = response.json()["error"]
            assert error.startswith(OPAQUE), (label, case.path_parameters, case.query, error)

    run()


def _fuzz(schema: Any, mode: GenerationMode, headers: dict[str, str],
          seen: dict[str, int], examples: int = EXAMPLES) -> list[str]:
    """Every operation's failure (one line each, its first 2000 characters)."""
    failures: list[str] = []
    for result in schema.get_all_operations():
        op = result.ok()
        label = f"{op.method.upper()} {op.path} ({mode.value})"
        try:
            _fuzz_operation(op, label, mode, headers, seen, examples)
        except Exception as e:  # noqa: BLE001 - every operation's failure is reported
            failures.append(f"{label}: {type(e).__name__}: {str(e)[:2000]}")
    return failures


def test_the_json_api_against_its_openapi_document(web: Web) -> None:
    token = _token(web)
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", web.app, headers=headers)
    ops = [r.ok() for r in schema.get_all_operations()]
    doc_paths = {op.path for op in ops}
    assert {"/api/", "/api/accounts", "/api/accounts/{id}", "/api/posts/{id}",
            "/api/events", "/api/search"} <= doc_paths
    seen: dict[str, int] = {}
    failures = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        failures += _fuzz(schema, mode, headers, seen)
    assert failures == [], "\n\n".join(failures)
    positive = [k for k in seen if "(positive)" in k]
    assert len(positive) == len(ops)  # every operation was called
    assert sum(seen.values()) >= 2 * len(ops)


def test_a_viewer_token_gets_answers_the_document_declares(web: Web) -> None:
    """A viewer's token on every operation (the admins' among them: 403, as declared)."""
    headers = {"Authorization": f"Bearer {_token(web, 'viewer')}"}
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", web.app, headers=headers)
    seen: dict[str, int] = {}
    failures = _fuzz(schema, GenerationMode.POSITIVE, headers, seen, examples=5)
    assert failures == [], "\n\n".join(failures)
    users = web.client().get("/api/users", headers=headers)
    assert users.status_code == 403 and "error" in users.json()


def test_the_fuzzer_finds_a_500(web: Web) -> None:
    """The harness itself: a view that fails is reported, not passed over."""
    from unerased.web.views import all_views

    token = _token(web)
    headers = {"Authorization": f"Bearer {token}"}
    search = next(v for v in all_views() if v.name == "search")
    real = search.data  # the app's routes call the registered View's data

    def broken(r: Any) -> Any:
        if r.params.get("q"):
            raise RuntimeError("a bug")
        return real(r)

    object.__setattr__(search, "data", broken)
    try:
        schema = schemathesis.openapi.from_asgi("/api/openapi.json", web.app,
                                                headers=headers).include(path="/api/search")
        failures = _fuzz(schema, GenerationMode.POSITIVE, headers, {})
    finally:
        object.__setattr__(search, "data", real)
    # (schemathesis's ASGI client re-raises the app's exception; a server answers 500)
    assert len(failures) == 1 and ("500" in failures[0] or "a bug" in failures[0]), failures
