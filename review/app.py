"""The review web app: `create_app(...)` wires pages, the JSON API and security.

This module only assembles: routes get the context, a session, the caller and the
clock through review/deps.py and never import it. Nothing is built at import time;
the composition root (autoclerk/review_cli.py) or a test passes settings, an async
engine and a publisher.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from starlette.middleware.sessions import SessionMiddleware

from agents.routing import RoutingPolicy
from infra.settings import Settings
from review import api, pages
from review.context import ReviewContext, utcnow
from review.deps import csrf_token, get_templates
from review.errors import InvalidValue, NotAuthenticated, ReviewError
from review.publish import Publisher
from review.second import DoubleReviewPolicy
from schemas.messages import Topics

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def _review_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ReviewError)
    if _wants_json(request):
        body = {"detail": str(exc), "error": type(exc).__name__}
        if isinstance(exc, InvalidValue):
            body |= {"field": exc.field, "reason": exc.reason}
        return JSONResponse(body, status_code=exc.status_code)
    if isinstance(exc, NotAuthenticated):
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)
    name = "_error.html" if request.headers.get("hx-request") else "error.html"
    return get_templates(request).TemplateResponse(
        request, name, {"error": exc, "kind": type(exc).__name__}, status_code=exc.status_code
    )


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if not request.url.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def create_app(
    *,
    settings: Settings,
    engine: AsyncEngine,
    publisher: Publisher,
    lease_s: float = 900.0,
    clock: Callable[[], datetime] = utcnow,
    routing: RoutingPolicy | None = None,
) -> FastAPI:
    """`routing`: the workers' routing policy (fitted thresholds), whose per-field
    thresholds flag low confidence; without one, the configured default threshold."""
    secret = settings.review.secret_key
    if secret is None:
        # Sessions then last as long as this process; say so without printing the key.
        log.warning("review.secret_key not set: using a random key; sessions end on restart")
        key = secrets.token_urlsafe(48)
    else:
        key = secret.get_secret_value()

    if routing is None:
        routing = RoutingPolicy(default_threshold=settings.routing.min_field_confidence)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await publisher.start()
        try:
            yield
        finally:
            await publisher.stop()

    app = FastAPI(
        title="autoclerk review",
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals["csrf_token"] = csrf_token
    app.state.templates = templates
    app.state.review = ReviewContext(
        sessions=async_sessionmaker(engine, expire_on_commit=False),
        publisher=publisher,
        topic=Topics.with_prefix(settings.kafka.topic_prefix).review_completed,
        low_confidence=routing,
        lease_s=lease_s,
        clock=clock,
        policy=DoubleReviewPolicy.from_settings(settings.review),
        write_lock=asyncio.Lock() if engine.dialect.name == "sqlite" else None,
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=key,
        session_cookie="autoclerk_review",
        max_age=12 * 3600,
        same_site="strict",
        https_only=False,
    )
    app.middleware("http")(_security_headers)
    app.add_exception_handler(ReviewError, _review_error)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    return app
