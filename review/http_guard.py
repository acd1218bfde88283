"""What a request must pass before any route reads it: size, credentials, text.

`RequestGuard` is plain ASGI middleware, inside the session middleware (so it sees the
session) and outside the routes:

1. URL: a NUL (`%00`) in the path or query is refused (422): PostgreSQL text cannot
   hold it, so it would surface as a 500 from the first query that used it.
2. Size: a body whose `Content-Length` is over `max_body_bytes` is refused (413)
   before a byte is read; one without (chunked) is counted as it streams and refused
   as soon as it passes the limit. Bodies of GET, HEAD and OPTIONS are never read.
3. Credentials: writes to /api are authenticated (`review.deps.current_actor`) before
   the body is read, so an anonymous caller cannot make the service read and parse a
   body; a form-encoded write is authenticated by its route, which needs the form for
   the CSRF field.
4. Text: a JSON body holding a lone surrogate (`\\ud800`, or the raw bytes that decode
   to one) or a NUL is refused (422), as `agents.decode` refuses them in events; a
   form body with `%00` too. Valid Unicode is all the database can store.

Refusals are `ApiError` JSON (review/http_errors.py). The body, once read, is handed
to the app unchanged.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from review.deps import current_actor, get_context, ingest_actor
from review.errors import ReviewError
from review.http_errors import error_response

INGEST_PATH = "/api/documents"
BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})
_NUL_ESCAPE = re.compile(rb"%00")
# Only an escape or raw surrogate bytes (ED A0..BF ..) can yield a lone surrogate or NUL.
_SUSPECT = re.compile(rb"\\u(?:[dD][89a-fA-F]|0000)|\xed[\xa0-\xbf]")


class BodyTooLarge(Exception):
    pass


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = _url_problem(scope)
        if problem is not None:
            await error_response(422, error="Invalid", detail=problem)(scope, receive, send)
            return
        if scope["method"] in BODILESS:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        bearer = (_header(scope, b"authorization") or "").lower().startswith("bearer ")
        if scope["path"].startswith("/api/") and ("form" not in _content_type(scope) or bearer):
            refused = await _authenticate(scope)
            if refused is not None:
                await refused(scope, receive, send)
                return
        try:
            body = await self._read(receive)
        except BodyTooLarge:
            await self._too_large(scope, receive, send)
            return
        problem = _text_problem(_content_type(scope), body)
        if problem is not None:
            await error_response(422, error="Invalid", detail=problem)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"request body over {self.max_body_bytes} bytes"
        response = error_response(413, error="BodyTooLarge", detail=detail)
        response.headers["Connection"] = "close"  # the rest of the body is not read
        await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _content_type(scope: Scope) -> str:
    return (_header(scope, b"content-type") or "").lower()


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None  # the server refuses a malformed length before we see it


def _url_problem(scope: Scope) -> str | None:
    if "\x00" in scope.get("path", ""):
        return "the path contains NUL (U+0000)"
    if _NUL_ESCAPE.search(scope.get("query_string", b"")):
        return "the query contains NUL (U+0000)"
    return None


async def _authenticate(scope: Scope) -> Any:
    """None when the caller is known (the route will know it again), else the refusal."""
    request = Request(scope)  # without receive: nothing here may read the body
    check = ingest_actor if scope["path"] == INGEST_PATH else current_actor
    try:
        await check(request, get_context(request))
    except ReviewError as exc:
        return error_response(exc.status_code, error=type(exc).__name__, detail=str(exc))
    return None


def _text_problem(content_type: str, body: bytes) -> str | None:
    if "json" in content_type and _SUSPECT.search(body):
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return None  # not JSON: the route's validation says so
        return _bad_text(data)
    if "x-www-form-urlencoded" in content_type and _NUL_ESCAPE.search(body):
        return "the form contains NUL (U+0000)"
    return None


def _bad_text(data: Any) -> str | None:
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "the body contains NUL (U+0000)"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                return f"the body is not valid Unicode: an unpaired surrogate at {exc.start} of a string"
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: disconnects, as the server reports them

    return replay
