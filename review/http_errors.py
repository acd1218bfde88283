"""The one error shape of /api, for refusals of every kind, and its OpenAPI description.

Every error the API answers is an `ApiError`: `error` names the kind (a class of
review/errors.py, `RequestValidationError`, `BodyTooLarge`, ...), `detail` says what
went wrong in one line, and a 422 for malformed input lists `errors` per location.
Inputs are echoed only as a short preview (`PREVIEW_CHARS`): a 1 MB body that fails
validation must not come back as a 1 MB answer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

PREVIEW_CHARS = 64
MAX_PROBLEMS = 20


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(description="where: body, query, path or header, then the field")
    msg: str
    type: str
    input: str | None = Field(
        default=None, description=f"the value given, as JSON cut to {PREVIEW_CHARS} characters"
    )


class ApiError(BaseModel):
    """What every 4xx and 5xx of /api answers."""

    error: str = Field(description="the kind of error, e.g. NotFound, NotLeased, RequestValidationError")
    detail: str = Field(description="what went wrong, in one line")
    errors: list[FieldProblem] | None = Field(default=None, description="per input location, on a 422")


def error_response(
    status: int, *, error: str, detail: str, problems: Sequence[FieldProblem] | None = None
) -> JSONResponse:
    body = ApiError(error=error, detail=detail, errors=list(problems) if problems is not None else None)
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=status)


def preview(value: Any) -> str:
    """A short, JSON-ish rendering of an input, cut with its full length noted."""
    try:
        text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):  # circular or exotic: its type is enough
        text = f"<{type(value).__name__}>"
    text = text.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate must not break the answer
    if len(text) <= PREVIEW_CHARS:
        return text
    return f"{text[:PREVIEW_CHARS]}… ({len(text)} characters)"


def problems_of(exc: RequestValidationError) -> list[FieldProblem]:
    out = []
    for e in list(exc.errors())[:MAX_PROBLEMS]:
        given = e.get("input")
        out.append(
            FieldProblem(
                loc=[p if isinstance(p, int) else preview(p) for p in e.get("loc", ())],
                msg=preview(str(e.get("msg", ""))),
                type=str(e.get("type", "")),
                input=None if given is None else preview(given),
            )
        )
    return out


def summary(problems: Sequence[FieldProblem]) -> str:
    first = problems[0] if problems else None
    if first is None:
        return "invalid request"
    where = ".".join(str(p) for p in first.loc)
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {first.msg}{more}"


def validation_error(exc: RequestValidationError) -> JSONResponse:
    problems = problems_of(exc)
    return error_response(422, error="RequestValidationError", detail=summary(problems), problems=problems)


_DESCRIPTIONS = {
    "401": "not authenticated: no session, a bad cookie or an unknown token",
    "403": "the role does not allow it, or the CSRF token is missing or wrong",
    "404": "no such task, document or user",
    "409": "conflicts with the task's state: not leased by you, already submitted or completed",
    "413": "the request body is larger than review.max_body_bytes",
    "422": "malformed input (`errors` per location) or a request the domain refuses",
}
_REF = {"$ref": "#/components/schemas/ApiError"}


def _applies(status: str, method: str, path: str) -> bool:
    writes = method in {"post", "put", "patch", "delete"}
    if status == "404":
        return "{" in path
    if status == "409":
        return writes and path.startswith("/api/tasks")
    if status == "413":
        return writes
    return True


def install_openapi(app: FastAPI) -> None:
    """OpenAPI whose /api operations declare the errors they can answer, all as
    `ApiError`: 401, 403 and 422 everywhere, 404 where a path names a resource,
    409 on task writes, 413 on writes. Descriptions a route gives are kept."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            error = ApiError.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(error.pop("$defs", {}))
            schemas["ApiError"] = error
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
            for path, operations in schema.get("paths", {}).items():
                for method, op in operations.items():
                    _declare_errors(op, method=method, path=path)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _declare_errors(op: dict[str, Any], *, method: str, path: str) -> None:
    responses = op.setdefault("responses", {})
    for status, description in _DESCRIPTIONS.items():
        if not _applies(status, method, path) and status not in responses:
            continue
        given = responses.get(status, {})
        responses[status] = {
            "description": given.get("description", description),
            "content": {"application/json": {"schema": _REF}},
        }


async def request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_error(exc)
