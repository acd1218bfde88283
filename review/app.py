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
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from starlette.middleware.sessions import SessionMiddleware

from agents.routing import RoutingPolicy
from infra.settings import SECRET_HELP, Settings, check_secret_key
from review import admin, api, api_scopes, deadletter_pages, docs, ingest_api, pages
from review.context import ReviewContext, utcnow
from review.deps import csrf_token, get_templates, url_part
from review.errors import Invalid, InvalidValue, NotAuthenticated, RefusedEvent, ReviewError, Throttled
from review.http_errors import install_openapi, problems_of, summary, validation_error
from review.http_guard import RequestGuard
from review.inbound import Inbound
from review.login import LoginPolicy
from review.pdf_pages import PageRenderer, RenderLimits
from review.publish import Publisher
from review.scopes import ScopePolicy
from review.second import DoubleReviewPolicy
from schemas.messages import Topics
from schemas.reasons import reason_label

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
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Throttled) else None
        body = {"detail": str(exc), "error": type(exc).__name__}
        if isinstance(exc, InvalidValue):
            body |= {"field": exc.field, "reason": exc.reason}
        if isinstance(exc, RefusedEvent):  # the dead-letter path's words for the same refusal
            body |= {"error_type": exc.error_type, "reason": exc.reason}
        return JSONResponse(body, status_code=exc.status_code, headers=headers)
    if isinstance(exc, NotAuthenticated):
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)
    name = "_error.html" if request.headers.get("hx-request") else "error.html"
    return get_templates(request).TemplateResponse(
        request, name, {"error": exc, "kind": type(exc).__name__}, status_code=exc.status_code
    )


async def _invalid_request(request: Request, exc: Exception) -> Response:
    """Malformed input: a trimmed `ApiError` for /api, the error page for pages."""
    assert isinstance(exc, RequestValidationError)
    if _wants_json(request):
        return validation_error(exc)
    return await _review_error(request, Invalid(summary(problems_of(exc))))


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


def _session_key(settings: Settings, *, ephemeral: bool) -> str:
    secret = settings.review.secret_key
    if secret is not None:
        check_secret_key(secret.get_secret_value())  # also when set after construction
        return secret.get_secret_value()
    if not ephemeral:
        raise ValueError(
            "review.secret_key is required (AUTOCLERK_REVIEW__SECRET_KEY, the same value for every "
            f"review process); {SECRET_HELP}"
        )
    # Sessions then last as long as this process; say so without printing the key.
    log.warning(
        "review.secret_key not set: the demo signs sessions with a random key of this process; "
        "logins end on restart and other processes cannot read them. Set AUTOCLERK_REVIEW__SECRET_KEY "
        "to serve for real"
    )
    return secrets.token_urlsafe(48)


def create_app(
    *,
    settings: Settings,
    engine: AsyncEngine,
    publisher: Publisher,
    lease_s: float = 900.0,
    clock: Callable[[], datetime] = utcnow,
    routing: RoutingPolicy | None = None,
    ephemeral_secret: bool = False,
    inbound: Inbound | None = None,
) -> FastAPI:
    """`routing`: the workers' routing policy (fitted thresholds), whose per-field
    thresholds flag low confidence; without one, the configured default threshold.
    `ephemeral_secret`: only the embedded demo (`autoclerk run`) may start without
    review.secret_key, on a random key of its own. `inbound`: the worker's checks that
    HTTP ingest and dead-letter retries run before publishing (from settings by default)."""
    key = _session_key(settings, ephemeral=ephemeral_secret)

    if routing is None:
        routing = RoutingPolicy(default_threshold=settings.routing.min_field_confidence)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await publisher.start()
        try:
            yield
        finally:
            await publisher.stop()
            app.state.login.hashing.close()

    app = FastAPI(
        title="autoclerk review",
        lifespan=lifespan,
        docs_url=None,  # served from local files by review/docs.py: the CSP blocks FastAPI's CDN page
        openapi_url=docs.OPENAPI_URL,
        redoc_url=None,
    )
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals["csrf_token"] = csrf_token
    templates.env.filters["urlpart"] = url_part
    templates.env.filters["reason_label"] = reason_label
    app.state.templates = templates
    app.state.login = LoginPolicy.from_settings(settings.review)
    app.state.inbound = inbound or Inbound.from_settings(settings)
    app.state.review = ReviewContext(
        sessions=async_sessionmaker(engine, expire_on_commit=False),
        publisher=publisher,
        topic=Topics.with_prefix(settings.kafka.topic_prefix).review_completed,
        low_confidence=routing,
        lease_s=lease_s,
        clock=clock,
        policy=DoubleReviewPolicy.from_settings(settings.review),
        scopes=ScopePolicy(reviewers_see_all=settings.review.reviewers_see_all),
        write_lock=asyncio.Lock() if engine.dialect.name == "sqlite" else None,
        pages=PageRenderer(
            limits=RenderLimits(
                max_pages=settings.limits.max_pdf_pages, max_pixels=settings.review.max_page_pixels
            ),
            concurrency=settings.review.render_concurrency,
        ),
    )
    # Inside the session middleware (it authenticates API writes before reading them).
    app.add_middleware(RequestGuard, max_body_bytes=settings.review.max_body_bytes)
    app.add_middleware(
        SessionMiddleware,
        secret_key=key,
        session_cookie="autoclerk_review",
        max_age=int(settings.review.session_hours * 3600),
        same_site="strict",
        https_only=settings.review.cookies_secure,
    )
    app.middleware("http")(_security_headers)
    app.add_exception_handler(ReviewError, _review_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(api.router)
    app.include_router(api_scopes.router)
    app.include_router(admin.router)
    app.include_router(deadletter_pages.router)
    app.include_router(ingest_api.router)
    app.include_router(docs.router)
    app.include_router(pages.router)
    install_openapi(app)
    return app
