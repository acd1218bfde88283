"""The review web app: `create_app(...)` wires pages, the JSON API and security.

Nothing is built at import time; the composition root (autoclerk/review_cli.py) or a
test passes settings, an async engine and a publisher.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.middleware.sessions import SessionMiddleware

from agents.routing import RoutingPolicy
from infra.settings import Settings
from review.auth import Principal, csrf_matches, new_csrf_token, session_principal, token_principal
from review.errors import Forbidden, NotAuthenticated, ReviewError
from review.publish import Publisher
from review.second import DoubleReviewPolicy
from review.tasks import Completion, LowConfidence, Submitted, submit
from schemas.messages import Topics

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ReviewContext:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    publisher: Publisher
    topics: Topics
    lease_s: float
    low_confidence: LowConfidence
    templates: Jinja2Templates
    clock: Callable[[], datetime] = _utcnow
    policy: DoubleReviewPolicy = field(default_factory=DoubleReviewPolicy)
    # SQLite allows one writer; in-process serialisation turns its "database is locked"
    # under concurrent requests into a short wait. PostgreSQL needs none.
    write_lock: asyncio.Lock | None = field(default=None)

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        if self.write_lock is None:
            yield
        else:
            async with self.write_lock:
                yield

    @asynccontextmanager
    async def session(self, *, write: bool = False) -> AsyncIterator[AsyncSession]:
        if write:
            async with self.writing(), self.sessions() as s:
                yield s
        else:
            async with self.sessions() as s:
                yield s


async def submit_completion(
    request: Request, *, actor: Principal, task_id: str, completion: Completion
) -> Submitted:
    """The one place both the JSON API and the HTML form hand a reviewer's answer on."""
    c = ctx(request)
    async with c.session(write=True) as s:
        return await submit(
            s,
            task_id=task_id,
            actor=actor,
            completion=completion,
            publisher=c.publisher,
            topic=c.topics.review_completed,
            now=c.clock(),
            low_confidence=c.low_confidence,
            policy=c.policy,
        )


def ctx(request: Request) -> ReviewContext:
    return request.app.state.review  # type: ignore[no-any-return]


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = new_csrf_token()
    return str(token)


async def principal(request: Request) -> Principal:
    """The caller, from a Bearer token or the session cookie; CSRF-checked for cookie writes."""
    c = ctx(request)
    auth = request.headers.get("authorization", "")
    found: Principal | None = None
    async with c.session() as s:
        if auth.lower().startswith("bearer "):
            found = await token_principal(s, token=auth[7:].strip())
        elif request.session.get("u"):
            found = await session_principal(s, username=str(request.session["u"]))
    if found is None:
        raise NotAuthenticated("log in, or send an API token as 'Authorization: Bearer ...'")
    if request.method not in SAFE_METHODS and found.via == "session":
        given = request.headers.get("x-csrf-token")
        if given is None and "form" in request.headers.get("content-type", ""):
            given = str((await request.form()).get("csrf_token") or "") or None
        if not csrf_matches(request.session.get("csrf"), given):
            raise Forbidden("CSRF token missing or wrong; reload the page")
    return found


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def _review_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ReviewError)
    if _wants_json(request):
        return JSONResponse({"detail": str(exc), "error": type(exc).__name__}, status_code=exc.status_code)
    if isinstance(exc, NotAuthenticated):
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)
    name = "_error.html" if request.headers.get("hx-request") else "error.html"
    return ctx(request).templates.TemplateResponse(
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
    clock: Callable[[], datetime] = _utcnow,
    routing: RoutingPolicy | None = None,
) -> FastAPI:
    """`routing`: the workers' routing policy (fitted thresholds), whose per-field
    thresholds flag low confidence; without one, the configured default threshold."""
    from review import api, pages  # routes import this module's dependencies

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
    app.state.review = ReviewContext(
        settings=settings,
        sessions=async_sessionmaker(engine, expire_on_commit=False),
        publisher=publisher,
        topics=Topics.with_prefix(settings.kafka.topic_prefix),
        lease_s=lease_s,
        low_confidence=routing,
        templates=templates,
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
