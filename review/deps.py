"""FastAPI dependencies of the review routes, as typed `Annotated` aliases.

Routes (review/api.py, review/pages.py) declare what they need here (`Ctx`,
`ReadSession`, `CurrentActor`, `Seen`, `Now`, `Templates`, `Login`) and never import review/app.py,
which only assembles the app and stores the `ReviewContext` and templates on its state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession

from review.auth import Principal, csrf_matches, new_csrf_token, token_principal
from review.context import ReviewContext
from review.errors import Forbidden, NotAuthenticated
from review.inbound import Inbound
from review.login import LoginPolicy, session_actor
from review.scopes import Visibility

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_context(request: Request) -> ReviewContext:
    return request.app.state.review  # type: ignore[no-any-return]


def get_templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates  # type: ignore[no-any-return]


def get_inbound(request: Request) -> Inbound:
    return request.app.state.inbound  # type: ignore[no-any-return]


def get_login_policy(request: Request) -> LoginPolicy:
    return request.app.state.login  # type: ignore[no-any-return]


Ctx = Annotated[ReviewContext, Depends(get_context)]
Templates = Annotated[Jinja2Templates, Depends(get_templates)]
Login = Annotated[LoginPolicy, Depends(get_login_policy)]
InboundChecks = Annotated[Inbound, Depends(get_inbound)]


async def read_session(ctx: Ctx) -> AsyncIterator[AsyncSession]:
    """A session for reading, closed when the route returns (before the response)."""
    async with ctx.session() as s:
        yield s


def now(ctx: Ctx) -> datetime:
    """The app's clock, read once per request."""
    return ctx.clock()


ReadSession = Annotated[AsyncSession, Depends(read_session, scope="function")]
Now = Annotated[datetime, Depends(now)]


def url_part(value: object) -> str:
    """One URL path segment: every character outside A-Z a-z 0-9 _ . - ~ percent-encoded,
    '/' included, so an id such as `spoof/../other` stays one segment and never
    resolves to another document's URL. Templates have it as the `urlpart` filter."""
    return quote(str(value), safe="")


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use; templates call it for their forms."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = new_csrf_token()
    return str(token)


async def current_actor(request: Request, ctx: Ctx) -> Principal:
    """The caller of a review route: a session or a review-scope token (an ingest token
    reviews nothing, whatever its user's role)."""
    found = await _caller(request, ctx)
    if found.scope != "review":
        raise Forbidden("this token may only send documents (POST /api/documents)")
    return found


async def ingest_actor(request: Request, ctx: Ctx) -> Principal:
    """The caller of POST /api/documents: only a token of scope ingest (no session, no
    review token: a reviewer's credential cannot inject documents)."""
    found = await _caller(request, ctx)
    if found.scope != "ingest":
        raise Forbidden("needs an API token of scope ingest (autoclerk users create-token --scope ingest)")
    return found


async def _caller(request: Request, ctx: Ctx) -> Principal:
    """The caller, from a Bearer token or the session cookie's server-side session;
    CSRF-checked for cookie writes."""
    auth = request.headers.get("authorization", "")
    found: Principal | None = None
    if auth.lower().startswith("bearer "):
        async with ctx.session() as s:
            found = await token_principal(s, token=auth[7:].strip(), now=ctx.clock())
    elif request.session.get("sid"):
        found = await session_actor(ctx=ctx, session_id=str(request.session["sid"]), now=ctx.clock())
    if found is None:
        raise NotAuthenticated("log in, or send an API token as 'Authorization: Bearer ...'")
    if request.method not in SAFE_METHODS and found.via == "session":
        given = request.headers.get("x-csrf-token")
        if given is None and "form" in request.headers.get("content-type", ""):
            given = str((await request.form()).get("csrf_token") or "") or None
        if not csrf_matches(request.session.get("csrf"), given):
            raise Forbidden("CSRF token missing or wrong; reload the page")
    return found


CurrentActor = Annotated[Principal, Depends(current_actor)]
IngestActor = Annotated[Principal, Depends(ingest_actor)]


def visibility(actor: CurrentActor, ctx: Ctx) -> Visibility:
    """What the caller may see (review/scopes.py); every read hands it to its query."""
    return ctx.scopes.visibility(actor)


Seen = Annotated[Visibility, Depends(visibility)]
