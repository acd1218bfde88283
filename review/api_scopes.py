"""JSON API for queue scopes (review/scopes.py): leads and admins give reviewers theirs.

GET    /api/scopes                          every scope (lead)
GET    /api/users/{username}/scopes         one user's scopes (lead, or that user)
POST   /api/users/{username}/scopes         add one (lead); 422 for a bad condition
DELETE /api/users/{username}/scopes/{id}    remove one (lead); 404 if not that user's
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from review.deps import Ctx, CurrentActor, ReadSession
from review.scope_admin import ScopeIn, ScopeOut, add_scope, list_scopes, remove_scope

router = APIRouter(prefix="/api", tags=["scopes"])


@router.get("/scopes", response_model=list[ScopeOut])
async def all_scopes(actor: CurrentActor, s: ReadSession) -> Any:
    actor.require("lead")
    return await list_scopes(s, actor=actor)


@router.get("/users/{username}/scopes", response_model=list[ScopeOut])
async def user_scopes(actor: CurrentActor, s: ReadSession, username: str) -> Any:
    return await list_scopes(s, actor=actor, username=username)


@router.post("/users/{username}/scopes", response_model=ScopeOut, status_code=201)
async def add(actor: CurrentActor, ctx: Ctx, username: str, body: ScopeIn) -> Any:
    async with ctx.session(write=True) as s:
        return await add_scope(s, actor=actor, username=username, scope=body)


@router.delete("/users/{username}/scopes/{scope_id}", status_code=204)
async def remove(
    actor: CurrentActor, ctx: Ctx, username: str, scope_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> None:
    async with ctx.session(write=True) as s:
        await remove_scope(s, actor=actor, scope_id=scope_id, username=username)
