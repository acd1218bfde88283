"""Accounts page (/admin) and its JSON twin (/api/admin/...): users, live sessions and
API tokens, with revoke, disable and enable.

Leads see everything here and may revoke sessions and tokens (answering an incident
should not wait for an admin); only admins disable or enable users. Forms carry the
CSRF token like every other form; the API takes a Bearer token or the cookie with
X-CSRF-Token. The work is review/accounts.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from review import accounts
from review.auth import Principal
from review.context import ReviewContext
from review.deps import Ctx, CurrentActor, Now, ReadSession, Templates

router = APIRouter()
# Bounded: a larger number overflows the database's integer and would answer 500.
TokenId = Annotated[int, Path(ge=1, le=2**31 - 1)]
api = "/api/admin"
# What the page may say after an action: fixed texts, so a crafted link cannot put
# words on it.
NOTES = {
    "session-revoked": "session revoked",
    "token-revoked": "token revoked",
    "user-disabled": "user disabled",
    "user-enabled": "user enabled",
}


async def _revoke_session(actor: Principal, ctx: ReviewContext, now: datetime, key: str) -> None:
    actor.require("lead")
    async with ctx.session(write=True) as s:
        await accounts.revoke_session_key(s, key=key, now=now)


async def _revoke_token(actor: Principal, ctx: ReviewContext, now: datetime, token_id: int) -> None:
    actor.require("lead")
    async with ctx.session(write=True) as s:
        await accounts.revoke_token(s, token_id=token_id, now=now)


async def _set_active(
    actor: Principal, ctx: ReviewContext, now: datetime, username: str, active: bool
) -> None:
    actor.require("admin")
    async with ctx.session(write=True) as s:
        await accounts.set_active(s, username=username, active=active, now=now)


@router.get("/admin", include_in_schema=False)
async def admin_page(
    request: Request, actor: CurrentActor, templates: Templates, s: ReadSession, now: Now, note: str = ""
) -> HTMLResponse:
    actor.require("lead")
    context: dict[str, Any] = {
        "actor": actor,
        "users": await accounts.list_users(s, now=now),
        "sessions": await accounts.list_sessions(s, now=now),
        "tokens": await accounts.list_tokens(s, now=now),
        "note": NOTES.get(note, ""),
    }
    return templates.TemplateResponse(request, "admin.html", context)


def _back(note: str) -> Response:
    return RedirectResponse(f"/admin?note={note}", status_code=303)


@router.post("/admin/sessions/{key}/revoke", include_in_schema=False)
async def revoke_session_form(actor: CurrentActor, ctx: Ctx, now: Now, key: str) -> Response:
    await _revoke_session(actor, ctx, now, key)
    return _back("session-revoked")


@router.post("/admin/tokens/{token_id}/revoke", include_in_schema=False)
async def revoke_token_form(actor: CurrentActor, ctx: Ctx, now: Now, token_id: TokenId) -> Response:
    await _revoke_token(actor, ctx, now, token_id)
    return _back("token-revoked")


@router.post("/admin/users/{username}/disable", include_in_schema=False)
async def disable_form(actor: CurrentActor, ctx: Ctx, now: Now, username: str) -> Response:
    await _set_active(actor, ctx, now, username, False)
    return _back("user-disabled")


@router.post("/admin/users/{username}/enable", include_in_schema=False)
async def enable_form(actor: CurrentActor, ctx: Ctx, now: Now, username: str) -> Response:
    await _set_active(actor, ctx, now, username, True)
    return _back("user-enabled")


@router.get(f"{api}/users", response_model=list[accounts.UserView], tags=["admin"])
async def users(actor: CurrentActor, s: ReadSession, now: Now) -> Any:
    actor.require("lead")
    return await accounts.list_users(s, now=now)


@router.get(f"{api}/sessions", response_model=list[accounts.SessionView], tags=["admin"])
async def sessions(actor: CurrentActor, s: ReadSession, now: Now, username: str | None = None) -> Any:
    """Live browser sessions, most recently seen first."""
    actor.require("lead")
    return await accounts.list_sessions(s, now=now, username=username)


@router.get(f"{api}/tokens", response_model=list[accounts.TokenView], tags=["admin"])
async def tokens(actor: CurrentActor, s: ReadSession, now: Now, username: str | None = None) -> Any:
    actor.require("lead")
    return await accounts.list_tokens(s, now=now, username=username)


@router.post(f"{api}/sessions/{{key}}/revoke", status_code=204, tags=["admin"])
async def revoke_session(actor: CurrentActor, ctx: Ctx, now: Now, key: str) -> None:
    await _revoke_session(actor, ctx, now, key)


@router.post(f"{api}/tokens/{{token_id}}/revoke", status_code=204, tags=["admin"])
async def revoke_token(actor: CurrentActor, ctx: Ctx, now: Now, token_id: TokenId) -> None:
    await _revoke_token(actor, ctx, now, token_id)


@router.post(f"{api}/users/{{username}}/disable", status_code=204, tags=["admin"])
async def disable(actor: CurrentActor, ctx: Ctx, now: Now, username: str) -> None:
    """Disable a user and revoke all their sessions and tokens (admin)."""
    await _set_active(actor, ctx, now, username, False)


@router.post(f"{api}/users/{{username}}/enable", status_code=204, tags=["admin"])
async def enable(actor: CurrentActor, ctx: Ctx, now: Now, username: str) -> None:
    await _set_active(actor, ctx, now, username, True)
