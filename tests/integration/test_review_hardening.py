"""Hostile requests to the review service (issue 11, item 7, its non-auth parts): bodies
over the limit refused unread, API writes authenticated before their body is read,
422s that echo only a preview, non-finite, huge and non-Unicode inputs refused as 422
(never a 500), notes by code, and an OpenAPI that declares the errors as answered."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from review.auth import create_token
from review.http_errors import PREVIEW_CHARS, ApiError
from tests.review_support import client, login, make_settings, review_app, seed_tasks

LIMIT = 64 * 1024


@pytest.fixture
async def app_and_token(db: tuple[str, str | None]) -> AsyncIterator[tuple[FastAPI, str, str]]:
    url, schema = db
    [task_id] = seed_tasks(url, schema, n=1)
    settings = make_settings("hard").model_copy(deep=True)
    settings.review.max_body_bytes = LIMIT
    async with review_app(url, schema, settings=settings) as (app, engine):
        yield app, await _token(engine, "root"), task_id


async def _token(engine: AsyncEngine, username: str) -> str:
    async with async_sessionmaker(engine)() as s:
        return await create_token(s, username=username, name="t")


class Asgi:
    """One raw ASGI request: records how much of the body the app pulled."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.pulled = 0
        self.sent: list[MutableMapping[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if not self.chunks:
            return {"type": "http.disconnect"}
        chunk = self.chunks.pop(0)
        self.pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        self.sent.append(message)

    async def run(self, app: FastAPI, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 1234),
            "server": ("testserver", 80),
        }
        await app(scope, self.receive, self.send)
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")
        return start["status"], json.loads(body) if body else None


def _api_error(body: Any) -> ApiError:
    return ApiError.model_validate(body)


async def test_a_declared_oversized_body_is_refused_unread(app_and_token: tuple[FastAPI, str, str]) -> None:
    app, token, task_id = app_and_token
    asgi = Asgi([b"x" * 1024] * 100)
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    status, body = await asgi.run(
        app, "POST", f"/api/tasks/{task_id}/escalate", {**headers, "content-length": str(100 * 1024)}
    )
    assert status == 413 and asgi.pulled == 0
    assert _api_error(body).error == "BodyTooLarge"


async def test_a_streamed_oversized_body_is_cut_off_at_the_limit(
    app_and_token: tuple[FastAPI, str, str],
) -> None:
    app, token, task_id = app_and_token
    asgi = Asgi([b"x" * 1024] * 1000)  # 1 MB, chunked: no content-length
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    status, body = await asgi.run(app, "POST", f"/api/tasks/{task_id}/escalate", headers)
    assert status == 413 and LIMIT < asgi.pulled <= LIMIT + 1024
    assert _api_error(body).detail == f"request body over {LIMIT} bytes"


@pytest.mark.parametrize(
    "credentials", [{}, {"authorization": "Bearer nope"}, {"cookie": "autoclerk_review=x"}]
)
async def test_api_writes_are_authenticated_before_their_body_is_read(
    app_and_token: tuple[FastAPI, str, str], credentials: dict[str, str]
) -> None:
    app, _, task_id = app_and_token
    asgi = Asgi([b'{"reason": "', b"x" * 1000, b'"}'])
    headers = {"content-type": "application/json", **credentials}
    status, body = await asgi.run(app, "POST", f"/api/tasks/{task_id}/escalate", headers)
    assert status == 401 and asgi.pulled == 0
    assert _api_error(body).error == "NotAuthenticated"


async def test_a_session_write_without_csrf_is_refused_before_its_body_is_read(
    app_and_token: tuple[FastAPI, str, str],
) -> None:
    app, _, task_id = app_and_token
    async with client(app) as c:
        await login(c, "ana")
        r = await c.post(f"/api/tasks/{task_id}/escalate", json={"reason": "x" * 10_000})
    assert r.status_code == 403 and _api_error(r.json()).error == "Forbidden"


async def test_a_422_echoes_only_a_preview_of_the_input(app_and_token: tuple[FastAPI, str, str]) -> None:
    app, token, task_id = app_and_token
    bearer = {"Authorization": f"Bearer {token}"}
    async with client(app) as c:
        await c.post(f"/api/tasks/{task_id}/claim", headers=bearer)
        r = await c.post(f"/api/tasks/{task_id}/escalate", headers=bearer, json={"reason": "y" * 50_000})
        nested = await c.post("/api/tasks/bulk-approve", headers=bearer, json={"task_ids": "z" * 40_000})
    assert r.status_code == 422 and len(r.content) < 1000
    err = _api_error(r.json())
    assert err.error == "RequestValidationError" and err.errors
    assert err.errors[0].loc == ["body", "reason"] and err.errors[0].input is not None
    assert err.errors[0].input.endswith("… (50000 characters)")
    assert len(err.errors[0].input) < PREVIEW_CHARS + 30
    assert err.detail.startswith("body.reason: String should have at most 2000 characters")
    assert nested.status_code == 422 and len(nested.content) < 1000


HOSTILE_QUERIES = [
    "min_age_hours=inf",
    "min_age_hours=-inf",
    "min_age_hours=nan",
    "min_age_hours=1e309",
    "min_priority=1e3",
    "offset=100000000000000000000",
    "offset=9223372036854775808",
    "offset=-1",
    "limit=99999999999999999999",
    "kind=%00",
    "assignee=a%00b",
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
async def test_hostile_queries_are_422_not_500(app_and_token: tuple[FastAPI, str, str], query: str) -> None:
    app, token, _ = app_and_token
    async with client(app) as c:
        r = await c.get(f"/api/tasks?{query}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422, (query, r.status_code, r.text[:200])
    _api_error(r.json())


HOSTILE_BODIES = [
    b'{"reason": "\\ud800"}',  # a lone high surrogate, escaped
    b'{"reason": "ok \\udfff"}',  # a lone low surrogate
    b'{"reason": "\xed\xa0\x80"}',  # the raw bytes of one (json decodes them with surrogatepass)
    b'{"\\ud800": "key"}',
    b'{"reason": "a\\u0000b"}',
]


@pytest.mark.parametrize("body", HOSTILE_BODIES)
async def test_bodies_that_are_not_valid_unicode_are_422_not_500(
    app_and_token: tuple[FastAPI, str, str], body: bytes
) -> None:
    app, token, task_id = app_and_token
    headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
    async with client(app) as c:
        await c.post(f"/api/tasks/{task_id}/claim", headers=headers)
        r = await c.post(f"/api/tasks/{task_id}/escalate", headers=headers, content=body)
        paired = await c.post(
            f"/api/tasks/{task_id}/escalate", headers=headers, content=b'{"reason": "\\ud83d\\ude00 ok"}'
        )
    assert r.status_code == 422 and _api_error(r.json()).error == "Invalid", r.text
    assert paired.status_code == 204  # a surrogate pair is a real character (U+1F600)


async def test_nul_in_a_path_or_a_form_is_422(app_and_token: tuple[FastAPI, str, str]) -> None:
    app, token, task_id = app_and_token
    async with client(app) as c:
        path = await c.get("/api/tasks/a%00b", headers={"Authorization": f"Bearer {token}"})
        csrf = await login(c, "ana")
        form = await c.post(
            f"/tasks/{task_id}/escalate", content=b"reason=a%00b&csrf_token=" + csrf.encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
    assert path.status_code == 422 and form.status_code == 422


async def test_the_queue_page_shows_notes_by_code_only(app_and_token: tuple[FastAPI, str, str]) -> None:
    app, _, _ = app_and_token
    async with client(app) as c:
        await login(c, "ana")
        known = await c.get("/queue?note=queue-empty")
        forged = await c.get("/queue?note=Your+account+is+locked%2C+call+555-0100")
        long = await c.get("/queue?note=" + "x" * 500)
    assert "The queue is empty: no task is waiting for you." in known.text
    assert forged.status_code == 200 and "account is locked" not in forged.text
    assert 'class="note"' not in forged.text
    assert long.status_code == 200 and "x" * 100 not in long.text


async def test_an_empty_queue_redirects_with_the_note_code(db: tuple[str, str | None]) -> None:
    url, schema = db
    async with review_app(url, schema) as (app, _), client(app) as c:
        csrf = await login(c, "ana")
        r = await c.post("/next", headers={"x-csrf-token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/queue?note=queue-empty"


async def test_openapi_declares_every_error_as_the_api_answers_it(
    app_and_token: tuple[FastAPI, str, str],
) -> None:
    app, token, task_id = app_and_token
    async with client(app) as c:
        spec = (await c.get("/api/openapi.json")).json()
        bearer = {"Authorization": f"Bearer {token}"}
        answers = {
            401: await c.get("/api/tasks"),
            404: await c.get("/api/tasks/nope", headers={"Authorization": f"Bearer {token}"}),
            409: await c.post(f"/api/tasks/{task_id}/complete", headers=bearer, json={"outcome": "approve"}),
            422: await c.get("/api/tasks?offset=-1", headers={"Authorization": f"Bearer {token}"}),
        }
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and {"ApiError", "FieldProblem"} <= set(schemas)
    ref = {"$ref": "#/components/schemas/ApiError"}
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            expected = {"401", "403", "422"}
            expected |= {"404"} if "{" in path else set()
            expected |= {"413"} if method == "post" else set()
            expected |= {"409"} if method == "post" and path.startswith("/api/tasks") else set()
            declared = {
                s
                for s, r in op["responses"].items()
                if r.get("content", {}).get("application/json", {}).get("schema") == ref
            }
            assert expected <= declared, (method, path, expected - declared)  # fmt: skip
    assert (
        "reconciling"
        in spec["paths"]["/api/tasks/{task_id}/complete"]["post"]["responses"]["403"]["description"]
    )
    for status, r in answers.items():
        assert r.status_code == status, (status, r.text)
        _api_error(r.json())


async def test_the_api_docs_come_from_local_files_under_the_strict_csp(
    app_and_token: tuple[FastAPI, str, str],
) -> None:
    app, _, _ = app_and_token
    async with client(app) as c:
        page = await c.get("/api/docs")
        names = ("swagger/swagger-ui-bundle.js", "swagger/swagger-ui.css", "api-docs.js")
        assets = [await c.get(f"/static/{name}") for name in names]
        licence = await c.get("/static/swagger/LICENSE")
    assert (
        page.status_code == 200 and "<script>" not in page.text and "http" not in page.text.split("<body>")[0]
    )
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "cdn" not in csp
    assert all(a.status_code == 200 for a in assets) and "Apache License" in licence.text
